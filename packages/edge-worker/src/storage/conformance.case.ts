// The storage conformance suite: one set of cases every Storage implementation must pass, run
// against SQLite + files in Node (sqlite.test.ts) and D1 + KV + R2 inside workerd
// (cloudflare.workers.test.ts), like Hono's common.case.test.ts runs against every router.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '@vireo/core';
import { promotedStack } from './sql.ts';
import { BlobMismatchError, type EventRecord, type RealtimeOptions, type Storage } from './types.ts';

export type StorageFactory = () => Promise<{ storage: Storage; cleanup: () => Promise<void> }>;

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const options: RealtimeOptions = {
  historyLength: 5,
  itemHalfLifeMs: 24 * HOUR,
  userCategoryHalfLifeMs: 6 * HOUR,
  categoryFeature: 'category',
};

const event = (id: string, over: Partial<EventRecord> = {}): EventRecord => ({
  eventId: id,
  userId: 'u1',
  itemId: 'i1',
  type: 'click',
  value: null,
  ts: T0,
  context: {},
  ...over,
});

const bytesOf = (text: string) => new TextEncoder().encode(text);
async function sha256(bytes: Uint8Array): Promise<string> {
  return Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');
}
async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}
function streamOf(bytes: Uint8Array, chunk = 7): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, (at += chunk)));
    },
  });
}

/** Registers the conformance cases for one storage implementation. */
/**
 * Stores versions 1 and 2 of model 'ranker', each a manifest and the same file `sub/w.bin` (7 bytes), for the
 * backends' own deletion tests (which blobs a deleted version leaves); returns the file's size.
 */
export async function storeTwoVersions(storage: Storage): Promise<number> {
  const file = new TextEncoder().encode('weights');
  for (const version of ['1', '2']) {
    const manifest = new TextEncoder().encode(`{"v":"${version}"}`);
    await storage.models.createVersion({
      name: 'ranker',
      version,
      manifest,
      manifestSha256: await sha256Hex(manifest),
      files: [{ file: 'sub/w.bin', size: file.length, sha256: await sha256Hex(file) }],
      by: 'ci',
      now: 1,
    });
    await storage.models.putFile('ranker', version, 'sub/w.bin', file, 1);
  }
  return file.length;
}

