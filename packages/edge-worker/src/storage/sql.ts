// The edge's storage in SQL, shared by SQLite (Node) and D1 (Workers): both speak SQLite's
// dialect, so features, events, real-time features and the registry's metadata are one set of
// statements. Bulk writes pass their rows as one JSON parameter read with json_each (D1 allows
// 100 bound parameters per statement; this way a batch of 1,000 events is a handful of statements).
import type {
  BlobStore,
  EntityKind,
  EventLog,
  EventRecord,
  EventStore,
  FeatureStore,
  IngestResult,
  ItemRealtime,
  LoggedEvent,
  ModelFileRecord,
  ModelStore,
  ModelVersionRecord,
  NewVersion,
  PromotionHead,
  PromotionRecord,
  RealtimeOptions,
  SqlDriver,
  SqlStatement,
  Storage,
  StoredFeature,
  Touched,
  UserRealtime,
} from './types.ts';
import { MIN_POSITIVE_RATING, POSITIVE_TYPES, RATING_TYPE } from '@vireo/core';
import { sqlFeatureLog } from './feature-log.ts';

/** JSON arrays larger than this are split over several statements (D1 caps a bound string at 2 MB). */
const MAX_JSON_PARAM = 900_000;

/** Splits rows into JSON arrays of at most MAX_JSON_PARAM characters each. */
export function jsonChunks(rows: unknown[][]): string[] {
  const chunks: string[] = [];
  let parts: string[] = [];
  let length = 2;
  for (const row of rows) {
    const text = JSON.stringify(row);
    if (parts.length > 0 && length + text.length + 1 > MAX_JSON_PARAM) {
      chunks.push(`[${parts.join(',')}]`);
      parts = [];
      length = 2;
    }
    parts.push(text);
    length += text.length + 1;
  }
  if (parts.length > 0) chunks.push(`[${parts.join(',')}]`);
  return chunks;
}

/** A batch that changes no entity's answer (a read, the event log's archive). */
const NOTHING: Touched = { user: [], item: [] };

/** The entities of `rows`, by kind (SqlDriver.batch's `touched`). */
function touchedBy(rows: Array<{ entity: EntityKind; id: string }>): Touched {
  const touched: Touched = { user: [], item: [] };
  for (const r of rows) touched[r.entity].push(r.id);
  return touched;
}

