// mergeReports: runs on one machine kind as one report. A later run's rows replace the same
// cases (the whole table when it covers every case), new cases are appended, the first run's
// yardsticks stay (its rows cite them), and the notes say which rows came from which run.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkReport, mergeReports, SCHEMA, type Figure, type Report, type Row, type Table } from './schema.ts';

const fig = (who: string, median: number): Figure => ({
  who,
  ms: { median, p99: median * 2, runs: 10 },
  rate: { value: 1000 / median, unit: 'GB/s' },
});
const row = (c: string, median: number): Row => ({
  case: c,
  vireo: fig('WGSL', median),
  peer: fig('PyTorch', median / 2),
  ratio: 0.5,
});
const table = (id: string, rows: Row[], notes: string[] = []): Table => ({
  id,
  title: `T ${id}`,
  about: '',
  notes,
  rows,
});
function run(date: string, wallSeconds: number, tables: Table[]): Report {
  return {
    schema: SCHEMA,
    date,
    wallSeconds,
    notes: [`run at ${date}`],
    tables,
    machine: { name: 'nvidia-h200', cpu: 'Xeon', cores: 16, memoryGb: 126, os: 'Linux', gpu: 'H200' },
    adapter: {
      vendor: 'nvidia',
      architecture: '',
      device: '',
      description: '',
      isFallbackAdapter: false,
      backend: 'Dawn',
    },
    versions: { node: 'v20' },
  };
}

describe('mergeReports', () => {
  const first = run('2026-11-27T08:02:00.000Z', 260, [
    table('limits', [row('copy 256 MB', 0.16)]),
    table(
      'topk-scaling',
      [
        row('topk N=1000000', 0.38),
        { case: 'topk N=10000000', vireo: { who: 'WGSL', ms: null, skipped: 'not run' }, peer: null, ratio: null },
      ],
      ['Section time 179 s.'],
    ),
    table('ranking', [row('score 1000', 2.7), row('train 512', 5.6)]),
  ]);
  const rerun = run('2026-11-27T09:59:00.000Z', 120, [
    table('limits', [row('copy 256 MB', 0.17)]),
    table(
      'topk-scaling',
      [row('topk N=10000000', 4.12), row('topk N=30000000', 12)],
      ['Section time 107 s.', 'chunked'],
    ),
  ]);
  const ranking = run('2026-11-27T09:34:00.000Z', 40, [
    table('ranking', [row('score 1000', 3.0), row('score 1000 (vs PyTorch)', 3.0), row('train 512', 6.5)]),
  ]);
  // given newest first: the order of the files must not matter
  const merged = mergeReports([rerun, ranking, first]);

  it('keeps the first run as the header and sums the wall time', () => {
    expect(merged.date).toBe(first.date);
    expect(merged.wallSeconds).toBe(420);
    expect(merged.tables.map((t) => t.id)).toEqual(['limits', 'topk-scaling', 'ranking']);
  });

  it('replaces the rows of re-run cases in place and appends new cases', () => {
    const topk = merged.tables.find((t) => t.id === 'topk-scaling')!;
    expect(topk.rows.map((r) => [r.case, r.vireo.ms?.median ?? null])).toEqual([
      ['topk N=1000000', 0.38],
      ['topk N=10000000', 4.12],
      ['topk N=30000000', 12],
    ]);
    expect(topk.notes).toEqual(['Section time 179 s.', 'chunked']);
  });

  it('takes a later table whole when it covers every case', () => {
    const r = merged.tables.find((t) => t.id === 'ranking')!;
    expect(r.rows.map((x) => [x.case, x.vireo.ms?.median])).toEqual([
      ['score 1000', 3.0],
      ['score 1000 (vs PyTorch)', 3.0],
      ['train 512', 6.5],
    ]);
  });

  it("keeps the first run's yardsticks, which its rows cite, and names the later ones in a note", () => {
    expect(merged.tables[0].rows[0].vireo.ms?.median).toBe(0.16);
    expect(merged.notes).toContain(
      'T limits: a later run on the same machine kind (2026-11-27 09:59 UTC) measured them again (copy 256 ' +
        "MB 5882 GB/s); the rows from that run cite those in their limit column, the table keeps the first run's.",
    );
    expect(merged.notes).toContain(
      'T topk-scaling: topk N=10000000; topk N=30000000 from a later run on ' +
        "the same machine kind (2026-11-27 09:59 UTC), replacing the first run's rows.",
    );
    expect(merged.notes).toContain(
      'T ranking: the whole table is from a later run on the same ' +
        "machine kind (2026-11-27 09:34 UTC), replacing the first run's.",
    );
  });
});

describe('writeReport', () => {
  it("adds a partial run to the day's file instead of erasing its other sections", async () => {
    const { writeReport } = await import('./all.ts');
    const dir = mkdtempSync(join(tmpdir(), 'vireo-bench-write-'));
    try {
      const out = join(dir, '2026-11-27-m.json');
      const full = run('2026-11-27T08:00:00.000Z', 300, [table('ranking', [row('score 1000', 2.7)])]);
      writeReport(out, full, { merge: true }); // nothing there yet: written as is
      const edge = run('2026-11-27T09:00:00.000Z', 60, [table('edge', [row('GET 32', 1.5)])]);
      writeReport(out, edge, { merge: true });
      const back = checkReport(JSON.parse(readFileSync(out, 'utf8')), out);
      expect(back.tables.map((t) => t.id)).toEqual(['ranking', 'edge']); // before: only 'edge' was left
      writeReport(out, edge, { merge: false }); // a full run (or --out) replaces the file
      expect(JSON.parse(readFileSync(out, 'utf8')).tables.map((t: Table) => t.id)).toEqual(['edge']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