export function runStorageConformance(label: string, factory: StorageFactory): void {
  describe(`storage conformance: ${label}`, () => {
    let storage: Storage;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ storage, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup();
    });

    it('answers ping', async () => {
      await expect(storage.ping()).resolves.toBeUndefined();
    });

    describe('features', () => {
      it('upserts rows and reads them one at a time and in batch; unknown ids are absent', async () => {
        const r = await storage.features.push(
          [
            {
              entity: 'user',
              id: 'u1',
              features: { age_bucket: 3, country: 'FR', genres: ['drama', 'crime'], vip: true, note: null },
              eventTs: T0,
            },
            { entity: 'user', id: 'u2', features: { age_bucket: 5 }, eventTs: T0 },
            { entity: 'item', id: 'u1', features: { price: 9.5 }, eventTs: T0 },
          ],
          T0 + 1,
        );
        expect(r).toEqual({ written: 7, stale: 0 });
        const one = await storage.features.read('user', ['u1']);
        expect(one.get('u1')).toEqual({
          age_bucket: { value: 3, eventTs: T0 },
          country: { value: 'FR', eventTs: T0 },
          genres: { value: ['drama', 'crime'], eventTs: T0 },
          vip: { value: true, eventTs: T0 },
          note: { value: null, eventTs: T0 },
        });
        const many = await storage.features.read('user', ['u2', 'nobody', 'u1']);
        expect([...many.keys()].sort()).toEqual(['u1', 'u2']);
        expect(many.get('u2')).toEqual({ age_bucket: { value: 5, eventTs: T0 } });
        // Entities are separate namespaces.
        expect((await storage.features.read('item', ['u1'])).get('u1')).toEqual({ price: { value: 9.5, eventTs: T0 } });
      });

      it('keeps the newest value by event time, merges features, and counts stale writes', async () => {
        await storage.features.push([{ entity: 'user', id: 'u1', features: { a: 1, b: 1 }, eventTs: T0 }], T0);
        expect(await storage.features.read('user', ['u1'])).toBeInstanceOf(Map); // warm any cache
        const r = await storage.features.push(
          [
            { entity: 'user', id: 'u1', features: { a: 2, b: 0 }, eventTs: T0 - 1 },
            { entity: 'user', id: 'u1', features: { c: 3 }, eventTs: T0 + 5 },
          ],
          T0,
        );
        expect(r).toEqual({ written: 1, stale: 2 });
        await storage.features.push([{ entity: 'user', id: 'u1', features: { a: 4 }, eventTs: T0 + 10 }], T0);
        expect((await storage.features.read('user', ['u1'])).get('u1')).toEqual({
          a: { value: 4, eventTs: T0 + 10 },
          b: { value: 1, eventTs: T0 },
          c: { value: 3, eventTs: T0 + 5 },
        });
      });

      it('round-trips unicode, quotes and SQL-looking text as data', async () => {
        const tricky = `Robert'); DROP TABLE features;-- "é" 😀 \u0000 \\`;
        await storage.features.push(
          [{ entity: 'item', id: 'i-1', features: { title: tricky, tags: [tricky, 1.5] }, eventTs: T0 }],
          T0,
        );
        expect((await storage.features.read('item', ['i-1'])).get('i-1')).toEqual({
          title: { value: tricky, eventTs: T0 },
          tags: { value: [tricky, 1.5], eventTs: T0 },
        });
      });

      it('writes a push larger than one statement parameter atomically', async () => {
        const rows = Array.from({ length: 1500 }, (_, i) => ({
          entity: 'item' as const,
          id: `i${i}`,
          features: { blurb: 'x'.repeat(700), n: i },
          eventTs: T0,
        }));
        expect(await storage.features.push(rows, T0)).toEqual({ written: 3000, stale: 0 });
        const read = await storage.features.read('item', ['i0', 'i777', 'i1499']);
        expect(read.get('i1499')?.n.value).toBe(1499);
        expect(read.size).toBe(3);
      });
    });

    describe('events and real-time features', () => {
      it('is idempotent on event_id: a retried batch, a repeated id, concurrent copies', async () => {
        const batch = [event('e1'), event('e2', { ts: T0 + 1 }), event('e1')];
        // Positions in the batch.
        expect(await storage.events.ingest(batch, options, T0)).toEqual({ accepted: [0, 1], duplicate: [2] });
        expect(await storage.events.ingest(batch, options, T0)).toEqual({ accepted: [], duplicate: [0, 1, 2] });
        const copies = [event('e3', { ts: T0 + 2 }), event('e4', { ts: T0 + 3 })];
        const [a, b] = await Promise.all([
          storage.events.ingest(copies, options, T0),
          storage.events.ingest(copies, options, T0),
        ]);
        expect([...a.accepted, ...b.accepted].sort()).toEqual([0, 1]);
        const user = (await storage.events.users(['u1'], options, T0 + 3)).get('u1')!;
        expect(user.events).toBe(4);
        expect(user.history.map((h) => h.ts)).toEqual([T0 + 3, T0 + 2, T0 + 1, T0]);
        const item = (await storage.events.items(['i1'], options, T0 + 3)).get('i1')!;
        expect(item.events).toBe(4);
        expect(item.popularity.click).toBeCloseTo(
          Math.pow(2, -3 / (24 * HOUR)) + Math.pow(2, -2 / (24 * HOUR)) + Math.pow(2, -1 / (24 * HOUR)) + 1,
          9,
        );
      });

      it("keys event ids per user: another user's event with a used id is stored, a user's repeat is not", async () => {
        // Visitor B's first event happens to carry the id visitor A used (ids are the client's).
        expect(await storage.events.ingest([event('x', { userId: 'a', itemId: 'ia' })], options, T0)).toEqual({
          accepted: [0],
          duplicate: [],
        });
        const b = event('x', { userId: 'b', itemId: 'ib', ts: T0 + 1, type: 'like' });
        expect(await storage.events.ingest([b], options, T0)).toEqual({ accepted: [0], duplicate: [] });
        expect(await storage.events.get('b', 'x')).toEqual(b);
        expect((await storage.events.get('a', 'x'))?.itemId).toBe('ia');
        expect(await storage.events.get('c', 'x')).toBeNull();
        // Retried, both are duplicates; in one batch, the same id of three users is three events and a user's
        // second use of it a duplicate.
        const retry = [event('x', { userId: 'a' }), event('x', { userId: 'b' })];
        expect(await storage.events.ingest(retry, options, T0)).toEqual({ accepted: [], duplicate: [0, 1] });
        const mixed = ['c', 'd', 'c', 'a', 'e'].map((u, i) => event('y', { userId: u, ts: T0 + i }));
        expect(await storage.events.ingest(mixed, options, T0)).toEqual({ accepted: [0, 1, 3, 4], duplicate: [2] });
        // Each stored event counts for its own user's real-time features and enters the log once.
        const users = await storage.events.users(['a', 'b', 'c'], options, T0 + 10);
        expect(users.get('b')).toMatchObject({ events: 1, history: [{ itemId: 'ib', type: 'like', ts: T0 + 1 }] });
        expect(users.get('a')!.events).toBe(2);
        expect(users.get('c')!.events).toBe(1);
        const log = await storage.eventLog.read(0, 100);
        expect(log.events.map((e) => `${e.userId}/${e.eventId}`)).toEqual(['a/x', 'b/x', 'c/y', 'd/y', 'a/y', 'e/y']);
      });

      it('stores every field of an event', async () => {
        const e = event('full', {
          userId: 'user:42',
          itemId: 'item@7',
          type: 'purchase',
          value: 19.99,
          ts: T0 + 123,
          context: { device: 'ios', hour: 13, tags: ['a', 2], ok: true, none: null },
        });
        await storage.events.ingest([e], options, T0);
        expect(await storage.events.get('user:42', 'full')).toEqual(e);
        expect(await storage.events.get('user:42', 'missing')).toBeNull();
      });

      it('trims history by (ts, event_id): of events at the same time, the larger ids are the newer', async () => {
        const tie = (id: string, ts: number) => event(id, { userId: 'tie', itemId: id, ts });
        await storage.events.ingest(
          [tie('t-a', T0), tie('t-c', T0 + 1), tie('t-b', T0 + 1), tie('t-e', T0 + 1)],
          options,
          T0,
        );
        await storage.events.ingest([tie('t-d', T0 + 1), tie('t-f', T0 + 1), tie('t-g', T0 + 2)], options, T0);
        const user = (await storage.events.users(['tie'], options, T0)).get('tie')!;
        expect(user.history.map((h) => h.itemId)).toEqual(['t-g', 't-f', 't-e', 't-d', 't-c']);
      });

      it('keeps the last N interactions per user, newest first', async () => {
        const events = Array.from({ length: 8 }, (_, i) => event(`h${i}`, { itemId: `i${i}`, ts: T0 + i * 1000 }));
        await storage.events.ingest(events.slice(0, 3), options, T0);
        await storage.events.ingest(events.slice(3), options, T0);
        await storage.events.ingest([event('other', { userId: 'u2', itemId: 'x' })], options, T0);
        const users = await storage.events.users(['u1', 'u2', 'ghost'], options, T0 + 8000);
        expect(users.get('u1')!.history.map((h) => h.itemId)).toEqual(['i7', 'i6', 'i5', 'i4', 'i3']);
        expect(users.get('u1')!.history[0]).toEqual({ itemId: 'i7', type: 'click', ts: T0 + 7000 });
        expect(users.get('u2')!.history.map((h) => h.itemId)).toEqual(['x']);
        expect(users.has('ghost')).toBe(false);
        expect(users.get('u1')).toMatchObject({ firstSeen: T0, lastSeen: T0 + 7000, events: 8 });
      });

      it('answers the same histories with an amortized trim as with a trim on every batch', async () => {
        // One seeded random stream of batches (late events, ties, repeated ids, several users) written
        // for three sets of users: trimmed on every batch (slack 0), with the default slack, with slack 3.
        // After every batch all answer the newest historyLength of their accepted events (ts, then event_id).
        let seed = 19;
        const rnd = (n: number) => {
          seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
          return Math.floor((seed / 2 ** 32) * n);
        };
        const variants = [
          { prefix: 'every', options: { ...options, historySlack: 0 } },
          { prefix: 'default', options },
          { prefix: 'slack3', options: { ...options, historySlack: 3 } },
        ];
        const users = ['a', 'b', 'c'];
        const sent: Array<{ id: string; user: string; ts: number }> = [];
        const accepted = new Map<string, { id: string; user: string; ts: number }>();
        const newest = (user: string) =>
          [...accepted.values()]
            .filter((e) => e.user === user)
            .sort((x, y) => y.ts - x.ts || (x.id < y.id ? 1 : -1))
            .slice(0, options.historyLength)
            .map((e) => ({ itemId: e.id, type: 'click', ts: e.ts }));
        for (let b = 0; b < 20; b++) {
          const batch = Array.from({ length: 1 + rnd(9) }, () => {
            if (sent.length > 0 && rnd(6) === 0) return sent[rnd(sent.length)];
            const e = { id: `e${sent.length}`, user: users[rnd(3)], ts: T0 + rnd(20) * 1000 };
            sent.push(e);
            return e;
          });
          for (const e of batch) if (!accepted.has(e.id)) accepted.set(e.id, e);
          for (const v of variants) {
            const id = (u: string) => `${v.prefix}-${u}`;
            await storage.events.ingest(
              batch.map((e) => event(`${v.prefix}-${e.id}`, { userId: id(e.user), itemId: e.id, ts: e.ts })),
              v.options,
              T0,
            );
            // Several users (one read of all their rows) and one (a read by key).
            const many = await storage.events.users(users.map(id), v.options, T0);
            for (const u of users) expect(many.get(id(u))?.history ?? []).toEqual(newest(u));
            const one = users[b % 3];
            expect((await storage.events.users([id(one)], v.options, T0)).get(id(one))?.history ?? []).toEqual(
              newest(one),
            );
          }
        }
      });

      it('decays item popularity with its half-life, per event type, and merges late events', async () => {
        await storage.events.ingest([event('p1'), event('p2'), event('p3', { type: 'view' })], options, T0);
        const at = (now: number) => storage.events.items(['i1'], options, now).then((m) => m.get('i1')!.popularity);
        expect((await at(T0)).click).toBeCloseTo(2, 9);
        expect((await at(T0 + 24 * HOUR)).click).toBeCloseTo(1, 9);
        expect((await at(T0 + 48 * HOUR)).view).toBeCloseTo(0.25, 9);
        // An event a full half-life older than the counter adds half a count.
        await storage.events.ingest([event('late', { ts: T0 - 24 * HOUR })], options, T0);
        expect((await at(T0)).click).toBeCloseTo(2.5, 9);
        // A newer event moves the counter's time forward.
        await storage.events.ingest([event('new', { ts: T0 + 24 * HOUR })], options, T0);
        expect((await at(T0 + 24 * HOUR)).click).toBeCloseTo(2.25, 9);
      });

      it('counts user × category from the event context or from the item category feature', async () => {
        await storage.features.push(
          [
            { entity: 'item', id: 'film', features: { category: 'drama' }, eventTs: T0 },
            { entity: 'item', id: 'combo', features: { category: ['drama', 'comedy'] }, eventTs: T0 },
          ],
          T0,
        );
        await storage.events.ingest(
          [
            event('c1', { itemId: 'film' }),
            event('c2', { itemId: 'combo' }),
            event('c3', { itemId: 'film', context: { category: 'horror' } }),
            event('c4', { itemId: 'unknown' }),
          ],
          options,
          T0,
        );
        const u = (await storage.events.users(['u1'], options, T0 + 6 * HOUR)).get('u1')!;
        expect(u.categories.drama).toBeCloseTo(1, 9);
        expect(u.categories.comedy).toBeCloseTo(0.5, 9);
        expect(u.categories.horror).toBeCloseTo(0.5, 9);
        expect(Object.keys(u.categories).sort()).toEqual(['comedy', 'drama', 'horror']);
      });

      it('takes a batch larger than one statement parameter', async () => {
        const events = Array.from({ length: 1000 }, (_, i) =>
          event(`big-${i}`, {
            userId: `u${i % 10}`,
            itemId: `i${i % 37}`,
            ts: T0 + i,
            context: { blob: 'y'.repeat(900) },
          }),
        );
        const r = await storage.events.ingest(events, options, T0);
        expect(r.accepted.length).toBe(1000);
        const users = await storage.events.users(['u3'], options, T0 + 1000);
        expect(users.get('u3')!.events).toBe(100);
        expect(users.get('u3')!.history.length).toBe(options.historyLength);
      });
    });

    describe('event log', () => {
      /** Every event after `after`, page by page, as a consumer reads them. */
      async function readAll(after: number, limit: number) {
        const ids: string[] = [];
        const seqs: number[] = [];
        for (;;) {
          const page = await storage.eventLog.read(after, limit);
          if (page.events.length === 0) return { ids, seqs, next: page.next };
          for (const e of page.events) {
            ids.push(e.eventId);
            seqs.push(e.seq);
          }
          expect(page.next).toBe(page.events.at(-1)!.seq);
          after = page.next;
        }
      }

      it('reads events back in the order they were stored, from a cursor, duplicates once', async () => {
        await storage.events.ingest([event('b', { ts: T0 + 2 }), event('a', { ts: T0 + 1 })], options, T0);
        await storage.events.ingest([event('a'), event('c', { value: 2.5, context: { hour: 3 } })], options, T0 + 5);
        const all = await readAll(0, 2);
        // Within a batch by time; a retried event is not logged again.
        expect(all.ids).toEqual(['a', 'b', 'c']);
        expect(all.seqs).toEqual([...all.seqs].sort((x, y) => x - y));
        const first = await storage.eventLog.read(0, 10);
        expect(first.events[2]).toMatchObject({ eventId: 'c', value: 2.5, context: { hour: 3 }, receivedAt: T0 + 5 });
        // From the middle: exactly what came after; past the end: nothing, and the cursor stays.
        expect((await readAll(all.seqs[0], 10)).ids).toEqual(['b', 'c']);
        expect(await storage.eventLog.read(all.seqs[2], 10)).toEqual({
          events: [],
          next: all.seqs[2],
          archived: false,
          last: all.seqs[2],
        });
        // Past the end: the same, and where the log ends.
        expect(await storage.eventLog.read(all.seqs[2] + 100, 10)).toMatchObject({ events: [], last: all.seqs[2] });
      });

      it('archives old events to blobs in batches and reads across archive and database the same', async () => {
        const batch = (from: number, n: number) =>
          Array.from({ length: n }, (_, i) => event(`e${from + i}`, { ts: T0 + from + i, userId: `u${i % 3}` }));
        await storage.events.ingest(batch(0, 7), options, T0);
        await storage.events.ingest(batch(7, 5), options, T0 + HOUR);
        const before = await readAll(0, 4);
        expect(before.ids.length).toBe(12);
        // Events received before T0 + 1 h: two batches of at most 4, then nothing older is left.
        expect(await storage.eventLog.archive(T0 + HOUR, 4, T0 + 2 * HOUR)).toBe(4);
        expect(await storage.eventLog.archive(T0 + HOUR, 4, T0 + 2 * HOUR)).toBe(3);
        expect(await storage.eventLog.archive(T0 + HOUR, 4, T0 + 2 * HOUR)).toBe(0);
        expect(await storage.events.get('u0', 'e0')).toBeNull();
        expect(await storage.events.get('u0', 'e7')).not.toBeNull();
        // Every page size, from every cursor: the same events once each, in the same order.
        for (const limit of [1, 3, 5, 100]) expect(await readAll(0, limit)).toEqual(before);
        for (let i = 0; i < before.seqs.length; i++)
          expect((await readAll(before.seqs[i], 2)).ids).toEqual(before.ids.slice(i + 1));
        const page = await storage.eventLog.read(0, 2);
        expect(page.archived).toBe(true);
        expect(page.events[0]).toMatchObject({ eventId: 'e0', userId: 'u0', ts: T0, type: 'click', receivedAt: T0 });
        // New events still get numbers after every archived one, even with all of them archived.
        expect(await storage.eventLog.archive(T0 + 3 * HOUR, 100, T0 + 3 * HOUR)).toBe(5);
        await storage.events.ingest([event('late')], options, T0 + 4 * HOUR);
        const after = await readAll(0, 5);
        expect(after.ids).toEqual([...before.ids, 'late']);
        expect(after.seqs.at(-1)).toBeGreaterThan(before.seqs.at(-1)!);
      });

      it('cuts a page at about maxBytes of events (never below one), in the database and from an archive', async () => {
        // 1,000 bytes of UTF-8 in 500 characters: pages are bounded in bytes.
        const big = (i: number) => event(`big${i}`, { ts: T0 + i, context: { note: 'é'.repeat(500) } });
        await storage.events.ingest(
          Array.from({ length: 10 }, (_, i) => big(i)),
          options,
          T0,
        );
        const pages = async () => {
          const sizes: number[] = [];
          let after = 0;
          for (;;) {
            const page = await storage.eventLog.read(after, 100, 2500);
            if (page.events.length === 0) return sizes;
            sizes.push(page.events.length);
            after = page.next;
          }
        };
        // ~1.2 KB an event: a page holds events while those before it stay under 2,500 bytes.
        expect(await pages()).toEqual([3, 3, 3, 1]);
        expect((await storage.eventLog.read(0, 100, 1)).events.map((e) => e.eventId)).toEqual(['big0']);
        expect(await storage.eventLog.archive(T0 + HOUR, 100, T0 + HOUR)).toBe(10);
        expect(await pages()).toEqual([3, 3, 3, 1]);
      });

      it('says where the log ends with an empty page', async () => {
        expect(await storage.eventLog.read(0, 10)).toEqual({ events: [], next: 0, archived: false, last: 0 });
        await storage.events.ingest([event('a'), event('b', { ts: T0 + 1 })], options, T0);
        const all = await storage.eventLog.read(0, 10);
        const last = all.events.at(-1)!.seq;
        expect(await storage.eventLog.read(last + 5, 10)).toMatchObject({ events: [], next: last + 5, last });
        await storage.eventLog.archive(T0 + HOUR, 100, T0 + HOUR);
        expect(await storage.eventLog.read(last, 10)).toMatchObject({ events: [], last });
      });
    });

    describe('real-time counters', () => {
      it("keeps a user's largest categories and an item's largest event types, trimmed as events come", async () => {
        const bounded = { ...options, maxCounters: 2 };
        // 'hot' in every event (the largest); each event 3 new categories, every other one a new type.
        const events = Array.from({ length: 70 }, (_, i) =>
          event(`c${i}`, {
            ts: T0 + i,
            type: i % 2 ? 'click' : `t${i}`,
            context: { category: ['hot', `a${i}`, `b${i}`, `c${i}`] },
          }),
        );
        for (let i = 0; i < events.length; i += 5) await storage.events.ingest(events.slice(i, i + 5), bounded, T0);
        const user = (await storage.events.users(['u1'], bounded, T0 + 100)).get('u1')!;
        // Trimmed to 2 as the count passed 32 and 64; then the categories of fewer than 32 events (211 without).
        expect(Object.keys(user.categories).length).toBeLessThanOrEqual(2 + 31 * 4);
        expect(user.categories.hot).toBeGreaterThan(69);
        expect(user.events).toBe(70);
        const item = (await storage.events.items(['i1'], bounded, T0 + 100)).get('i1')!;
        // 36 types without.
        expect(Object.keys(item.popularity).length).toBeLessThanOrEqual(2 + 31);
        expect(item.popularity.click).toBeGreaterThan(34);
      });
    });

    describe('model registry', () => {
      const manifest = bytesOf(JSON.stringify({ name: 'ranker', version: '1' }));
      const weights = bytesOf('0123456789'.repeat(10));

      async function create(version = '1', manifestBytes = manifest, name = 'ranker') {
        return storage.models.createVersion({
          name,
          version,
          manifest: manifestBytes,
          manifestSha256: await sha256(manifestBytes),
          files: [{ file: 'ranking.safetensors', size: weights.length, sha256: await sha256(weights) }],
          by: 'ci',
          now: T0,
        });
      }

      it('creates a version from its manifest once: identical again is fine, different is a conflict', async () => {
        expect(await create()).toBe('created');
        expect(await create()).toBe('identical');
        expect(await create('1', bytesOf('{"other":true}'))).toBe('conflict');
        const v = await storage.models.getVersion('ranker', '1');
        expect(v).toMatchObject({
          name: 'ranker',
          version: '1',
          manifestSize: manifest.length,
          createdBy: 'ci',
          createdAt: T0,
        });
        expect(v!.files).toEqual([
          { file: 'ranking.safetensors', size: 100, sha256: await sha256(weights), uploadedAt: null },
        ]);
        expect(await readAll((await storage.models.openFile('ranker', '1', 'manifest.json'))!.body)).toBe(
          new TextDecoder().decode(manifest),
        );
        expect(await storage.models.getVersion('ranker', '2')).toBeNull();
      });

      it('refuses a file whose sha256 or size differs from the manifest, and stores nothing', async () => {
        await create();
        const bad = bytesOf('9123456789'.repeat(10));
        await expect(storage.models.putFile('ranker', '1', 'ranking.safetensors', bad, T0)).rejects.toBeInstanceOf(
          BlobMismatchError,
        );
        await expect(
          storage.models.putFile('ranker', '1', 'ranking.safetensors', streamOf(weights.slice(1)), T0),
        ).rejects.toMatchObject({ kind: 'size' });
        const longer = new Uint8Array(200).fill(48);
        await expect(
          storage.models.putFile('ranker', '1', 'ranking.safetensors', streamOf(longer), T0),
        ).rejects.toMatchObject({ kind: 'size' });
        expect(await storage.models.openFile('ranker', '1', 'ranking.safetensors')).toBeNull();
        expect((await storage.models.getVersion('ranker', '1'))!.files[0].uploadedAt).toBeNull();
      });

      it(
        'compares a re-upload of a stored file: the same ' +
          'bytes are identical, other bytes of that size are refused',
        async () => {
          await create();
          expect(await storage.models.putFile('ranker', '1', 'ranking.safetensors', weights, T0 + 5)).toBe('stored');
          const other = bytesOf('9876543210'.repeat(10));
          await expect(
            storage.models.putFile('ranker', '1', 'ranking.safetensors', streamOf(other), T0 + 6),
          ).rejects.toMatchObject({ kind: 'sha256' });
          expect(await storage.models.putFile('ranker', '1', 'ranking.safetensors', streamOf(weights), T0 + 7)).toBe(
            'identical',
          );
          expect(await readAll((await storage.models.openFile('ranker', '1', 'ranking.safetensors'))!.body)).toBe(
            new TextDecoder().decode(weights),
          );
        },
      );

      it('keeps the first manifest of a version when another one races it (20 trials)', async () => {
        for (let trial = 0; trial < 20; trial++) {
          const version = `race-${trial}`;
          const a = bytesOf(JSON.stringify({ v: version, by: 'a' }));
          const b = bytesOf(JSON.stringify({ v: version, by: 'b', pad: 'x'.repeat(trial) }));
          const results = await Promise.all([create(version, a), create(version, b)]);
          expect(results.filter((r) => r === 'created').length).toBe(1);
          expect(results.filter((r) => r === 'conflict').length).toBe(1);
          const kept = (await storage.models.getVersion('ranker', version))!;
          const served = await readAll((await storage.models.openFile('ranker', version, 'manifest.json'))!.body);
          expect(await sha256(bytesOf(served))).toBe(kept.manifestSha256);
          expect(served).toBe(new TextDecoder().decode(results[0] === 'created' ? a : b));
        }
      });

      it('appends a promotion only after the entry it was computed from (one conditional write)', async () => {
        await create('1');
        expect(await storage.models.appendPromotion('ranker', 'promote', '1', 'ci', T0, 0)).toMatchObject({ seq: 1 });
        const both = await Promise.all([
          storage.models.appendPromotion('ranker', 'rollback', '1', 'a', T0 + 1, 1),
          storage.models.appendPromotion('ranker', 'rollback', '1', 'b', T0 + 1, 1),
        ]);
        expect(both.filter((r) => r !== null).length).toBe(1);
        expect(await storage.models.appendPromotion('ranker', 'promote', '1', 'ci', T0 + 2, 1)).toBeNull();
        expect((await storage.models.promotions('ranker')).length).toBe(2);
      });

      it('stores a streamed file, serves it whole and by byte range, and treats a re-upload as identical', async () => {
        await create();
        expect(await storage.models.putFile('ranker', '1', 'ranking.safetensors', streamOf(weights), T0 + 5)).toBe(
          'stored',
        );
        expect(await storage.models.putFile('ranker', '1', 'ranking.safetensors', weights, T0 + 6)).toBe('identical');
        const whole = (await storage.models.openFile('ranker', '1', 'ranking.safetensors'))!;
        expect(whole.size).toBe(100);
        expect(await readAll(whole.body)).toBe(new TextDecoder().decode(weights));
        const part = (await storage.models.openFile('ranker', '1', 'ranking.safetensors', { offset: 13, length: 5 }))!;
        expect(part).toMatchObject({ size: 100, range: { offset: 13, length: 5 } });
        expect(await readAll(part.body)).toBe('34567');
        expect((await storage.models.getVersion('ranker', '1'))!.files[0].uploadedAt).toBe(T0 + 5);
      });

      it('lists versions and keeps an ordered promotion history', async () => {
        await create('1');
        await create('2', bytesOf('{"v":2}'));
        expect((await storage.models.listVersions('ranker')).map((v) => v.version)).toEqual(['1', '2']);
        expect((await storage.models.listVersions('ranker'))[0].files).toEqual([
          { file: 'ranking.safetensors', size: 100, sha256: await sha256(weights), uploadedAt: null },
        ]);
        expect(await storage.models.listVersions('nothing')).toEqual([]);
        await storage.models.appendPromotion('ranker', 'promote', '1', 'ci', T0, 0);
        await storage.models.appendPromotion('ranker', 'promote', '2', 'ci', T0 + 1, 1);
        const last = await storage.models.appendPromotion('ranker', 'rollback', '1', 'ops', T0 + 2, 2);
        expect(last).toEqual({ name: 'ranker', seq: 3, action: 'rollback', version: '1', at: T0 + 2, by: 'ops' });
        const history = await storage.models.promotions('ranker');
        expect(history.map((p) => [p.seq, p.action, p.version])).toEqual([
          [1, 'promote', '1'],
          [2, 'promote', '2'],
          [3, 'rollback', '1'],
        ]);
        expect(promotedStack(history)).toEqual(['1']);
        expect(await storage.models.promotionHead('ranker')).toEqual({
          seq: 3,
          promoted: '1',
          rollbackTo: null,
          at: T0 + 2,
        });
        expect(await storage.models.latestPromoted()).toEqual({ name: 'ranker', version: '1' });
        await create('a', bytesOf('{"v":"a"}'), 'other');
        await storage.models.appendPromotion('other', 'promote', 'a', 'ci', T0 + 3, 0);
        expect(await storage.models.latestPromoted()).toEqual({ name: 'other', version: 'a' });
        // Promoting ranker@1 again: no entry, the same rollback, but the most recently promoted model once more
        // (before, a re-promote left the default spec model the other one). Only if the head is where it was read.
        expect(await storage.models.touchPromotion('ranker', 2, T0 + 4)).toBe(false);
        expect(await storage.models.touchPromotion('ranker', 3, T0 + 4)).toBe(true);
        expect(await storage.models.latestPromoted()).toEqual({ name: 'ranker', version: '1' });
        expect(await storage.models.promotionHead('ranker')).toEqual({
          seq: 3,
          promoted: '1',
          rollbackTo: null,
          at: T0 + 4,
        });
        expect(await storage.models.touchPromotion('nothing', 0, T0 + 5)).toBe(false);
        expect(await storage.models.promotionHead('nothing')).toEqual({
          seq: 0,
          promoted: null,
          rollbackTo: null,
          at: null,
        });
        // A page: the newest entries before the cursor, oldest first.
        expect((await storage.models.promotions('ranker', { limit: 2 })).map((p) => p.seq)).toEqual([2, 3]);
        expect((await storage.models.promotions('ranker', { before: 2, limit: 2 })).map((p) => p.seq)).toEqual([1]);
        expect(await storage.models.promotions('nothing')).toEqual([]);
      });

      it('keeps the promoted version and the rollback target as replaying the whole history gives them', async () => {
        // Random promotes and rollbacks (rollbacks on a stack of one or none too, which pop what there is).
        const versions = ['1', '2', '3', '4'];
        for (const v of versions) await create(v, bytesOf(JSON.stringify({ v })));
        let seed = 7;
        const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
        const replayed: Array<{ action: 'promote' | 'rollback'; version: string }> = [];
        for (let i = 0; i < 120; i++) {
          const action = random() < 0.55 ? 'promote' : 'rollback';
          const version = versions[Math.floor(random() * versions.length)];
          expect(await storage.models.appendPromotion('ranker', action, version, 'ci', T0 + i, i)).not.toBeNull();
          replayed.push({ action, version });
          const stack = promotedStack(replayed);
          expect(await storage.models.promotionHead('ranker')).toEqual({
            seq: i + 1,
            promoted: stack.at(-1) ?? null,
            rollbackTo: stack.at(-2) ?? null,
            at: T0 + i,
          });
        }
      });

      it('pages through versions by seq: each once, in creation order, with versions created meanwhile', async () => {
        // Created out of version order at the same time: the order is the creation's, not the name's. Another
        // model's versions take numbers in between.
        for (const [i, version] of ['b', 'a', 'd', 'c', 'f', 'e', 'g'].entries()) {
          await create(version, bytesOf(`{"v":"${version}"}`));
          await create(`${version}${i}`, bytesOf(`{"w":"${version}"}`), 'other');
        }
        const pages: string[][] = [];
        let after = 0;
        for (let n = 0; n < 10; n++) {
          const page = await storage.models.listVersions('ranker', after, 3);
          if (page.length === 0) break;
          pages.push(page.map((v) => v.version));
          expect(page.map((v) => v.seq)).toEqual([...page.map((v) => v.seq)].sort((x, y) => x - y));
          after = page.at(-1)!.seq;
          // Created while a reader pages through: after every cursor handed out so far.
          if (pages.length === 1) await create('late', bytesOf('{"v":"late"}'));
        }
        expect(pages).toEqual([
          ['b', 'a', 'd'],
          ['c', 'f', 'e'],
          ['g', 'late'],
        ]);
        expect((await storage.models.listVersions('ranker', 0, 1)).map((v) => v.version)).toEqual(['b']);
        expect((await storage.models.getVersion('ranker', 'late'))!.seq).toBe(after);
        // Files come with each version of a page.
        expect((await storage.models.listVersions('ranker', 0, 2)).map((v) => v.files.length)).toEqual([1, 1]);
      });

      it('keeps a tombstone for a deleted version: the same name and version is not created again', async () => {
        await create('1');
        expect(await storage.models.putFile('ranker', '1', 'ranking.safetensors', weights, T0)).toBe('stored');
        await create('2', bytesOf('{"v":2}'));
        expect(await storage.models.deleteVersion('ranker', '1', 0, T0)).not.toBeNull();
        // Its files were served as immutable: clients and caches may still hold them under this name.
        expect(await create('1')).toBe('deleted');
        expect(await create('1', bytesOf('{"other":true}'))).toBe('deleted');
        expect(await storage.models.getVersion('ranker', '1')).toBeNull();
        expect(await storage.models.openFile('ranker', '1', 'manifest.json')).toBeNull();
        expect((await storage.models.listVersions('ranker')).map((v) => v.version)).toEqual(['2']);
        // Per model and version: the same version of another model, and other versions, are created as ever.
        expect(await create('1', manifest, 'other')).toBe('created');
        expect(await create('3', bytesOf('{"v":3}'))).toBe('created');
        // A deletion refused (the history moved on) leaves no tombstone.
        await storage.models.appendPromotion('ranker', 'promote', '2', 'ci', T0, 0);
        expect(await storage.models.deleteVersion('ranker', '3', 0, T0)).toBeNull();
        expect(await create('3', bytesOf('{"v":3}'))).toBe('identical');
      });

      it('says the largest whole-number version deleted: a publisher numbering versions goes past it', async () => {
        expect(await storage.models.highestDeletedNumber('ranker')).toBeNull();
        for (const v of ['9', '10', '2b', '', 'v12', '1e3']) if (v) await create(v, bytesOf(JSON.stringify({ v })));
        await create('11', bytesOf('{"v":11}'));
        for (const v of ['9', '10', '2b', 'v12', '1e3'])
          expect(await storage.models.deleteVersion('ranker', v, 0, T0)).not.toBeNull();
        // Numerically (10 above 9), whole numbers only ('1e3', 'v12' and '2b' are names), deleted ones only (11 stays).
        expect(await storage.models.highestDeletedNumber('ranker')).toBe(10);
        expect(await storage.models.highestDeletedNumber('other')).toBeNull();
      });

      it("deletes a version's rows, manifest and files, and nothing of a version with the same bytes", async () => {
        const second = bytesOf('{"v":2}');
        await create('1');
        await create('2', second);
        await create('1', second, 'other');
        for (const [name, version] of [
          ['ranker', '1'],
          ['ranker', '2'],
          ['other', '1'],
        ])
          expect(await storage.models.putFile(name, version, 'ranking.safetensors', weights, T0)).toBe('stored');
        await storage.models.appendPromotion('ranker', 'promote', '2', 'ci', T0, 0);
        expect(await storage.models.deleteVersion('ranker', '1', 1, T0)).toEqual({
          files: 2,
          bytes: manifest.length + weights.length,
        });
        expect(await storage.models.getVersion('ranker', '1')).toBeNull();
        expect(await storage.models.openFile('ranker', '1', 'manifest.json')).toBeNull();
        expect(await storage.models.openFile('ranker', '1', 'ranking.safetensors')).toBeNull();
        expect((await storage.models.listVersions('ranker')).map((v) => v.version)).toEqual(['2']);
        // The other versions (same file bytes, same version name under another model) keep theirs.
        for (const [name, version] of [
          ['ranker', '2'],
          ['other', '1'],
        ]) {
          expect(await readAll((await storage.models.openFile(name, version, 'ranking.safetensors'))!.body)).toBe(
            new TextDecoder().decode(weights),
          );
          expect(await readAll((await storage.models.openFile(name, version, 'manifest.json'))!.body)).toBe('{"v":2}');
        }
        // Once only; a version never uploaded (its manifest alone) goes the same way.
        expect(await storage.models.deleteVersion('ranker', '1', 1, T0)).toBeNull();
        expect(await storage.models.deleteVersion('ranker', 'never', 1, T0)).toBeNull();
        await create('3', bytesOf('{"v":3}'));
        expect(await storage.models.deleteVersion('ranker', '3', 1, T0)).toEqual({ files: 1, bytes: 7 });
        // The promotion history is a log: kept as it was.
        expect((await storage.models.promotions('ranker')).map((p) => [p.seq, p.action, p.version])).toEqual([
          [1, 'promote', '2'],
        ]);
        // A deleted version can be neither promoted nor rolled back to.
        expect(await storage.models.appendPromotion('ranker', 'promote', '1', 'ci', T0, 1)).toBeNull();
        expect(await storage.models.appendPromotion('ranker', 'rollback', '3', 'ci', T0, 1)).toBeNull();
      });

      it('deletes a version only while the promotion history is as read: a racing promote wins or loses', async () => {
        await create('1');
        await storage.models.appendPromotion('ranker', 'promote', '1', 'ci', T0, 0);
        await create('2', bytesOf('{"v":2}'));
        // Read before the promotion of seq 1: refused, nothing deleted.
        expect(await storage.models.deleteVersion('ranker', '2', 0, T0)).toBeNull();
        expect(await storage.models.getVersion('ranker', '2')).not.toBeNull();
        for (let trial = 0; trial < 20; trial++) {
          const version = `race-${trial}`;
          await create(version, bytesOf(JSON.stringify({ v: version })));
          const { seq } = await storage.models.promotionHead('ranker');
          const [deleted, promoted] = await Promise.all([
            storage.models.deleteVersion('ranker', version, seq, T0),
            storage.models.appendPromotion('ranker', 'promote', version, 'ci', T0 + trial, seq),
          ]);
          expect((deleted === null) !== (promoted === null)).toBe(true);
          const exists = (await storage.models.getVersion('ranker', version)) !== null;
          expect(exists).toBe(promoted !== null);
          expect((await storage.models.promotionHead('ranker')).promoted === version).toBe(exists);
        }
      });
    });
  });
}
