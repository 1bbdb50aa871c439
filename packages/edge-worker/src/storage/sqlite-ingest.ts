// Event ingestion for the Node edge (better-sqlite3): the same rows as sql.ts's set-based statements
// (which D1 runs), written with prepared statements, one call per row, and the real-time updates of
// a batch summed in memory first, so that each touched counter and activity row is written once
// per transaction. Measured on this edge: the set-based form parses every event's JSON seven times
// and groups in temporary B-trees; this one does neither. See docs/ARCHITECTURE.md, "Node edge".
import type Database from 'better-sqlite3';
import type { EventRecord, EventStore, IngestResult, RealtimeOptions } from './types.ts';

const INSERT_EVENT =
  'INSERT OR IGNORE INTO events (event_id, batch_id, user_id, item_id, type, value, ts, context, received_at) ' +
  'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)';
const LOG_EVENT = 'INSERT INTO event_log (event_id) VALUES (?)';
const INSERT_HISTORY =
  'INSERT OR IGNORE INTO user_history (user_id, ts, event_id, item_id, type) VALUES (?, ?, ?, ?, ?)';
// Everything older than the user's N-th newest interaction (none when the user has fewer than N).
const TRIM_HISTORY =
  'DELETE FROM user_history WHERE user_id = ? AND (ts, event_id) < (SELECT ts, event_id FROM user_history ' +
  'WHERE user_id = ? ORDER BY ts DESC, event_id DESC LIMIT 1 OFFSET ?)';
const ITEM_CATEGORY = "SELECT value FROM features WHERE entity = 'item' AND entity_id = ? AND name = ?";
// The merge of sql.ts's counterUpsert: the stored and the new value decayed to the later of their times.
const UPSERT_COUNTER = `
INSERT INTO counters (kind, entity_id, key, value, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (kind, entity_id, key) DO UPDATE SET
  value = CASE WHEN excluded.updated_at >= counters.updated_at
    THEN counters.value * pow(2.0, (counters.updated_at - excluded.updated_at) * 1.0 / ?) + excluded.value
    ELSE counters.value + excluded.value * pow(2.0, (excluded.updated_at - counters.updated_at) * 1.0 / ?) END,
  updated_at = max(counters.updated_at, excluded.updated_at)`;
const UPSERT_ACTIVITY = `
INSERT INTO activity (entity, entity_id, first_seen, last_seen, events) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (entity, entity_id) DO UPDATE SET
  first_seen = min(activity.first_seen, excluded.first_seen),
  last_seen = max(activity.last_seen, excluded.last_seen),
  events = activity.events + excluded.events
RETURNING events`;

/** A scalar that json_each would give as type 'text' or 'integer', as the counter key it becomes. */
function categoryKey(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  return null;
}

/**
 * The categories json_each yields for a JSON value with type 'text' or 'integer' (sql.ts,
 * USER_CATEGORY_SQL): a scalar itself, an array's elements, an object's member values.
 */
export function categoryKeys(value: unknown): string[] {
  const members = Array.isArray(value)
    ? value
    : value !== null && typeof value === 'object'
      ? Object.values(value)
      : [value];
  const out: string[] = [];
  for (const m of members) {
    const k = categoryKey(m);
    if (k !== null) out.push(k);
  }
  return out;
}

/** Decayed sums per key: Σ 2^((ts − newest) / half-life), at the newest event time of the key. */
class DecayedSums {
  private readonly times = new Map<string, number[]>();
  private readonly owners = new Map<string, [string, string]>();
  add(entityId: string, key: string, ts: number): void {
    const k = `${entityId}\u0000${key}`;
    let list = this.times.get(k);
    if (!list) {
      this.times.set(k, (list = []));
      this.owners.set(k, [entityId, key]);
    }
    list.push(ts);
  }
  *rows(halfLifeMs: number): Generator<[string, string, number, number]> {
    for (const [k, list] of this.times) {
      let newest = -Infinity;
      for (const ts of list) if (ts > newest) newest = ts;
      let sum = 0;
      for (const ts of list) sum += Math.pow(2, (ts - newest) / halfLifeMs);
      const [entityId, key] = this.owners.get(k) as [string, string];
      yield [entityId, key, sum, newest];
    }
  }
}

type Activity = { first: number; last: number; n: number };
const touch = (map: Map<string, Activity>, id: string, ts: number) => {
  const a = map.get(id);
  if (!a) map.set(id, { first: ts, last: ts, n: 1 });
  else {
    if (ts < a.first) a.first = ts;
    if (ts > a.last) a.last = ts;
    a.n++;
  }
};

