// The edge's hot path keeps its answers exact: the read cache of feature lookups is emptied by
// writes (this connection's, and another connection's, as another `--workers` process makes), and
// group commit keeps every batch durable, idempotent and independent of a failing neighbour.
import Database from 'better-sqlite3';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_REALTIME } from './app.ts';
import { groupCommit } from './storage/group-commit.ts';
import { FEATURE_READS } from './storage/sql.ts';
import { databasePath, migrate, openSqliteStorage, sqliteDriver } from './storage/sqlite.ts';
import type { EventRecord, IngestResult, Storage } from './storage/types.ts';
import { ALL_SCOPES, client, NOW, token } from '../test/helpers.ts';
import { nodeTestApp } from '../test/node-test-app.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'vireo-edge-hot-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function open(dataDir: string, options: Parameters<typeof openSqliteStorage>[0] = { dataDir }): Storage {
  const storage = openSqliteStorage({ ...options, dataDir });
  cleanups.push(() => storage.close());
  return storage;
}

const event = (id: string, user = 'u1', item = 'i1', ts = NOW - 1000): EventRecord => ({
  eventId: id,
  userId: user,
  itemId: item,
  type: 'click',
  value: null,
  ts,
  context: {},
});
const batch = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => event(`${prefix}-${i}`, `u${i % 7}`, `i${i % 5}`, NOW - 10_000 + i));

