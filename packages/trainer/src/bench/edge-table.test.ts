// bench:edge's JSON as BENCHMARKS.md rows (all.ts edgeTable): each route beside its peer, and the
// one-worker event rows again beside the same stack doing the edge's writes by hand.
import { describe, expect, it } from 'vitest';
import { edgeTable } from './all.ts';

const run = (route: string, connections: number, reqPerS: number, p50: number, workers = 1) => ({
  route,
  workers,
  connections,
  duration_s: 10,
  req_per_s: reqPerS,
  p50_ms: p50,
  p99_ms: p50 * 3,
  server_cpu_ms_per_req: 1000 / reqPerS,
  ...(route.includes('events') ? { events_per_s: reqPerS * 100 } : {}),
});

describe('edgeTable', () => {
  const events = 'POST /v1/events (100 events)';
  const table = edgeTable(
    {
      loopback: [run(events, 32, 300, 90), run(events, 1, 100, 8), run(events, 32, 160, 190, 2)],
      bare_events: [run('POST 100 events (bare)', 32, 1200, 20), run('POST 100 events (bare)', 1, 800, 1)],
      bare_realtime: [run('POST 100 events (by hand)', 32, 150, 200), run('POST 100 events (by hand)', 1, 60, 12)],
      redis: { skipped: 'not in this run' },
    },
    { versions: {} },
  );

  it("gives the one-worker event rows twice: beside the one-table stack, then beside the edge's writes by hand", () => {
    expect(table.rows.map((r) => r.case)).toEqual([
      `${events}, 32 connections`,
      `${events}, 32 connections, beside the edge's writes by hand`,
      `${events}, 1 connection`,
      `${events}, 1 connection, beside the edge's writes by hand`,
      `${events}, 32 connections, 2 workers`,
    ]);
    const [oneTable, byHand] = table.rows;
    expect(oneTable.peer?.who).toBe('bare Hono + better-sqlite3, 100 rows');
    expect(oneTable.extra?.['req/s ÷ peer req/s']).toBe(300 / 1200);
    expect(byHand.peer?.who).toBe("bare Hono + better-sqlite3, the edge's writes row by row");
    expect(byHand.extra?.['req/s ÷ peer req/s']).toBe(2);
    expect(byHand.extra?.['peer server CPU ms / req']).toBeCloseTo(1000 / 150);
    expect(byHand.ratio).toBeCloseTo(200 / 90);
  });

  it('gives the rows of a mixed load no peer, saying why', () => {
    const mixed = edgeTable(
      {
        loopback: [
          run('GET /v1/users/:id/features during POST /v1/events', 16, 1000, 10),
          run(`${events} during GET`, 16, 120, 130),
        ],
        bare: [run('GET one row (bare)', 16, 9000, 2)],
        bare_events: [run('POST 100 events (bare)', 16, 1200, 20)],
        redis: { skipped: 'x' },
      },
      { versions: {} },
    );
    expect(mixed.rows.map((r) => r.peer?.skipped)).toEqual([
      'a mixed load: compare with the rows of each route alone at 32 connections',
      'a mixed load: compare with the rows of each route alone at 32 connections',
    ]);
    expect(mixed.rows[1].extra?.['events/s']).toBe(12_000);
  });

  it('leaves the by-hand rows out of runs without them', () => {
    const old = edgeTable({ loopback: [run(events, 32, 300, 90)], redis: { skipped: 'x' } }, { versions: {} });
    expect(old.rows).toHaveLength(1);
    expect(old.rows[0].peer?.skipped).toBe('x');
  });

  it('says which client drove the GET rows: wrk where the run says so, else autocannon', () => {
    const get = 'GET /v1/users/:id/features';
    const rows = { loopback: [run(get, 32, 9000, 3)], bare: [run('GET one row (bare)', 32, 8000, 3)] };
    const byWrk = edgeTable(
      { ...rows, settings: { get_client: 'wrk 4.1.0 (one thread)' }, redis: { skipped: 'x' } },
      { versions: {} },
    );
    expect(byWrk.about).toContain("its GET rows and their peer's by wrk 4.1.0 (one thread)");
    expect(byWrk.rows[0].extra?.['req/s ÷ peer req/s']).toBe(9000 / 8000);
    const old = edgeTable({ ...rows, redis: { skipped: 'x' } }, { versions: {} });
    expect(old.about).toContain('driven over loopback by autocannon (latency per response');
    expect(old.about).not.toContain('wrk');
  });
});