/** A cache of feature rows in front of the SQL store (KV on Workers). */
export interface FeatureRowCache {
  get(entity: EntityKind, ids: string[]): Promise<Map<string, Record<string, StoredFeature> | null>>;
  set(entity: EntityKind, rows: Map<string, Record<string, StoredFeature> | null>): Promise<void>;
  invalidate(keys: Array<{ entity: EntityKind; id: string }>): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Features

const PUSH_SQL = `
INSERT INTO features (entity, entity_id, name, value, event_ts, written_at)
SELECT j.value ->> '$[0]', j.value ->> '$[1]', j.value ->> '$[2]', j.value ->> '$[3]', j.value ->> '$[4]', ?2
FROM json_each(?1) AS j WHERE true
ON CONFLICT (entity, entity_id, name) DO UPDATE SET value = excluded.value, event_ts = excluded.event_ts,
  written_at = excluded.written_at
WHERE excluded.event_ts >= features.event_ts
RETURNING name`;

const READ_ONE_SQL = 'SELECT entity_id, name, value, event_ts FROM features WHERE entity = ?1 AND entity_id = ?2';
const READ_MANY_SQL =
  'SELECT entity_id, name, value, event_ts FROM features WHERE ' +
  'entity = ?1 AND entity_id IN (SELECT value FROM json_each(?2))';

type FeatureSqlRow = { entity_id: string; name: string; value: string; event_ts: number };

function sqlFeatureStore(driver: SqlDriver, cache: FeatureRowCache | null): FeatureStore {
  async function readSql(entity: EntityKind, ids: string[]) {
    const rows =
      ids.length === 1
        ? await driver.query<FeatureSqlRow>(READ_ONE_SQL, [entity, ids[0]])
        : await driver.query<FeatureSqlRow>(READ_MANY_SQL, [entity, JSON.stringify(ids)]);
    const out = new Map<string, Record<string, StoredFeature>>();
    for (const r of rows) {
      let row = out.get(r.entity_id);
      if (!row) out.set(r.entity_id, (row = {}));
      row[r.name] = { value: JSON.parse(r.value), eventTs: r.event_ts };
    }
    return out;
  }

  return {
    async push(rows, now) {
      // Last write per (entity, id, name) inside one request wins by event time, then order.
      const latest = new Map<string, unknown[]>();
      for (const row of rows) {
        for (const [name, value] of Object.entries(row.features)) {
          const key = `${row.entity}\u0000${row.id}\u0000${name}`;
          const prev = latest.get(key);
          if (!prev || (prev[4] as number) <= row.eventTs)
            latest.set(key, [row.entity, row.id, name, JSON.stringify(value), row.eventTs]);
        }
      }
      const statements = jsonChunks([...latest.values()]).map((json) => ({ sql: PUSH_SQL, params: [json, now] }));
      const results = await driver.batch(statements, touchedBy(rows));
      const written = results.reduce((n, r) => n + r.length, 0);
      if (cache) {
        const keys = new Map(rows.map((r) => [`${r.entity}\u0000${r.id}`, { entity: r.entity, id: r.id }]));
        await cache.invalidate([...keys.values()]);
      }
      return { written, stale: latest.size - written };
    },

    async read(entity, ids) {
      if (ids.length === 0) return new Map();
      if (!cache) return readSql(entity, ids);
      const cached = await cache.get(entity, ids);
      const missing = ids.filter((id) => !cached.has(id));
      const out = new Map<string, Record<string, StoredFeature>>();
      for (const [id, row] of cached) if (row) out.set(id, row);
      if (missing.length > 0) {
        const fresh = await readSql(entity, missing);
        const fill = new Map<string, Record<string, StoredFeature> | null>();
        for (const id of missing) {
          const row = fresh.get(id) ?? null;
          fill.set(id, row);
          if (row) out.set(id, row);
        }
        await cache.set(entity, fill);
      }
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Events and real-time features

// The statements of one ingest, in one transaction. The first marks where its rows begin (the
// largest rowid of `events` so far, migrations/0004_ingest.sql); the others read the rows it
// inserted as `rowid > MARK`, a range of the table's own B-tree, and write the real-time features
// once per (entity, key) of the batch.
const MARK_SQL =
  'INSERT OR REPLACE INTO ingest_mark (k, after_rowid) VALUES (0, (SELECT coalesce(max(rowid), 0) FROM events))';
const MARK = '(SELECT after_rowid FROM ingest_mark WHERE k = 0)';

// Duplicates are dropped by the (event_id, user_id) key (migrations/0006_event_id_per_user.sql: ids are unique per
// user); RETURNING lists the keys that went in. Rows are numbered (`seq`, the event log's order:
// migrations/0005_event_seq.sql) in the order they are inserted.
const INSERT_EVENTS_SQL = `
INSERT OR IGNORE INTO events (event_id, user_id, item_id, type, value, ts, context, received_at)
SELECT j.value ->> '$[0]', j.value ->> '$[1]', j.value ->> '$[2]', j.value ->> '$[3]', j.value ->> '$[4]',
  j.value ->> '$[5]', j.value ->> '$[6]', ?2
FROM json_each(?1) AS j WHERE true
RETURNING user_id, event_id`;

/** An event's idempotency key, user and id ('\u0000' is in neither: ID_PATTERN). */
const eventKey = (userId: string, eventId: string) => `${userId}\u0000${eventId}`;

// A user's history holds its positives only (@vireo/core's isPositive), the history the trainer reads: a view or an
// impression in it was an input the models never saw in training.
const POSITIVE_SQL =
  `(type IN (${[...POSITIVE_TYPES].map((t) => `'${t}'`).join(', ')}) OR ` +
  `(type = '${RATING_TYPE}' AND value >= ${MIN_POSITIVE_RATING}))`;

const INSERT_HISTORY_SQL = `
INSERT OR IGNORE INTO user_history (user_id, ts, event_id, item_id, type)
SELECT user_id, ts, event_id, item_id, type FROM events WHERE rowid > ${MARK} AND ${POSITIVE_SQL}`;

// Per user of the batch whose history is due a trim (below), the rows older than its ?1-th newest:
// found from the key (user_id, ts, event_id) by short walks down the user's newest entries, not by
// ranking all of them: one for the cut's time, a second for its event_id only where there is a cut (a
// full history). The cuts are materialized: inlined, SQLite walked again for every row it compared
// with them (~7 walks per full history where 2 do).
// The trim is amortized (docs/ARCHITECTURE.md, "The ingest path"): a history may hold up to ?2 - 1 rows
// beyond its ?1 (the slack) and is cut back to ?1 when the user's event count (`activity`, upserted
// before this statement in the same transaction) crosses a multiple of ?2, i.e. once per ?2 of the
// user's events rather than on every batch. Reads return the newest ?1 rows only (HISTORY_SQL and
// HISTORY_ONE_SQL), which are the rows a trim on every batch would have kept: rows only come in newest
// first and go out oldest first. CAST: D1 may bind ?2 as a REAL, and the counts are never negative.
const TRIM_HISTORY_SQL = `
WITH due AS MATERIALIZED (
  SELECT b.user_id FROM (SELECT user_id, count(*) AS n FROM events WHERE rowid > ${MARK} GROUP BY user_id) AS b
  CROSS JOIN activity AS a ON a.entity = 'user' AND a.entity_id = b.user_id
  WHERE CAST(a.events / ?2 AS INTEGER) != CAST((a.events - b.n) / ?2 AS INTEGER)
), cut AS MATERIALIZED (
  SELECT u.user_id,
    (SELECT ts FROM user_history WHERE user_id = u.user_id ORDER BY ts DESC, event_id DESC LIMIT 1 OFFSET ?1 - 1)
      AS ts
  FROM due AS u
), c AS MATERIALIZED (
  SELECT user_id, ts AS cut_ts,
    (SELECT event_id FROM user_history AS x WHERE x.user_id = cut.user_id ORDER BY x.ts DESC, x.event_id DESC
      LIMIT 1 OFFSET ?1 - 1) AS cut_id
  FROM cut WHERE ts IS NOT NULL
)
DELETE FROM user_history WHERE (user_id, ts, event_id) IN (
  SELECT h.user_id, h.ts, h.event_id FROM c JOIN user_history AS h ON h.user_id = c.user_id AND h.ts <= c.cut_ts
  WHERE (h.ts, h.event_id) < (c.cut_ts, c.cut_id))`;

// Per entity of the batch whose counters are due a trim, every counter of `kind` but its ?1 largest (decayed to
// ?3, the ingest's time, with half-life ?4; ties by key): a user's categories and an item's event types are the
// client's choosing, so without it one visitor could grow any row (an item's, read by everyone) without bound.
// Amortized like TRIM_HISTORY_SQL: due when the entity's event count (`activity`, upserted before this statement)
// crosses a multiple of ?2, so an entity holds at most ?1 counters plus those of ?2 - 1 events beyond them.
const trimCountersSql = (kind: string, entity: EntityKind, column: string) => `
WITH due AS MATERIALIZED (
  SELECT b.id FROM (SELECT ${column} AS id, count(*) AS n FROM events WHERE rowid > ${MARK} GROUP BY ${column}) AS b
  CROSS JOIN activity AS a ON a.entity = '${entity}' AND a.entity_id = b.id
  WHERE CAST(a.events / ?2 AS INTEGER) != CAST((a.events - b.n) / ?2 AS INTEGER)
)
DELETE FROM counters WHERE kind = '${kind}' AND (entity_id, key) IN (
  SELECT entity_id, key FROM (
    SELECT c.entity_id, c.key, row_number() OVER (
      PARTITION BY c.entity_id ORDER BY c.value * pow(2.0, (c.updated_at - ?3) * 1.0 / ?4) DESC, c.key
    ) AS r
    FROM due CROSS JOIN counters AS c ON c.kind = '${kind}' AND c.entity_id = due.id
  ) WHERE r > ?1
)`;
const TRIM_USER_CATEGORIES_SQL = trimCountersSql('user_category', 'user', 'user_id');
const TRIM_ITEM_POPULARITY_SQL = trimCountersSql('item_popularity', 'item', 'item_id');

/** Counters kept per user (categories) and per item (event types) by default (RealtimeOptions.maxCounters). */
export const DEFAULT_MAX_COUNTERS = 64;
/**
 * A user's or item's counters are trimmed once per this many of its events: a user then holds at most
 * DEFAULT_MAX_COUNTERS + 31 × 32 categories (an event names up to 32) and an item 64 + 31 event types. Trimming
 * more often bounds them tighter for more of the ingest's CPU (every 8: ~12% of it, every 32: ~7%;
 * bench/ingest-statements.ts).
 */
export const COUNTER_TRIM_EVERY = 32;

/** Rows a user's history may hold beyond `historyLength` before a trim (RealtimeOptions.historySlack). */
export const historySlack = (options: RealtimeOptions) => options.historySlack ?? Math.ceil(options.historyLength / 4);

// Decayed counter upsert: a batch's contributions are summed at the batch's newest event time,
// then merged with the stored value at whichever of the two times is later (events may arrive late).
const counterUpsert = (kind: string, select: string) => `
INSERT INTO counters (kind, entity_id, key, value, updated_at)
SELECT '${kind}', entity_id, key, sum(pow(2.0, (ts - m) * 1.0 / ?1)), m FROM (${select}) WHERE true GROUP BY
  entity_id, key
ON CONFLICT (kind, entity_id, key) DO UPDATE SET
  value = CASE WHEN excluded.updated_at >= counters.updated_at
    THEN counters.value * pow(2.0, (counters.updated_at - excluded.updated_at) * 1.0 / ?1) + excluded.value
    ELSE counters.value + excluded.value * pow(2.0, (excluded.updated_at - counters.updated_at) * 1.0 / ?1) END,
  updated_at = max(counters.updated_at, excluded.updated_at)`;

const ITEM_POPULARITY_SQL = counterUpsert(
  'item_popularity',
  `
  SELECT item_id AS entity_id, type AS key, ts, max(ts) OVER (PARTITION BY item_id, type) AS m
  FROM events WHERE rowid > ${MARK}`,
);

// An event's categories: its context's `category` (string or list) or else the item's category feature.
const USER_CATEGORY_SQL = counterUpsert(
  'user_category',
  `
  SELECT e.user_id AS entity_id, c.value AS key, e.ts, max(e.ts) OVER (PARTITION BY e.user_id, c.value) AS m
  FROM events AS e, json_each(coalesce(e.context -> '$.category',
      (SELECT f.value FROM features AS f WHERE f.entity = 'item' AND f.entity_id = e.item_id AND f.name =
        ?2), '[]')) AS c
  WHERE e.rowid > ${MARK} AND c.type IN ('text', 'integer')`,
);

const activityUpsert = (entity: EntityKind, column: string) => `
INSERT INTO activity (entity, entity_id, first_seen, last_seen, events)
SELECT '${entity}', id, first_seen, last_seen, n FROM (
  SELECT ${column} AS id, min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS n FROM events WHERE
    rowid > ${MARK} GROUP BY ${column}
) WHERE true
ON CONFLICT (entity, entity_id) DO UPDATE SET
  first_seen = min(activity.first_seen, excluded.first_seen),
  last_seen = max(activity.last_seen, excluded.last_seen),
  events = activity.events + excluded.events`;

const USER_ACTIVITY_SQL = activityUpsert('user', 'user_id');
const ITEM_ACTIVITY_SQL = activityUpsert('item', 'item_id');

export const decay = (value: number, updatedAt: number, now: number, halfLifeMs: number) =>
  value * Math.pow(2, -Math.max(0, now - updatedAt) / halfLifeMs);

type ActivityRow = { entity_id: string; first_seen: number; last_seen: number; events: number };
type CounterRow = { entity_id: string; key: string; value: number; updated_at: number };
type HistoryRow = { user_id: string; item_id: string; type: string; ts: number };

const ACTIVITY_SQL =
  'SELECT entity_id, first_seen, last_seen, events FROM activity ' +
  'WHERE entity = ?1 AND entity_id IN (SELECT value FROM json_each(?2))';
const COUNTERS_SQL =
  'SELECT entity_id, key, value, updated_at FROM counters ' +
  'WHERE kind = ?1 AND entity_id IN (SELECT value FROM json_each(?2))';
// A history may hold a slack of rows beyond its length (TRIM_HISTORY_SQL): reads keep the newest ?2,
// in SQL for one user, while building the answer for several.
const HISTORY_SQL =
  'SELECT user_id, item_id, type, ts FROM user_history WHERE user_id IN ' +
  '(SELECT value FROM json_each(?1)) ORDER BY user_id, ts DESC, event_id DESC';
// One entity (a GET of one row): the same reads by key, without JSON-encoding a one-id list.
const ACTIVITY_ONE_SQL =
  'SELECT entity_id, first_seen, last_seen, events FROM activity WHERE entity = ?1 AND entity_id = ?2';
const COUNTERS_ONE_SQL = 'SELECT entity_id, key, value, updated_at FROM counters WHERE kind = ?1 AND entity_id = ?2';
const HISTORY_ONE_SQL =
  'SELECT user_id, item_id, type, ts FROM user_history WHERE user_id = ?1 ORDER BY ts DESC, event_id DESC LIMIT ?2';

/**
 * The reads of a feature lookup (stored rows, activity, counters, history): the ones a driver's
 * read cache may answer (sqlite.ts); every other read goes to the database.
 */
export const FEATURE_READS: ReadonlySet<string> = new Set([
  READ_ONE_SQL,
  READ_MANY_SQL,
  ACTIVITY_SQL,
  COUNTERS_SQL,
  HISTORY_SQL,
  ACTIVITY_ONE_SQL,
  COUNTERS_ONE_SQL,
  HISTORY_ONE_SQL,
]);

function sqlEventStore(driver: SqlDriver): EventStore {
  async function activity(entity: EntityKind, ids: string[]) {
    if (ids.length === 1) return driver.query<ActivityRow>(ACTIVITY_ONE_SQL, [entity, ids[0]]);
    return driver.query<ActivityRow>(ACTIVITY_SQL, [entity, JSON.stringify(ids)]);
  }
  async function counters(kind: string, ids: string[]) {
    if (ids.length === 1) return driver.query<CounterRow>(COUNTERS_ONE_SQL, [kind, ids[0]]);
    return driver.query<CounterRow>(COUNTERS_SQL, [kind, JSON.stringify(ids)]);
  }

  return {
    async ingest(events, options, now) {
      if (events.length === 0) return { accepted: [], duplicate: [] };
      // The log's order is time order within a transaction: the first occurrence of each (user, id) (the
      // one the key keeps), sorted by (ts, event_id), inserted in that order.
      const first = new Map<string, EventRecord>();
      for (const e of events) {
        const key = eventKey(e.userId, e.eventId);
        if (!first.has(key)) first.set(key, e);
      }
      const sorted = [...first.values()].sort(
        (a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0),
      );
      const rows = sorted.map((e) => [e.eventId, e.userId, e.itemId, e.type, e.value, e.ts, JSON.stringify(e.context)]);
      const inserts = jsonChunks(rows).map((json) => ({ sql: INSERT_EVENTS_SQL, params: [json, now] }));
      const maxCounters = options.maxCounters ?? DEFAULT_MAX_COUNTERS;
      const statements: SqlStatement[] = [
        { sql: MARK_SQL, params: [] },
        ...inserts,
        { sql: INSERT_HISTORY_SQL, params: [] },
        { sql: ITEM_POPULARITY_SQL, params: [options.itemHalfLifeMs] },
        { sql: USER_CATEGORY_SQL, params: [options.userCategoryHalfLifeMs, options.categoryFeature] },
        { sql: USER_ACTIVITY_SQL, params: [] },
        { sql: ITEM_ACTIVITY_SQL, params: [] },
        // After the user activity upsert: the trim is due by the user's event count (TRIM_HISTORY_SQL).
        { sql: TRIM_HISTORY_SQL, params: [options.historyLength, historySlack(options) + 1] },
        // After the activity upserts too (trimCountersSql).
        {
          sql: TRIM_USER_CATEGORIES_SQL,
          params: [maxCounters, COUNTER_TRIM_EVERY, now, options.userCategoryHalfLifeMs],
        },
        { sql: TRIM_ITEM_POPULARITY_SQL, params: [maxCounters, COUNTER_TRIM_EVERY, now, options.itemHalfLifeMs] },
      ];
      // A user's answer is built from its history, category counters and activity; an item's from its
      // popularity and activity: the batch's users and items are all it changes (the events table itself
      // is read by the event log only).
      const results = await driver.batch(statements, {
        user: [...new Set(sorted.map((e) => e.userId))],
        item: [...new Set(sorted.map((e) => e.itemId))],
      });
      const inserted = new Set<string>();
      for (const r of results.slice(1, 1 + inserts.length))
        for (const row of r as Array<{ user_id: string; event_id: string }>)
          inserted.add(eventKey(row.user_id, row.event_id));
      // The first occurrence of an inserted key is accepted; every other one is a duplicate.
      const result: IngestResult = { accepted: [], duplicate: [] };
      events.forEach((e, i) => {
        if (inserted.delete(eventKey(e.userId, e.eventId))) result.accepted.push(i);
        else result.duplicate.push(i);
      });
      return result;
    },

    async users(ids, options, now) {
      const out = new Map<string, UserRealtime>();
      if (ids.length === 0) return out;
      const [acts, history, cats] = await Promise.all([
        activity('user', ids),
        ids.length === 1
          ? driver.query<HistoryRow>(HISTORY_ONE_SQL, [ids[0], options.historyLength])
          : driver.query<HistoryRow>(HISTORY_SQL, [JSON.stringify(ids)]),
        counters('user_category', ids),
      ]);
      for (const a of acts)
        out.set(a.entity_id, {
          history: [],
          categories: {},
          counters: [],
          firstSeen: a.first_seen,
          lastSeen: a.last_seen,
          events: a.events,
        });
      for (const h of history) {
        const u = out.get(h.user_id);
        if (u && u.history.length < options.historyLength)
          u.history.push({ itemId: h.item_id, type: h.type, ts: h.ts });
      }
      for (const c of cats) {
        const u = out.get(c.entity_id);
        if (!u) continue;
        u.categories[c.key] = decay(c.value, c.updated_at, now, options.userCategoryHalfLifeMs);
        u.counters!.push({ key: c.key, value: c.value, updatedAt: c.updated_at });
      }
      return out;
    },

    async items(ids, options, now) {
      const out = new Map<string, ItemRealtime>();
      if (ids.length === 0) return out;
      const [acts, pops] = await Promise.all([activity('item', ids), counters('item_popularity', ids)]);
      for (const a of acts)
        out.set(a.entity_id, { popularity: {}, firstSeen: a.first_seen, lastSeen: a.last_seen, events: a.events });
      for (const p of pops) {
        const item = out.get(p.entity_id);
        if (item) item.popularity[p.key] = decay(p.value, p.updated_at, now, options.itemHalfLifeMs);
      }
      return out;
    },

    async get(userId, eventId) {
      const [row] = await driver.query<{
        event_id: string;
        user_id: string;
        item_id: string;
        type: string;
        value: number | null;
        ts: number;
        context: string;
      }>(
        'SELECT event_id, user_id, item_id, type, value, ts, context FROM events WHERE user_id = ?1 AND event_id = ?2',
        [userId, eventId],
      );
      if (!row) return null;
      return {
        eventId: row.event_id,
        userId: row.user_id,
        itemId: row.item_id,
        type: row.type,
        value: row.value,
        ts: row.ts,
        context: JSON.parse(row.context),
      };
    },
  } satisfies EventStore;
}

// ---------------------------------------------------------------------------------------------
// The event log: read back from a cursor; older events archived to the blob store as NDJSON.

type LogRow = {
  seq: number;
  event_id: string;
  user_id: string;
  item_id: string;
  type: string;
  value: number | null;
  ts: number;
  context: string;
  received_at: number;
};
/** Bytes of an exported event beyond its ids, type and context: keys, punctuation, numbers. */
export const EVENT_WIRE_OVERHEAD = 160;
/** The largest archive batch, in bytes of its events (a blob is read whole when a page starts in it). */
export const ARCHIVE_BATCH_BYTES = 4 << 20;

type ArchiveRow = { first_seq: number; last_seq: number; blob: string; bytes: number; sha256: string };

// At most ?2 events after ?1, and no more than ?3 bytes of them (estimated from their stored text, in UTF-8 bytes:
// ids and types are ASCII; always the first one, so the cursor moves): the sizes are summed over the page's keys
// and lengths alone, so that a page of large contexts is cut before any of it is read into memory.
const LOG_PAGE_SQL = `
WITH page AS (
  SELECT seq, sum(n) OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING) - n AS before FROM (
    SELECT seq, length(event_id) + length(user_id) + length(item_id) + length(type)
      + length(CAST(context AS BLOB)) + ${EVENT_WIRE_OVERHEAD} AS n
    FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2
  )
)
SELECT e.seq, e.event_id, e.user_id, e.item_id, e.type, e.value, e.ts, e.context, e.received_at
FROM page JOIN events AS e ON e.seq = page.seq WHERE page.before < ?3 ORDER BY e.seq`;
// The first archived batch with events after ?1: the one holding ?1 + 1, else the next one. Batches are disjoint
// ranges in order, so both are found by first_seq, the key (a filter on last_seq read every older batch's row).
const ARCHIVE_COLUMNS = 'SELECT first_seq, last_seq, blob, bytes, sha256 FROM event_archive';
const ARCHIVE_AFTER_SQL = `
SELECT * FROM (
  SELECT * FROM (${ARCHIVE_COLUMNS} WHERE first_seq <= ?1 ORDER BY first_seq DESC LIMIT 1) WHERE last_seq > ?1
  UNION ALL
  SELECT * FROM (${ARCHIVE_COLUMNS} WHERE first_seq > ?1 ORDER BY first_seq LIMIT 1)
) ORDER BY first_seq LIMIT 1`;

// The last number the log handed out to an event it still holds, in the database or archived (archives are
// disjoint ranges in order: the newest is found by its key).
const LOG_LAST_SQL = `
SELECT max(coalesce((SELECT max(seq) FROM events), 0),
  coalesce((SELECT last_seq FROM event_archive WHERE first_seq = (SELECT max(first_seq) FROM event_archive)), 0))
  AS last`;

const toLogged = (r: LogRow): LoggedEvent => ({
  seq: r.seq,
  eventId: r.event_id,
  userId: r.user_id,
  itemId: r.item_id,
  type: r.type,
  value: r.value,
  ts: r.ts,
  context: JSON.parse(r.context),
  receivedAt: r.received_at,
});

const utf8 = new TextEncoder();
const hexOf = (buf: ArrayBuffer) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

function sqlEventLog(driver: SqlDriver, blobs: BlobStore): EventLog {
  return {
    async read(after, limit, maxBytes = Number.MAX_SAFE_INTEGER) {
      // One transaction: an archive that runs meanwhile moves rows and adds its index row together.
      const [rows, archives] = (await driver.batch(
        [
          { sql: LOG_PAGE_SQL, params: [after, limit, maxBytes] },
          { sql: ARCHIVE_AFTER_SQL, params: [after] },
        ],
        NOTHING,
      )) as [LogRow[], ArchiveRow[]];
      const archive = archives[0];
      if (archive && (rows.length === 0 || archive.first_seq < rows[0].seq)) {
        // Archived batches are immutable and older than every row still in the database.
        const blob = await blobs.get(archive.blob);
        if (!blob) throw new Error(`event archive ${archive.blob} is missing from the blob store`);
        const text = await new Response(blob.body).text();
        const events = text
          .split('\n')
          .filter((line) => line.length > 0)
          .map((line) => JSON.parse(line) as LoggedEvent)
          .filter((e) => e.seq > after)
          .slice(0, limit);
        // The same byte bound as the database's page: events while those before them stay under it.
        let before = 0;
        let keep = 0;
        for (const e of events) {
          if (before >= maxBytes) break;
          before += e.eventId.length + e.userId.length + e.itemId.length + e.type.length + EVENT_WIRE_OVERHEAD;
          before += utf8.encode(JSON.stringify(e.context)).byteLength;
          keep++;
        }
        events.length = keep;
        return { events, next: events.at(-1)?.seq ?? after, archived: true };
      }
      const events = rows.map(toLogged);
      if (events.length === 0) {
        // Nothing after the cursor: say where the log ends, so that a cursor from elsewhere is told apart.
        const [{ last }] = await driver.query<{ last: number }>(LOG_LAST_SQL, []);
        return { events, next: after, archived: false, last };
      }
      return { events, next: events.at(-1)!.seq, archived: false };
    },

    async archive(before, max, now) {
      const rows = await driver.query<LogRow>(LOG_PAGE_SQL, [0, max, ARCHIVE_BATCH_BYTES]);
      // A contiguous prefix of the log: stop at the first event received at or after `before`.
      const cut = rows.findIndex((r) => r.received_at >= before);
      const batch = (cut === -1 ? rows : rows.slice(0, cut)).map(toLogged);
      if (batch.length === 0) return 0;
      const first = batch[0].seq;
      const last = batch[batch.length - 1].seq;
      const bytes = new TextEncoder().encode(batch.map((e) => `${JSON.stringify(e)}\n`).join(''));
      const sha256 = hexOf(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
      const key = `events/${String(first).padStart(15, '0')}-${String(last).padStart(15, '0')}.ndjson`;
      // The blob first, then (in one transaction) its index row and the deletions: a crash between
      // the two leaves an unreferenced blob, never a hole in the log.
      await blobs.put(key, bytes, { size: bytes.byteLength, sha256 });
      // No entity's answer is read from the events table (their real-time state has its own tables).
      await driver.batch(
        [
          {
            sql:
              'INSERT OR IGNORE INTO event_archive (first_seq, last_seq, events, blob, bytes, sha256, archived_at) ' +
              'VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)',
            params: [first, last, batch.length, key, bytes.byteLength, sha256, now],
          },
          { sql: 'DELETE FROM events WHERE seq BETWEEN ?1 AND ?2', params: [first, last] },
        ],
        NOTHING,
      );
      return batch.length;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Model registry: metadata in SQL, bytes in the blob store.

const MANIFEST = 'manifest.json';

/** The blob key of a model file. Names are validated by the routes (no '/', no '..'). */
export const modelKey = (name: string, version: string, file: string) => `models/${name}/${version}/${file}`;

/** The blob key of a version's manifest: named by its sha256 ('@' is not allowed in file names). */
export const manifestKey = (name: string, version: string, sha256: string) =>
  `models/${name}/${version}/manifest@${sha256}.json`;

type VersionRow = {
  seq: number;
  name: string;
  version: string;
  manifest_sha256: string;
  manifest_size: number;
  created_at: number;
  created_by: string;
};
type FileRow = {
  name: string;
  version: string;
  file: string;
  size: number;
  sha256: string;
  uploaded_at: number | null;
};

/** A row of model_promotions, as the registry reads it. */
type PromotionRow = { name: string; seq: number; action: string; version: string; at: number; by_sub: string };
// The model ?1's promotion history ends at entry `seq` (0: it has none), read from its head row.
const HEAD_IS = (seq: string) => `coalesce((SELECT seq FROM model_heads WHERE name = ?1), 0) = ${seq}`;
const TOMBSTONE_SQL = 'SELECT 1 AS deleted FROM model_tombstones WHERE name = ?1 AND version = ?2';
// Whole numbers only (digits and nothing else); one row, whatever the number of tombstones.
const HIGHEST_DELETED_SQL =
  "SELECT MAX(CAST(version AS INTEGER)) AS n FROM model_tombstones WHERE name = ?1 AND version <> '' " +
  "AND version NOT GLOB '*[^0-9]*'";
const NOT_TOMBSTONED = 'NOT EXISTS (SELECT 1 FROM model_tombstones WHERE name = ?1 AND version = ?2)';
// A page of a model's versions by `seq` (migrations/0007_registry_retention.sql), each with its files as one JSON
// list (sorted in JS: an aggregate's order is not SQL's promise). ?3 < 0: no limit.
const LIST_VERSIONS_SQL = `
SELECT v.seq, v.name, v.version, v.manifest_sha256, v.manifest_size, v.created_at, v.created_by,
  (SELECT json_group_array(json_array(f.file, f.size, f.sha256, f.uploaded_at)) FROM model_files AS f
    WHERE f.name = v.name AND f.version = v.version) AS files
FROM model_versions AS v WHERE v.name = ?1 AND v.seq > ?2 ORDER BY v.seq LIMIT ?3`;

function sqlModelStore(driver: SqlDriver, blobs: BlobStore): ModelStore {
  const toVersion = (v: VersionRow, files: FileRow[]): ModelVersionRecord => ({
    seq: v.seq,
    name: v.name,
    version: v.version,
    manifestSha256: v.manifest_sha256,
    manifestSize: v.manifest_size,
    createdAt: v.created_at,
    createdBy: v.created_by,
    files: files.map(
      (f): ModelFileRecord => ({ file: f.file, size: f.size, sha256: f.sha256, uploadedAt: f.uploaded_at }),
    ),
  });
  const toPromotion = (r: PromotionRow): PromotionRecord => ({
    name: r.name,
    seq: r.seq,
    action: r.action as PromotionRecord['action'],
    version: r.version,
    at: r.at,
    by: r.by_sub,
  });

  const store: ModelStore = {
    async createVersion(input: NewVersion) {
      const existing = await store.getVersion(input.name, input.version);
      if (existing) return existing.manifestSha256 === input.manifestSha256 ? 'identical' : 'conflict';
      if ((await driver.query(TOMBSTONE_SQL, [input.name, input.version])).length > 0) return 'deleted';
      // Bytes first, under a key named by their hash: a version row never points at a missing
      // manifest, and a concurrent upload of other bytes for the same version cannot overwrite them.
      const key = manifestKey(input.name, input.version, input.manifestSha256);
      await blobs.put(key, input.manifest, { size: input.manifest.byteLength, sha256: input.manifestSha256 });
      const files = jsonChunks(input.files.map((f) => [f.file, f.size, f.sha256]));
      let created: unknown[];
      try {
        // Both inserts are conditional on no tombstone, in one transaction: a version created by another upload
        // and deleted since the look above is not created again, and leaves no file rows behind.
        [created] = await driver.batch([
          {
            sql: `INSERT INTO model_versions (name, version, manifest_sha256, manifest_size, created_at, created_by)
                  SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE ${NOT_TOMBSTONED}
                  RETURNING seq`,
            params: [input.name, input.version, input.manifestSha256, input.manifest.byteLength, input.now, input.by],
          },
          ...files.map((json) => ({
            sql: `INSERT INTO model_files (name, version, file, size, sha256, uploaded_at)
                  SELECT ?1, ?2, j.value ->> '$[0]', j.value ->> '$[1]', j.value ->> '$[2]', NULL FROM
                    json_each(?3) AS j WHERE ${NOT_TOMBSTONED}`,
            params: [input.name, input.version, json],
          })),
        ]);
      } catch (err) {
        // A concurrent creation of the same version won the race: answer as if it came first, and
        // drop these bytes when they are not the winner's.
        const raced = await store.getVersion(input.name, input.version);
        if (!raced) throw err;
        if (raced.manifestSha256 === input.manifestSha256) return 'identical';
        await blobs.delete(key).catch(() => undefined);
        return 'conflict';
      }
      if (created.length === 0) {
        // Created by another upload and deleted since the look above: these bytes belong to no version.
        await blobs.delete(key).catch(() => undefined);
        return 'deleted';
      }
      return 'created';
    },

    async getVersion(name, version) {
      const [versions, files] = await Promise.all([
        driver.query<VersionRow>('SELECT * FROM model_versions WHERE name = ?1 AND version = ?2', [name, version]),
        driver.query<FileRow>('SELECT * FROM model_files WHERE name = ?1 AND version = ?2 ORDER BY file', [
          name,
          version,
        ]),
      ]);
      return versions[0] ? toVersion(versions[0], files) : null;
    },

    async highestDeletedNumber(name) {
      const [row] = await driver.query<{ n: number | null }>(HIGHEST_DELETED_SQL, [name]);
      return row?.n ?? null;
    },

    async listVersions(name, after = 0, limit = -1) {
      // One statement, so that a page's versions and their files are read in one snapshot (on D1 too).
      const rows = await driver.query<VersionRow & { files: string }>(LIST_VERSIONS_SQL, [name, after, limit]);
      return rows.map((v) => {
        const files = (JSON.parse(v.files) as Array<[string, number, string, number | null]>)
          .map(
            ([file, size, sha256, uploaded_at]): FileRow => ({
              name,
              version: v.version,
              file,
              size,
              sha256,
              uploaded_at,
            }),
          )
          .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
        return toVersion(v, files);
      });
    },

    async putFile(name, version, file, body, now) {
      const [row] = await driver.query<FileRow>(
        'SELECT * FROM model_files WHERE name = ?1 AND version = ?2 AND file = ?3',
        [name, version, file],
      );
      if (!row) throw new Error(`putFile: '${file}' is not listed in ${name}/${version}.`);
      const expected = { size: row.size, sha256: row.sha256 };
      if (row.uploaded_at !== null) {
        await blobs.verify(body, expected);
        return 'identical';
      }
      await blobs.put(modelKey(name, version, file), body, expected);
      await driver.query(
        'UPDATE model_files SET uploaded_at = ?4 WHERE name = ' +
          '?1 AND version = ?2 AND file = ?3 AND uploaded_at IS NULL',
        [name, version, file, now],
      );
      return 'stored';
    },

    async openFile(name, version, file, range) {
      if (file !== MANIFEST) return blobs.get(modelKey(name, version, file), range);
      const [row] = await driver.query<{ manifest_sha256: string }>(
        'SELECT manifest_sha256 FROM model_versions WHERE name = ?1 AND version = ?2',
        [name, version],
      );
      if (!row) return null;
      // Versions created before manifests were stored under their hash keep the plain key.
      return (
        (await blobs.get(manifestKey(name, version, row.manifest_sha256), range)) ??
        blobs.get(modelKey(name, version, file), range)
      );
    },

    async appendPromotion(name, action, version, by, now, afterSeq) {
      // The entry and the head in one transaction, both on the head being where the caller read it
      // (migrations/0008_promotion_heads.sql): a promote links to the old top and becomes the top, a rollback
      // makes the row under the old top the top.
      const [rows] = await driver.batch([
        {
          sql: `INSERT INTO model_promotions (name, seq, action, version, at, by_sub, below)
                SELECT ?1, ?6 + 1, ?2, ?3, ?4, ?5,
                  CASE WHEN ?2 = 'promote' THEN coalesce((SELECT top FROM model_heads WHERE name = ?1), 0) END
                WHERE ${HEAD_IS('?6')}
                  AND EXISTS (SELECT 1 FROM model_versions WHERE name = ?1 AND version = ?3)
                ON CONFLICT (name, seq) DO NOTHING
                RETURNING name, seq, action, version, at, by_sub`,
          params: [name, action, version, now, by, afterSeq],
        },
        {
          sql: `INSERT INTO model_heads (name, seq, top, at)
                SELECT ?1, ?3 + 1, CASE WHEN ?2 = 'promote' THEN ?3 + 1 ELSE coalesce((
                  SELECT t.below FROM model_promotions AS t
                  WHERE t.name = ?1 AND t.seq = (SELECT top FROM model_heads WHERE name = ?1)), 0) END, ?4
                WHERE ${HEAD_IS('?3')}
                  AND EXISTS (SELECT 1 FROM model_promotions WHERE name = ?1 AND seq = ?3 + 1)
                ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, top = excluded.top, at = excluded.at`,
          params: [name, action, afterSeq, now],
        },
      ]);
      const row = (rows as PromotionRow[])[0];
      return row ? toPromotion(row) : null;
    },

    async promotions(name, page = {}) {
      const rows = await driver.query<PromotionRow>(
        `SELECT * FROM (SELECT name, seq, action, version, at, by_sub FROM model_promotions
           WHERE name = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3) ORDER BY seq`,
        [name, page.before ?? Number.MAX_SAFE_INTEGER, page.limit ?? 100],
      );
      return rows.map(toPromotion);
    },

    async promotionHead(name): Promise<PromotionHead> {
      const [row] = await driver.query<{
        seq: number;
        at: number;
        promoted: string | null;
        rollback_to: string | null;
      }>(
        `SELECT h.seq, h.at, t.version AS promoted, b.version AS rollback_to FROM model_heads AS h
         LEFT JOIN model_promotions AS t ON t.name = h.name AND t.seq = h.top
         LEFT JOIN model_promotions AS b ON b.name = h.name AND b.seq = t.below
         WHERE h.name = ?1`,
        [name],
      );
      if (!row) return { seq: 0, promoted: null, rollbackTo: null, at: null };
      return { seq: row.seq, promoted: row.promoted ?? null, rollbackTo: row.rollback_to ?? null, at: row.at };
    },

    async latestPromoted() {
      // One row per model: bounded by the number of models, not by their histories (CROSS JOIN: the heads are
      // read first, each top by key; SQLite would otherwise scan the history).
      const [row] = await driver.query<{ name: string; version: string }>(
        `SELECT h.name, t.version FROM model_heads AS h
         CROSS JOIN model_promotions AS t ON t.name = h.name AND t.seq = h.top
         ORDER BY h.at DESC, h.name DESC LIMIT 1`,
        [],
      );
      return row ? { name: row.name, version: row.version } : null;
    },

    async touchPromotion(name, afterSeq, now) {
      const rows = await driver.query<{ name: string }>(
        'UPDATE model_heads SET at = ?3 WHERE name = ?1 AND seq = ?2 AND top > 0 RETURNING name',
        [name, afterSeq, now],
      );
      return rows.length > 0;
    },

    async deleteVersion(name, version, afterSeq, now) {
      // The rows first, in one transaction, then the bytes. Every read starts from the rows, so a crash
      // between the two leaves unreferenced blobs (wasted space), never a listed version whose files are
      // gone. Blob keys are per version (modelKey, manifestKey), not by content: no other version reads
      // these bytes, even when its files hash the same. Both deletes are conditional on the promotion
      // history being as the caller read it, and appendPromotion on the version existing: a promotion
      // racing the deletion of its version makes one of the two fail, never a promoted version with no files.
      // The tombstone goes in with them (migrations/0007_registry_retention.sql): the name is not given out again.
      const unchanged = HEAD_IS('?3');
      const [, files, versions] = (await driver.batch([
        {
          sql: `INSERT OR IGNORE INTO model_tombstones (name, version, deleted_at)
                SELECT ?1, ?2, ?4 WHERE ${unchanged}
                  AND EXISTS (SELECT 1 FROM model_versions WHERE name = ?1 AND version = ?2)`,
          params: [name, version, afterSeq, now],
        },
        {
          sql: `DELETE FROM model_files WHERE name = ?1 AND version = ?2 AND ${unchanged}
                RETURNING file, size, uploaded_at`,
          params: [name, version, afterSeq],
        },
        {
          sql: `DELETE FROM model_versions WHERE name = ?1 AND version = ?2 AND ${unchanged}
                RETURNING manifest_sha256, manifest_size`,
          params: [name, version, afterSeq],
        },
      ])) as [
        unknown[],
        Array<{ file: string; size: number; uploaded_at: number | null }>,
        Array<{ manifest_sha256: string; manifest_size: number }>,
      ];
      const row = versions[0];
      if (!row) return null;
      // Files not uploaded yet too (an upload may be storing one right now), and the plain manifest key of
      // versions created before manifests were stored under their hash.
      await Promise.all(
        [
          manifestKey(name, version, row.manifest_sha256),
          modelKey(name, version, MANIFEST),
          ...files.map((f) => modelKey(name, version, f.file)),
        ].map((key) => blobs.delete(key)),
      );
      const uploaded = files.filter((f) => f.uploaded_at !== null);
      return { files: uploaded.length + 1, bytes: uploaded.reduce((n, f) => n + f.size, row.manifest_size) };
    },
  };
  return store;
}

export type SqlStorageOptions = {
  kind: string;
  driver: SqlDriver;
  blobs: BlobStore;
  /** A read cache of feature rows (KV on Workers); none on Node, where SQLite answers in microseconds. */
  featureCache?: FeatureRowCache | null;
};

/** Storage over a SQL driver (SQLite or D1) and a blob store (files or R2). */
export function createSqlStorage(options: SqlStorageOptions): Storage {
  const { driver } = options;
  return {
    kind: options.kind,
    features: sqlFeatureStore(driver, options.featureCache ?? null),
    events: sqlEventStore(driver),
    eventLog: sqlEventLog(driver, options.blobs),
    featureLog: sqlFeatureLog(driver),
    models: sqlModelStore(driver, options.blobs),
    async ping() {
      await driver.query('SELECT 1 AS ok', []);
    },
    close: () => driver.close(),
    ...(driver.version && driver.watch ? { version: driver.version, watch: driver.watch } : {}),
  };
}

/**
 * The promoted stack of a model by replaying its promotion history, oldest entry first (a promote pushes its
 * version, a roll-back pops): its last element is the promoted version, the one before it the version a rollback
 * returns to. Takes any records with `action` and `version`: a PromotionRecord, or the `history` entries of
 * `GET /v1/models/{name}`.
 * @example promotedStack([{ action: 'promote', version: '1' }, { action: 'promote', version: '2' }]); // ['1', '2']
 */
export function promotedStack(history: ReadonlyArray<{ action: 'promote' | 'rollback'; version: string }>): string[] {
  const stack: string[] = [];
  for (const p of history) {
    if (p.action === 'promote') stack.push(p.version);
    else stack.pop();
  }
  return stack;
}