describe('the read cache of feature lookups', () => {
  it('serves the new value after a push (GET, push, GET)', async () => {
    const t = nodeTestApp();
    cleanups.push(t.cleanup);
    const api = client(t.app, await token(ALL_SCOPES));
    const push = (spend: number, eventTs: number) =>
      api.post('/v1/features/push', { rows: [{ entity: 'user', id: 'u1', features: { spend }, event_ts: eventTs }] });
    const spend = async () => ((await (await api.get('/v1/users/u1/features')).json()) as any).features.spend;
    expect((await push(1, NOW - 2000)).status).toBe(200);
    expect(await spend()).toBe(1);
    expect(await spend()).toBe(1);
    expect((await push(2, NOW - 1000)).status).toBe(200);
    expect(await spend()).toBe(2);
    // Events change the real-time columns of the same lookup.
    const before = ((await (await api.get('/v1/users/u1/features')).json()) as any).realtime;
    const res = await api.post('/v1/events', {
      events: [{ event_id: 'e1', user_id: 'u1', item_id: 'i1', type: 'click', ts: NOW - 500 }],
    });
    expect(res.status).toBe(202);
    const after = ((await (await api.get('/v1/users/u1/features')).json()) as any).realtime;
    expect(before?.event_count ?? 0).toBe(0);
    expect(after.event_count).toBe(1);
  });

  it("sees another connection's commits (another process of --workers)", async () => {
    const dataDir = tempDir();
    const a = open(dataDir);
    const b = open(dataDir);
    const read = async (s: Storage) => (await s.features.read('user', ['u1'])).get('u1')?.spend?.value;
    await a.features.push([{ entity: 'user', id: 'u1', features: { spend: 1 }, eventTs: 1 }], 1);
    expect(await read(b)).toBe(1);
    expect(await read(b)).toBe(1);
    await a.features.push([{ entity: 'user', id: 'u1', features: { spend: 2 }, eventTs: 2 }], 2);
    expect(await read(b)).toBe(2);
    // A write by a plain SQLite connection (no cache of its own) is seen too.
    const db = new Database(databasePath(dataDir));
    db.prepare("UPDATE features SET value = '3' WHERE entity_id = 'u1'").run();
    db.close();
    expect(await read(b)).toBe(3);
    expect((await b.events.users(['u1'], DEFAULT_REALTIME, NOW)).has('u1')).toBe(false);
    await a.events.ingest([event('x1')], DEFAULT_REALTIME, NOW);
    expect((await b.events.users(['u1'], DEFAULT_REALTIME, NOW)).get('u1')?.events).toBe(1);
  });

  it("looks for another connection's commit once per turn of the event loop, and every millisecond", async () => {
    const path = join(tempDir(), 'edge.db');
    const db = new Database(path);
    migrate(db);
    // The bound's clock moves only by hand, so a slow machine cannot cross it between two statements.
    let clock = 0;
    const driver = sqliteDriver(db, { readCacheRows: 16, clock: () => clock });
    cleanups.push(() => driver.close());
    const other = new Database(path);
    cleanups.push(() => {
      other.close();
    });
    const insert = other.prepare(
      "INSERT INTO features (entity, entity_id, name, value, event_ts, written_at) VALUES ('user', ?, 'f', '1', 1, 1)",
    );
    let n = 0;
    const commit = () => insert.run(`u${n++}`);
    await new Promise(setImmediate);
    const v0 = driver.version!();
    commit();
    // Within the turn that looked, the commit is not looked for again (a request that arrives after it is read
    // in a later turn); the next turn sees it.
    clock += 1;
    expect(driver.version!()).toBe(v0);
    await new Promise(setImmediate);
    const v1 = driver.version!();
    expect(v1).not.toBe(v0);
    expect(driver.version!()).toBe(v1);
    // A turn longer than a millisecond (libuv polling again within it) looks again.
    commit();
    clock += 1.5;
    expect(driver.version!()).not.toBe(v1);
  });

  it('holds at most its rows and characters, least recently used dropped first', async () => {
    const db = new Database(join(tempDir(), 'edge.db'));
    migrate(db);
    const insert = db.prepare(
      "INSERT INTO features (entity, entity_id, name, value, event_ts, written_at) VALUES ('user', ?, 'f', ?, 1, 1)",
    );
    for (let i = 0; i < 4; i++) insert.run(`u${i}`, JSON.stringify(`v${i}`));
    insert.run('big', JSON.stringify('x'.repeat(2000)));
    const driver = sqliteDriver(db, { readCacheRows: 2, readCacheMaxChars: 16_000 });
    cleanups.push(() => driver.close());
    const [readOne] = [...FEATURE_READS];
    const read = (id: string) => driver.query(readOne, ['user', id]);
    const first = await read('u0');
    // A hit is the very same (frozen) answer; a third key drops the least recently used.
    expect(await read('u0')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    const u1 = await read('u1');
    await read('u0');
    await read('u2');
    expect(await read('u0')).toBe(first);
    expect(await read('u1')).not.toBe(u1);
    const again = await read('u1');
    expect(await read('u1')).toBe(again);
    // A value over a 16th of the characters allowed is never kept.
    const big = await read('big');
    expect(await read('big')).not.toBe(big);
    // Statements outside FEATURE_READS are never cached.
    const other = 'SELECT count(*) AS n FROM features';
    expect(await driver.query(other, [])).not.toBe(await driver.query(other, []));
  });
});

describe('group commit of event batches', () => {
  it('makes every concurrent batch durable once, with duplicates across batches counted once', async () => {
    const dataDir = tempDir();
    const storage = open(dataDir);
    // 20 batches at once, the last two repeating events of the first: one transaction, or a few.
    const batches = Array.from({ length: 20 }, (_, b) => batch(`b${b}`, 50));
    batches.push(batches[0].slice(0, 10), [...batch('b1', 5), event('fresh')]);
    const results = await Promise.all(batches.map((b) => storage.events.ingest(b, DEFAULT_REALTIME, NOW)));
    // Positions in each request's own batch.
    const positions = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
    for (let b = 0; b < 20; b++) expect(results[b]).toEqual({ accepted: positions(50), duplicate: [] });
    expect(results[20]).toEqual({ accepted: [], duplicate: positions(10) });
    expect(results[21]).toEqual({ accepted: [5], duplicate: positions(5) });
    await storage.close();
    // On disk after close: every accepted event once, the real-time tables updated exactly once for each.
    const db = new Database(databasePath(dataDir), { readonly: true });
    expect(db.prepare('SELECT count(*) FROM events').pluck().get()).toBe(20 * 50 + 1);
    expect(db.prepare('SELECT max(seq) FROM events').pluck().get()).toBe(20 * 50 + 1);
    expect(db.prepare("SELECT sum(events) FROM activity WHERE entity = 'user'").pluck().get()).toBe(20 * 50 + 1);
    db.close();
    // Sending them again: all duplicates.
    const again = open(dataDir);
    const repeated = await Promise.all(batches.slice(0, 3).map((b) => again.events.ingest(b, DEFAULT_REALTIME, NOW)));
    for (const r of repeated) expect(r.accepted).toEqual([]);
  });

  it('answers each request for its own events when requests of one group share event ids across users', async () => {
    const storage = open(tempDir());
    // One group: ids are unique per user, so the same id from two users is two events, and a user's repeat of
    // an id is a duplicate of the first, in whichever request it came.
    const results = await Promise.all(
      [
        [event('x', 'alice'), event('y', 'alice')],
        [event('x', 'bob'), event('x', 'alice')],
        [event('y', 'bob'), event('y', 'alice'), event('x', 'bob')],
      ].map((b) => storage.events.ingest(b, DEFAULT_REALTIME, NOW)),
    );
    expect(results).toEqual([
      { accepted: [0, 1], duplicate: [] },
      { accepted: [0], duplicate: [1] },
      { accepted: [0], duplicate: [1, 2] },
    ]);
    expect((await storage.events.get('bob', 'x'))?.userId).toBe('bob');
  });

  it('acknowledges a batch only once it is committed: another connection sees it at once', async () => {
    const dataDir = tempDir();
    const storage = open(dataDir);
    const reader = new Database(databasePath(dataDir), { readonly: true });
    cleanups.push(() => {
      reader.close();
    });
    const count = reader.prepare('SELECT count(*) FROM events').pluck();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, b) => storage.events.ingest(batch(`ack${b}`, 25), DEFAULT_REALTIME, NOW)),
    );
    expect(results.every((r) => r.accepted.length === 25)).toBe(true);
    expect(count.get()).toBe(200);
  });

  it('checkpoints the WAL into the database file on its own thread, no request doing it', async () => {
    const dataDir = tempDir();
    const storage = open(dataDir);
    await Promise.all(
      Array.from({ length: 4 }, (_, b) => storage.events.ingest(batch(`wal${b}`, 50), DEFAULT_REALTIME, NOW)),
    );
    // The database file alone (without its -wal) holds the events once a checkpoint has copied them.
    const copy = join(tempDir(), 'copy.db');
    let seen = 0;
    for (let i = 0; i < 150 && seen < 200; i++) {
      await new Promise((ok) => setTimeout(ok, 100));
      copyFileSync(databasePath(dataDir), copy);
      const db = new Database(copy, { readonly: true });
      try {
        seen = db.prepare('SELECT count(*) FROM events').pluck().get() as number;
      } catch {
        // No checkpoint yet: the file does not even hold the tables.
      } finally {
        db.close();
      }
    }
    expect(seen).toBe(200);
  });

  it('answers each batch with what a one-by-one write would, when one of them fails', async () => {
    const written: string[][] = [];
    let transactions = 0;
    // A store that refuses any transaction holding the event 'poison' (nothing of it is kept).
    const inner = async (events: EventRecord[]): Promise<IngestResult> => {
      transactions++;
      if (events.some((e) => e.eventId === 'poison')) throw new Error('constraint failed');
      const seen = new Set(written.flat());
      const result: IngestResult = { accepted: [], duplicate: [] };
      const stored: string[] = [];
      events.forEach((e, i) => {
        if (seen.has(e.eventId)) result.duplicate.push(i);
        else result.accepted.push(i), stored.push(e.eventId);
        seen.add(e.eventId);
      });
      written.push(stored);
      return result;
    };
    const ingest = groupCommit(inner);
    const calls = [
      ingest([event('a'), event('b')], DEFAULT_REALTIME, NOW),
      ingest([event('c'), event('poison')], DEFAULT_REALTIME, NOW),
      ingest([event('d'), event('a')], DEFAULT_REALTIME, NOW),
    ];
    const settled = await Promise.allSettled(calls);
    expect(settled[0]).toEqual({ status: 'fulfilled', value: { accepted: [0, 1], duplicate: [] } });
    expect(settled[1]).toMatchObject({ status: 'rejected', reason: { message: 'constraint failed' } });
    expect(settled[2]).toEqual({ status: 'fulfilled', value: { accepted: [0], duplicate: [1] } });
    // One shared try, then each batch alone; 'c' was never stored.
    expect(transactions).toBe(4);
    expect(written.flat().sort()).toEqual(['a', 'b', 'd']);
    // Calls in one turn of the event loop share one transaction when nothing fails.
    transactions = 0;
    const ok = await Promise.all([1, 2, 3].map((i) => ingest([event(`ok${i}`)], DEFAULT_REALTIME, NOW)));
    expect(ok.map((r) => r.accepted)).toEqual([[0], [0], [0]]);
    expect(written.at(-1)).toEqual(['ok1', 'ok2', 'ok3']);
    expect(transactions).toBe(1);
  });

  it('waits for announced batches, at most maxWaitMs, to share their transaction', async () => {
    const groups: string[][] = [];
    const ingest = groupCommit(
      async (events: EventRecord[]) => {
        groups.push(events.map((e) => e.eventId));
        return { accepted: events.map((_, i) => i), duplicate: [] };
      },
      { maxWaitMs: 50 },
    );
    // Two requests announced; the first arrives, the second a little later: one transaction.
    const [first, second] = [ingest.expect(), ingest.expect()];
    const a = ingest([event('a')], DEFAULT_REALTIME, NOW);
    first();
    await new Promise((ok) => setTimeout(ok, 10));
    expect(groups).toEqual([]);
    const b = ingest([event('b')], DEFAULT_REALTIME, NOW);
    second();
    await Promise.all([a, b]);
    expect(groups).toEqual([['a', 'b']]);
    // One that never arrives (a refused body) holds the others back for maxWaitMs only; its end
    // (called twice, as the route does) counts once.
    const lost = ingest.expect();
    const start = performance.now();
    await ingest([event('c')], DEFAULT_REALTIME, NOW);
    expect(performance.now() - start).toBeGreaterThanOrEqual(45);
    lost();
    lost();
    const arriving = ingest.expect();
    const d = ingest([event('d')], DEFAULT_REALTIME, NOW);
    arriving();
    await d;
    expect(groups).toEqual([['a', 'b'], ['c'], ['d']]);
  });
});
