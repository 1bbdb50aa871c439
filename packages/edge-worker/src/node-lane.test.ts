// The Node fast lane of GET /v1/users/:id/features (node-lane.ts) answers byte for byte what the Hono
// route answers: two servers over one data folder, one with the lane and one without, get the same
// requests; their raw HTTP answers (Date aside), request logs and counters are compared.
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hs256Verifier, type TokenVerifier } from './auth/jwt.ts';
import { EdgeMetrics } from './metrics.ts';
import { tokenBucket } from './middleware/rate-limit.ts';
import type { LogRecord } from './middleware/request-log.ts';
import { answerCache } from './node-lane.ts';
import { startNodeServer, type RunningServer } from './node.ts';
import { databasePath, openSqliteStorage } from './storage/sqlite.ts';
import type { Storage } from './storage/types.ts';
import { ALL_SCOPES, NOW, TEST_SECRET, token } from '../test/helpers.ts';

type Edge = { server: RunningServer; logs: LogRecord[]; metrics: EdgeMetrics; verifications: () => number };

const dataDir = mkdtempSync(join(tmpdir(), 'vireo-edge-lane-'));
let lane: Edge;
let hono: Edge;

async function start(fastLane: boolean, dir = dataDir, now = () => NOW, app = {}): Promise<Edge> {
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
    dataDir: dir,
    env: { VIREO_JWT_SECRET: TEST_SECRET },
    fastLane,
    app: {
      verifier,
      now,
      log: (r) => logs.push(r),
      metrics,
      // Eight requests per subject, then one per 1000 s of a clock that stands still.
      rateLimiter: tokenBucket({ ratePerSecond: 0.001, burst: 8, now: () => NOW }),
      ...app,
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
      { entity: 'user', id: 'auth0|u7', features: { age: 40 }, event_ts: NOW - 5000 },
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
    // An Auth0 subject: `|` in the id, sent as is or percent-encoded (encodeURIComponent's way).
    const auth0 = await token('features:read', { sub: 'auth0|u7' });
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
      ['an Auth0 id (verified by the route)', '/v1/users/auth0|u7/features', auth0],
      ['an Auth0 id', '/v1/users/auth0|u7/features', auth0],
      ['an Auth0 id, percent-encoded', '/v1/users/auth0%7Cu7/features', auth0],
      ['an id with an encoded slash', '/v1/users/u1%2Fx/features', auth0],
      ['an id with a bad escape', '/v1/users/u1%zz/features', auth0],
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
    for (const path of ['/v1/users/auth0|u7/features', '/v1/users/auth0%7Cu7/features']) {
      const answer = await rawGet(lane, path, { Authorization: `Bearer ${auth0}`, 'X-Request-Id': 'req-auth0' });
      expect(answer).toBe(await rawGet(hono, path, { Authorization: `Bearer ${auth0}`, 'X-Request-Id': 'req-auth0' }));
      expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({
        id: 'auth0|u7',
        features: { age: 40 },
      });
    }
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
    expect(strip(lane.logs).length).toBe(cases.length + 4);
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

describe("the lane's cache of answers", () => {
  const dir = mkdtempSync(join(tmpdir(), 'vireo-edge-lane-cache-'));
  let clock = NOW;
  let cachedEdge: Edge;
  let plain: Edge;
  let reads = 0;
  // The users whose stored rows the lane's server read, in order.
  const readIds: string[] = [];
  let storage: Storage;
  let service: string;
  let own: string;
  const headers = (bearer = own) => ({ Authorization: `Bearer ${bearer}`, 'X-Request-Id': 'req-cache' });
  const post = (path: string, body: unknown) =>
    fetch(`${plain.server.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${service}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  /** The lane's answer and the route's (another connection to the same database), which must be the same. */
  const both = async (path = '/v1/users/u1/features', bearer = own) => {
    const [a, b] = [await rawGet(cachedEdge, path, headers(bearer)), await rawGet(plain, path, headers(bearer))];
    expect(a).toBe(b);
    expect(a).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    return JSON.parse(a.slice(a.indexOf('\r\n\r\n') + 4));
  };

  beforeAll(async () => {
    service = await token(ALL_SCOPES, { sub: 'seeder' });
    own = await token('features:read', { sub: 'u1' });
    // The lane's server counts its feature reads: a cached answer reads nothing.
    storage = openSqliteStorage({ dataDir: dir });
    const read = storage.features.read.bind(storage.features);
    storage.features.read = (entity, ids) => (reads++, readIds.push(...ids), read(entity, ids));
    cachedEdge = await start(true, dir, () => clock, { storage, rateLimiter: null });
    plain = await start(false, dir, () => clock, { rateLimiter: null });
    const pushed = await post('/v1/features/push', {
      rows: [
        { entity: 'user', id: 'u1', features: { age: 31, country: 'FR' }, event_ts: NOW - 5000 },
        ...['drama', 'comedy', 'horror'].map((c, i) => ({ entity: 'item', id: `i${i}`, features: { category: c } })),
      ],
    });
    expect(pushed.status).toBe(200);
    const events = [0, 1, 1, 2].map((n, i) => ({
      event_id: `c${i}`,
      user_id: 'u1',
      item_id: `i${n}`,
      type: 'click',
      ts: NOW - 3_600_000 * (4 - i),
    }));
    expect((await post('/v1/events', { events })).status).toBe(202);
  }, 60_000);

  afterAll(async () => {
    await cachedEdge?.server.close();
    await plain?.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers from memory what the route reads, byte for byte, while the clock decays the counters', async () => {
    // The token's first use is the route's (it verifies it); the second is the lane's, which keeps the answer.
    await both();
    await both();
    const before = reads;
    for (const dt of [1, 7, 3_600_000, 86_400_000 * 3, 86_400_000 * 40]) {
      clock = NOW + dt;
      const body = await both();
      expect(Object.keys(body.realtime.category_counts).sort()).toEqual(['comedy', 'drama', 'horror']);
    }
    expect(reads).toBe(before);
  });

  it('forgets at once what a push, events, another connection or another process changed', async () => {
    await both();
    // A push through the other server: another connection, seen through PRAGMA data_version.
    expect(
      (await post('/v1/features/push', { rows: [{ entity: 'user', id: 'u1', features: { age: 32 } }] })).status,
    ).toBe(200);
    expect((await both()).features.age).toBe(32);
    // A push through the lane's own server: this connection's write.
    const pushed = await fetch(`${cachedEdge.server.url}/v1/features/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${service}`, 'content-type': 'application/json' },
      body: JSON.stringify({ rows: [{ entity: 'user', id: 'u1', features: { age: 33 } }] }),
    });
    expect(pushed.status).toBe(200);
    expect((await both()).features.age).toBe(33);
    const event = { event_id: 'c9', user_id: 'u1', item_id: 'i2', type: 'view', ts: clock };
    expect((await post('/v1/events', { events: [event] })).status).toBe(202);
    expect((await both()).realtime.event_count).toBe(5);
    // A user erased by hand, on a connection of its own: gone from the very next answer.
    const db = new Database(databasePath(dir));
    db.pragma('busy_timeout = 5000');
    for (const table of ['features', 'activity', 'counters'])
      db.prepare(`DELETE FROM ${table} WHERE entity_id = 'u1'`).run();
    db.prepare("DELETE FROM user_history WHERE user_id = 'u1'").run();
    db.close();
    const erased = await both();
    expect(erased.found).toBe(false);
    expect(erased.features).toEqual({});
    // Written back by another process (another `--workers` worker, say): seen at once too.
    execFileSync(process.execPath, [
      '-e',
      `const db = new (require('better-sqlite3'))(${JSON.stringify(databasePath(dir))});
       db.pragma('busy_timeout = 5000');
       db.prepare("INSERT INTO features (entity, entity_id, name, value, event_ts, written_at) " +
         "VALUES ('user', 'u1', 'age', '40', 1, 1)").run();`,
    ]);
    expect((await both()).features).toEqual({ age: 40 });
  });

  it("drops only the answers of the users its own writes touched; another connection's write drops all", async () => {
    const other = await token('features:read', { sub: 'u2' });
    const u2 = '/v1/users/u2/features';
    const ownPost = async (path: string, body: unknown) => {
      const res = await fetch(`${cachedEdge.server.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${service}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBeLessThan(300);
    };
    await ownPost('/v1/features/push', { rows: [{ entity: 'user', id: 'u2', features: { age: 20 } }] });
    // Each token's first use is the route's; then both answers are kept.
    for (let i = 0; i < 2; i++) await Promise.all([both(), both(u2, other)]);
    readIds.length = 0;
    await both();
    await both(u2, other);
    expect(readIds).toEqual([]);
    // An event batch through the lane's own server: u1's next answer shows it, u2's is still kept.
    const event = { event_id: 'own1', user_id: 'u1', item_id: 'i0', type: 'click', ts: clock };
    await ownPost('/v1/events', { events: [event] });
    expect((await both()).realtime.event_count).toBe(1);
    expect((await both(u2, other)).features.age).toBe(20);
    expect(readIds).toEqual(['u1']);
    // A push of u2 drops u2's answer only; an item's push drops no user's (a user's answer holds no item data).
    await ownPost('/v1/features/push', { rows: [{ entity: 'user', id: 'u2', features: { age: 21 } }] });
    await ownPost('/v1/features/push', { rows: [{ entity: 'item', id: 'i0', features: { category: 'noir' } }] });
    // The next read of u2 has its statements run, then an own write of u2 commits before it finishes:
    // that answer (age 21) is sent, not kept.
    const users = storage.events.users.bind(storage.events);
    storage.events.users = async (ids, options, now) => {
      const rows = await users(ids, options, now);
      storage.events.users = users;
      await storage.features.push([{ entity: 'user', id: 'u2', features: { age: 22 }, eventTs: clock }], clock);
      return rows;
    };
    expect(await rawGet(cachedEdge, u2, headers(other))).toContain('"age":21');
    expect((await both(u2, other)).features.age).toBe(22);
    await both();
    await both(u2, other);
    expect(readIds).toEqual(['u1', 'u2', 'u2']);
    // Another connection's write (the other server's event batch) drops every kept answer.
    await post('/v1/events', { events: [{ ...event, event_id: 'other1', user_id: 'u3' }] });
    readIds.length = 0;
    await both();
    await both(u2, other);
    expect(readIds).toEqual(['u1', 'u2']);
  });

  it('holds at most its bound, dropping the least recently used answers first', () => {
    const answer = (text: string) => ({
      parts: [text],
      counters: null,
      counts: { found: true, present: 0, notFound: 0, stale: 0 },
      size: text.length,
    });
    const cache = answerCache(64_000);
    for (let i = 0; i < 100; i++) cache.set(`u${i}`, answer('x'.repeat(900)));
    expect(cache.chars).toBeLessThanOrEqual(64_000);
    expect(cache.size).toBeLessThan(100);
    expect(cache.get('u0')).toBeUndefined();
    expect(cache.get('u99')).toBeDefined();
    // A read keeps an answer: the next one dropped is the oldest not read.
    const oldest = Array.from({ length: 100 }, (_, i) => `u${i}`).find((id) => cache.get(id) !== undefined)!;
    cache.get(oldest);
    cache.set('new', answer('y'.repeat(900)));
    expect(cache.get(oldest)).toBeDefined();
    // One answer over 1/64 of the bound is not kept.
    cache.set('big', answer('z'.repeat(2000)));
    expect(cache.get('big')).toBeUndefined();
    cache.clear();
    expect([cache.size, cache.chars]).toEqual([0, 0]);
  });
});
