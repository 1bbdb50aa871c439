// HistoryCache over Chromium's real IndexedDB: one read per user, then memory; written through in
// the store's order and caps; users kept apart (and evicted least recently used first); a read that
// races a write is not kept; two caches on one database (two tabs) see each other's writes through
// the BroadcastChannel; a failed write rejects and the event stays in memory.
import { describe, expect, it, vi } from 'vitest';
import { HistoryCache } from './history.ts';
import { openEngineStore, type EngineStore, type HistoryEvent } from './store.ts';

let n = 0;
const run = `${Date.now()}`;
async function openStore(name = `history-${run}-${++n}`): Promise<{ store: EngineStore; name: string }> {
  const store = await openEngineStore(name);
  expect(store.persistent).toBe(true); // real IndexedDB, not the in-memory fallback
  return { store, name };
}
let seq = 0;
const ev = (userId: string, itemId: string, type = 'click'): HistoryEvent => ({
  eventId: `e${++seq}`,
  userId,
  itemId,
  type,
  ts: 1_700_000_000_000 + seq,
});
/** The store, with its history reads counted. */
function counted(store: EngineStore): EngineStore & { reads: number } {
  const c = Object.create(store) as EngineStore & { reads: number };
  c.reads = 0;
  c.history = (userId, limit) => {
    c.reads++;
    return store.history(userId, limit);
  };
  return c;
}
const items = (events: readonly HistoryEvent[]) => events.map((e) => e.itemId);

describe('HistoryCache over IndexedDB', () => {
  it("reads a user once; appends go to memory and the store, in the store's order, within the cap", async () => {
    const { store } = await openStore();
    for (const item of ['a', 'b', 'c']) await store.appendHistory(ev('u1', item));
    const s = counted(store);
    const cache = new HistoryCache(s);
    expect(items(await cache.recent('u1', 4))).toEqual(['a', 'b', 'c']);
    expect(items(await cache.recent('u1', 4))).toEqual(['a', 'b', 'c']);
    for (const item of ['d', 'e', 'f']) await cache.append(ev('u1', item));
    const cached = await cache.recent('u1', 4);
    expect(items(cached)).toEqual(['c', 'd', 'e', 'f']); // the last 4, oldest first
    expect(items(await cache.recent('u1', 2))).toEqual(['e', 'f']);
    expect(s.reads).toBe(1);
    // The durable copy holds the same, in the same order.
    expect(items(await store.history('u1', 4))).toEqual(items(cached));
    expect(items(await store.history('u1', 10))).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    // A longer history than was read goes back to the store once.
    expect(items(await cache.recent('u1', 10))).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(s.reads).toBe(2);
    cache.dispose();
    store.close();
  });

  it("keeps users apart and evicts the least recently used; an evicted user's history is read again", async () => {
    const { store } = await openStore();
    const s = counted(store);
    const cache = new HistoryCache(s, { maxUsers: 2 });
    await cache.append(ev('u1', 'x'));
    expect(await cache.recent('u2', 8)).toEqual([]);
    expect(await cache.recent('u1', 8)).toHaveLength(1);
    await cache.append(ev('u2', 'y'));
    expect(items(await cache.recent('u2', 8))).toEqual(['y']);
    expect(items(await cache.recent('u1', 8))).toEqual(['x']);
    expect(s.reads).toBe(2);
    expect(await cache.recent('u3', 8)).toEqual([]); // evicts u2 (u1 was used last)
    expect(cache.size).toBe(2);
    expect(items(await cache.recent('u1', 8))).toEqual(['x']);
    expect(s.reads).toBe(3);
    expect(items(await cache.recent('u2', 8))).toEqual(['y']);
    expect(s.reads).toBe(4);
    cache.dispose();
    store.close();
  });

  it('a read that a write overtakes is not kept: the next read has the event', async () => {
    const { store } = await openStore();
    await store.appendHistory(ev('u1', 'a'));
    const s = counted(store);
    const cache = new HistoryCache(s);
    const reading = cache.recent('u1', 8); // not cached yet: goes to the store
    await cache.append(ev('u1', 'b'));
    await reading; // it may or may not have 'b': the request that made it began before the write
    expect(items(await cache.recent('u1', 8))).toEqual(['a', 'b']);
    expect(s.reads).toBe(2);
    expect(items(await cache.recent('u1', 8))).toEqual(['a', 'b']);
    expect(s.reads).toBe(2);
    cache.dispose();
    store.close();
  });

  it("two tabs on one database: each sees the other's writes (BroadcastChannel); without it, not", async () => {
    const { store: storeA, name } = await openStore();
    const { store: storeB } = await openStore(name);
    const channel = `vireo-history:${name}`;
    const tabA = new HistoryCache(storeA, { channel });
    const tabB = new HistoryCache(counted(storeB), { channel });
    const deaf = new HistoryCache(storeB); // a cache that hears nothing: what tabB would be without the channel
    await tabA.append(ev('u1', 'a'));
    expect(items(await tabB.recent('u1', 8))).toEqual(['a']);
    expect(items(await deaf.recent('u1', 8))).toEqual(['a']);
    await tabA.append(ev('u1', 'b'));
    await vi.waitFor(async () => expect(items(await tabB.recent('u1', 8))).toEqual(['a', 'b']), { timeout: 5_000 });
    expect(items(await deaf.recent('u1', 8))).toEqual(['a']); // stale
    await tabB.append(ev('u1', 'c'));
    await vi.waitFor(async () => expect(items(await tabA.recent('u1', 8))).toEqual(['a', 'b', 'c']), {
      timeout: 5_000,
    });
    for (const c of [tabA, tabB, deaf]) c.dispose();
    storeA.close();
    storeB.close();
  });

  it('a failed write rejects with the store error; the event stays in memory for this page', async () => {
    const { store } = await openStore();
    const broken = Object.create(store) as EngineStore;
    broken.appendHistory = () => Promise.reject(new DOMException('The quota was exceeded.', 'QuotaExceededError'));
    const cache = new HistoryCache(broken);
    expect(await cache.recent('u1', 8)).toEqual([]);
    await expect(cache.append(ev('u1', 'a'))).rejects.toThrow(/quota/);
    expect(items(await cache.recent('u1', 8))).toEqual(['a']);
    expect(await store.history('u1', 8)).toEqual([]);
    cache.dispose();
    store.close();
  });
});
