// The Node fast lane of GET /v1/users/:id/features (node-lane.ts) answers byte for byte what the Hono
// route answers: two servers over one data folder, one with the lane and one without, get the same
// requests; their raw HTTP answers (Date aside), request logs and counters are compared.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hs256Verifier, type TokenVerifier } from './auth/jwt.ts';
import { EdgeMetrics } from './metrics.ts';
import { tokenBucket } from './middleware/rate-limit.ts';
import type { LogRecord } from './middleware/request-log.ts';
import { startNodeServer, type RunningServer } from './node.ts';
import { ALL_SCOPES, NOW, TEST_SECRET, token } from '../test/helpers.ts';

type Edge = { server: RunningServer; logs: LogRecord[]; metrics: EdgeMetrics; verifications: () => number };

const dataDir = mkdtempSync(join(tmpdir(), 'vireo-edge-lane-'));
let lane: Edge;
let hono: Edge;

async function start(fastLane: boolean): Promise<Edge> {
  const logs: LogRecord[] = [];
  const metrics = new EdgeMetrics();
  const inner = hs256Verifier(TEST_SECRET, { now: () => NOW });
  let verifications = 0;
  // Counts full verifications: the lane never makes one (it serves tokens verified before).
  const verifier: TokenVerifier = {
    verify: (t) => (verifications++, inner.verify(t)),
    cached: (t) => inner.cached!(t),
  };
  const server = await startNodeServer({
    port: 0,
    dataDir,
    env: { VIREO_JWT_SECRET: TEST_SECRET },
    fastLane,
    app: {
      verifier,
      now: () => NOW,
      log: (r) => logs.push(r),
      metrics,
      // Eight requests per subject, then one per 1000 s of a clock that stands still.
      rateLimiter: tokenBucket({ ratePerSecond: 0.001, burst: 8, now: () => NOW }),
    },
  });
  return { server, logs, metrics, verifications: () => verifications };
}

/** The raw HTTP/1.1 answer to one GET on a new connection, without its Date header. */
function rawGet(edge: Edge, path: string, headers: Record<string, string>): Promise<string> {
  return new Promise((ok, fail) => {
    const socket = connect(edge.server.port, '127.0.0.1');
    const lines = [`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    let text = '';
    socket.on('data', (d) => (text += d));
    socket.on('end', () => ok(text.replace(/^Date: .*\r\n/m, '')));
    socket.on('error', fail);
  });
}

beforeAll(async () => {
  lane = await start(true);
  hono = await start(false);
  const service = await token(ALL_SCOPES, { sub: 'seeder' });
  const post = (path: string, body: unknown) =>
    fetch(`${lane.server.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${service}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const pushed = await post('/v1/features/push', {
    rows: [
      { entity: 'user', id: 'u1', features: { age: 31, country: 'FR', tags: ['a', 'b'] }, event_ts: NOW - 5000 },
      { entity: 'item', id: 'i1', features: { category: 'drama' }, event_ts: NOW - 5000 },
      { entity: 'item', id: 'i2', features: { category: 'comedy' }, event_ts: NOW - 5000 },
    ],
  });
  expect(pushed.status).toBe(200);
  const events = [1, 2, 2].map((n, i) => ({ event_id: `e${i}`, user_id: 'u1', item_id: `i${n}`, type: 'click' }));
  const sent = await post('/v1/events', { events: events.map((e, i) => ({ ...e, ts: NOW - 3000 + i })) });
  expect(sent.status).toBe(202);
}, 60_000);

afterAll(async () => {
  await lane?.server.close();
  await hono?.server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the Node fast lane of GET /v1/users/:id/features', () => {
  it('answers, logs and counts what the Hono route does, and leaves every refusal to it', async () => {
    const own = await token('features:read', { sub: 'u1' });
    const other = await token('features:read', { sub: 'u2' });
    const unscoped = await token('events:write', { sub: 'u1' });
    const stranger = await token('features:read', { sub: 'u404' });
    const limited = await token('features:read', { sub: 'u9' });
    const cases: Array<[string, string, string | null]> = [
      ['first use of a token (verified by the route)', '/v1/users/u1/features', own],
      ['success', '/v1/users/u1/features', own],
      ['success again', '/v1/users/u1/features', own],
      ['unknown user', '/v1/users/u404/features', stranger],
      ['unknown user, token known', '/v1/users/u404/features', stranger],
      ['bad token', '/v1/users/u1/features', `${own.slice(0, -4)}AAAA`],
      ['no token', '/v1/users/u1/features', null],
      ["other user's token", '/v1/users/u1/features', other],
      ["other user's token, known", '/v1/users/u1/features', other],
      ['token without features:read', '/v1/users/u1/features', unscoped],
      ['a query string', '/v1/users/u1/features?features=age,country', own],
      ['an id out of the pattern', '/v1/users/-bad/features', own],
      ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n): [string, string, string] => [
        `rate limit ${n}`,
        '/v1/users/u9/features',
        limited,
      ]),
    ];
    for (const [what, path, bearer] of cases) {
      const headers: Record<string, string> = { 'X-Request-Id': `req-${what.replace(/[^a-z0-9]+/gi, '-')}` };
      if (bearer) headers.Authorization = `Bearer ${bearer}`;
      const [a, b] = [await rawGet(lane, path, headers), await rawGet(hono, path, headers)];
      expect(a, what).toBe(b);
    }
    const [success, fromRoute] = await Promise.all(
      [lane, hono].map((e) => rawGet(e, '/v1/users/u1/features', { Authorization: `Bearer ${own}` })),
    );
    // Without X-Request-Id each answers a new UUID.
    const id = /\r\nx-request-id: ([0-9a-f-]{36})\r\n/;
    expect(success.replace(id, '')).toBe(fromRoute.replace(id, ''));
    expect(success).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const body = JSON.parse(success.slice(success.indexOf('\r\n\r\n') + 4));
    expect(body.features.age).toBe(31);
    expect(body.realtime.event_count).toBe(3);
    expect(Object.keys(body.realtime.category_counts).sort()).toEqual(['comedy', 'drama']);
    const limitedAnswers = await Promise.all(
      [lane, hono].map((e) => rawGet(e, '/v1/users/u9/features', { Authorization: `Bearer ${limited}` })),
    );
    for (const a of limitedAnswers) expect(a).toMatch(/^HTTP\/1\.1 429 /);
    // The lane answered the repeated successes itself: fewer full verifications than the route made.
    expect(hono.verifications() - lane.verifications()).toBeGreaterThanOrEqual(4);
    // The same request logs (durations and ids aside) and the same counters.
    const strip = (logs: LogRecord[]) =>
      logs.filter((r) => r.method === 'GET').map(({ duration_ms: _, request_id: __, ...r }) => r);
    expect(strip(lane.logs)).toEqual(strip(hono.logs));
    expect(strip(lane.logs).length).toBe(cases.length + 2);
    const counters = (m: EdgeMetrics) =>
      m
        .render()
        .split('\n')
        .filter((l) =>
          /^vireo_(http_requests_total|feature_lookups|feature_values_total|rate_limited)|_count\{/.test(l),
        )
        .join('\n');
    // The lane's server also answered the seeding: compare everything it counted for GETs.
    const gets = (text: string) =>
      text
        .split('\n')
        .filter((l) => !l.includes('method="POST"'))
        .join('\n');
    expect(gets(counters(lane.metrics))).toBe(gets(counters(hono.metrics)));
  }, 60_000);
});