/**
 * EventStore.ingest over a better-sqlite3 connection, in one IMMEDIATE transaction run by
 * `transaction` (the driver's: it also empties its read cache). Same rows as sql.ts's ingest.
 * @example storage.events.ingest = sqliteIngest(db, driver.transaction);
 */
export function sqliteIngest(db: Database.Database, transaction: <T>(fn: () => T) => T): EventStore['ingest'] {
  const insertEvent = db.prepare(INSERT_EVENT);
  const logEvent = db.prepare(LOG_EVENT);
  const insertHistory = db.prepare(INSERT_HISTORY);
  const trimHistory = db.prepare(TRIM_HISTORY);
  const clearHistory = db.prepare('DELETE FROM user_history WHERE user_id = ?');
  const itemCategory = db.prepare(ITEM_CATEGORY).pluck();
  const upsertCounter = db.prepare(UPSERT_COUNTER);
  const upsertActivity = db.prepare(UPSERT_ACTIVITY).pluck();

  function write(events: EventRecord[], options: RealtimeOptions, now: number): IngestResult {
    const batchId = crypto.randomUUID();
    const fresh: EventRecord[] = [];
    for (const e of events) {
      const { changes } = insertEvent.run(
        e.eventId,
        batchId,
        e.userId,
        e.itemId,
        e.type,
        e.value,
        e.ts,
        JSON.stringify(e.context),
        now,
      );
      if (changes > 0) fresh.push(e);
    }
    const result: IngestResult = { accepted: [], duplicate: [] };
    const inserted = new Set(fresh.map((e) => e.eventId));
    for (const e of events) {
      if (inserted.delete(e.eventId)) result.accepted.push(e.eventId);
      else result.duplicate.push(e.eventId);
    }
    if (fresh.length === 0) return result;

    // The event log in time order (migrations/0002_event_log.sql); ids are ASCII (schemas.ts), so
    // JavaScript's order of strings is SQLite's BINARY order.
    const ordered = [...fresh].sort((a, b) =>
      a.ts !== b.ts ? a.ts - b.ts : a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0,
    );
    for (const e of ordered) logEvent.run(e.eventId);

    const users = new Map<string, Activity>();
    const items = new Map<string, Activity>();
    const popularity = new DecayedSums();
    const categories = new DecayedSums();
    const itemCategories = new Map<string, unknown>();
    for (const e of fresh) {
      insertHistory.run(e.userId, e.ts, e.eventId, e.itemId, e.type);
      touch(users, e.userId, e.ts);
      touch(items, e.itemId, e.ts);
      popularity.add(e.itemId, e.type, e.ts);
      // The context's `category` when it has one (even null), else the item's category feature.
      let category: unknown;
      if (Object.hasOwn(e.context, 'category')) category = e.context.category;
      else {
        if (!itemCategories.has(e.itemId)) {
          const text = itemCategory.get(e.itemId, options.categoryFeature) as string | undefined;
          itemCategories.set(e.itemId, text === undefined ? null : JSON.parse(text));
        }
        category = itemCategories.get(e.itemId);
      }
      for (const key of categoryKeys(category)) categories.add(e.userId, key, e.ts);
    }
    for (const [id, key, value, at] of popularity.rows(options.itemHalfLifeMs))
      upsertCounter.run('item_popularity', id, key, value, at, options.itemHalfLifeMs, options.itemHalfLifeMs);
    for (const [id, key, value, at] of categories.rows(options.userCategoryHalfLifeMs))
      upsertCounter.run(
        'user_category',
        id,
        key,
        value,
        at,
        options.userCategoryHalfLifeMs,
        options.userCategoryHalfLifeMs,
      );
    for (const [id, a] of users) {
      // A user with at most N events in all has at most N interactions kept: nothing to trim.
      const total = upsertActivity.get('user', id, a.first, a.last, a.n) as number;
      if (total <= options.historyLength) continue;
      if (options.historyLength > 0) trimHistory.run(id, id, options.historyLength - 1);
      else clearHistory.run(id);
    }
    for (const [id, a] of items) upsertActivity.get('item', id, a.first, a.last, a.n);
    return result;
  }

  return async (events, options, now) => {
    if (events.length === 0) return { accepted: [], duplicate: [] };
    return transaction(() => write(events, options, now));
  };
}
