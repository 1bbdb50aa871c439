// The Node edge's prepared-statement ingest (sqlite-ingest.ts) against sql.ts's set-based one (D1's):
// the same random batches into two databases must leave the same rows in every table it writes.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { categoryKeys } from './sqlite-ingest.ts';
import { databasePath, openSqliteStorage } from './sqlite.ts';
import type { EventRecord, RealtimeOptions, Storage } from './types.ts';

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(setBasedIngest: boolean): { storage: Storage; dataDir: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-ingest-'));
  dirs.push(dataDir);
  return { storage: openSqliteStorage({ dataDir, setBasedIngest, groupCommit: false }), dataDir };
}

/** A small deterministic generator (mulberry32), so that a failure can be replayed from its seed. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CATEGORIES: unknown[] = ['drama', ['comedy', 'drama'], 7, 2.5, true, null, ['x', 3, 1.5, false], 'comedy'];

function batches(seed: number, count: number, size: number): EventRecord[][] {
  const rnd = random(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  let n = 0;
  const out: EventRecord[][] = [];
  for (let b = 0; b < count; b++) {
    const batch: EventRecord[] = [];
    for (let i = 0; i < size; i++) {
      // Some ids repeat (within and across batches): duplicates must not count twice.
      const id = rnd() < 0.1 && n > 0 ? `e${Math.floor(rnd() * n)}` : `e${n++}`;
      const context: Record<string, unknown> = { device: pick(['ios', 'web']) };
      if (rnd() < 0.4) context.category = pick(CATEGORIES);
      batch.push({
        eventId: id,
        userId: `u${Math.floor(rnd() * 12)}`,
        itemId: `i${Math.floor(rnd() * 20)}`,
        type: pick(['click', 'view', 'buy']),
        value: rnd() < 0.5 ? null : Math.round(rnd() * 100) / 4,
        // Late and early events, and ties on ts (the event log orders those by id).
        ts: T0 + Math.floor(rnd() * 40) * HOUR - 20 * HOUR,
        context,
      });
    }
    out.push(batch);
  }
  return out;
}

function dump(dataDir: string) {
  const db = new Database(databasePath(dataDir), { readonly: true });
  try {
    const all = (sql: string) => db.prepare(sql).all();
    return {
      events: all('SELECT event_id, user_id, item_id, type, value, ts, context, received_at FROM events ORDER BY 1'),
      log: all('SELECT event_id FROM event_log ORDER BY seq'),
      history: all('SELECT * FROM user_history ORDER BY user_id, ts, event_id'),
      activity: all('SELECT * FROM activity ORDER BY entity, entity_id'),
      counters: all('SELECT * FROM counters ORDER BY kind, entity_id, key') as Array<Record<string, number | string>>,
    };
  } finally {
    db.close();
  }
}

describe('sqliteIngest', () => {
  const options: RealtimeOptions = {
    historyLength: 5,
    itemHalfLifeMs: 24 * HOUR,
    userCategoryHalfLifeMs: 6 * HOUR,
    categoryFeature: 'category',
  };

  for (const seed of [1, 2, 3]) {
    it(`writes the same rows as the set-based SQL (seed ${seed}, 30 batches of 40 events)`, async () => {
      const set = open(true);
      const prepared = open(false);
      const items = Array.from({ length: 20 }, (_, i) => ({
        entity: 'item' as const,
        id: `i${i}`,
        features: { category: CATEGORIES[i % CATEGORIES.length] as never },
        eventTs: T0,
      }));
      // Items i16..i19 have no category feature; i0..i15 one of every kind of value.
      for (const s of [set, prepared]) await s.storage.features.push(items.slice(0, 16), T0);
      for (const [b, batch] of batches(seed, 30, 40).entries()) {
        const a = await set.storage.events.ingest(batch, options, T0 + b);
        const p = await prepared.storage.events.ingest(batch, options, T0 + b);
        expect(p).toEqual(a);
      }
      const users = Array.from({ length: 12 }, (_, i) => `u${i}`);
      // What a feature read sees, with the decayed counters to 12 significant digits (sums in another order).
      const read = async (s: Storage) =>
        [...(await s.events.users(users, options, T0 + 50 * HOUR))].map(([id, u]) => ({
          id,
          ...u,
          categories: Object.entries(u.categories).map(([k, v]) => [k, Number(v.toPrecision(12))]),
        }));
      expect(await read(prepared.storage)).toEqual(await read(set.storage));
      await set.storage.close();
      await prepared.storage.close();
      const [x, y] = [dump(set.dataDir), dump(prepared.dataDir)];
      expect(y.events).toEqual(x.events);
      expect(y.log).toEqual(x.log);
      expect(y.history).toEqual(x.history);
      expect(y.activity).toEqual(x.activity);
      expect(y.counters.map(({ value, ...k }) => k)).toEqual(x.counters.map(({ value, ...k }) => k));
      // Sums in a different order: equal to ~1e-12 relative.
      y.counters.forEach((c, i) =>
        expect(Math.abs((c.value as number) - (x.counters[i].value as number))).toBeLessThan(
          1e-12 * Math.max(1, x.counters[i].value as number),
        ),
      );
      expect(x.history.length).toBeGreaterThan(0);
      expect(x.counters.some((c) => c.kind === 'user_category')).toBe(true);
    });
  }

  it('keeps no history with a history length of 0', async () => {
    const s = open(false);
    const e = { eventId: 'a', userId: 'u', itemId: 'i', type: 'click', value: null, ts: T0, context: {} };
    await s.storage.events.ingest([e], { ...options, historyLength: 0 }, T0);
    expect((await s.storage.events.users(['u'], options, T0)).get('u')?.history).toEqual([]);
    await s.storage.close();
  });

  it('takes the categories json_each gives as text or integer', () => {
    expect(categoryKeys('a')).toEqual(['a']);
    expect(categoryKeys(['a', 3, 2.5, true, null, ['b']])).toEqual(['a', '3']);
    expect(categoryKeys({ x: 'a', y: 1.5 })).toEqual(['a']);
    expect(categoryKeys(null)).toEqual([]);
    expect(categoryKeys(false)).toEqual([]);
  });
});
