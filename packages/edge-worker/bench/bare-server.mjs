#!/usr/bin/env node
// The peer of bench:edge's feature reads and event batches: the same server framework and database
// as the edge (Hono on @hono/node-server, better-sqlite3 with the edge's durability: WAL,
// synchronous=NORMAL) answering GET /users/:id with one row read by primary key and sent as JSON,
// and POST /events with the edge's 100-event JSON body stored as 100 rows of one table with one
// index (event_id, duplicates ignored) in one transaction per request, committed before the answer
// — no authentication, validation, real-time features, event log or metrics. What the stack costs
// by itself. With --realtime, POST /events does the edge's writes per event instead, the way one would
// write them by hand: the event (its rowid and event_id key), the user's history row, the item's
// popularity and the user's category counters (the item's category read from a features table of
// ITEMS rows) and both activity rows, with a prepared statement per row, the requests of one turn of
// the event loop in one transaction (the edge's group commit, simply). No validation, history trim,
// event log or metrics. Prints "listening on URL" when ready.
// node bench/bare-server.mjs --port 0 --data DIR [--rows 10000] [--realtime --items 10000]
import { serve } from '@hono/node-server';
import Database from 'better-sqlite3';
import { Hono } from 'hono';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    data: { type: 'string' },
    rows: { type: 'string' },
    realtime: { type: 'boolean' },
    items: { type: 'string' },
  },
});
const db = new Database(join(values.data ?? '.', 'bare.db'));
// --realtime: the edge's page size (src/storage/sqlite.ts); the one-table peer keeps SQLite's default.
if (values.realtime) db.pragma('page_size = 16384');
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
// The edge's other settings (src/storage/sqlite.ts) less its checkpoint thread: its autocheckpoint without it.
db.pragma('temp_store = MEMORY');
db.pragma('cache_size = -65536');
db.pragma('mmap_size = 268435456');
db.pragma('wal_autocheckpoint = 10000');
db.exec('CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, features TEXT NOT NULL)');
const insert = db.prepare('INSERT OR REPLACE INTO users (id, features) VALUES (?, ?)');
const rows = Number(values.rows ?? 10_000);
db.transaction(() => {
  for (let u = 0; u < rows; u++)
    insert.run(
      `u${u}`,
      JSON.stringify({ age: 18 + (u % 60), country: 'FR', tenure_days: u % 900, spend_30d: (u % 97) * 1.5 }),
    );
})();
const read = db.prepare('SELECT features FROM users WHERE id = ?').pluck();
db.exec(
  'CREATE TABLE IF NOT EXISTS events (event_id TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL, item_id TEXT NOT NULL, ' +
    'type TEXT NOT NULL, value REAL, ts INTEGER NOT NULL, context TEXT NOT NULL, received_at INTEGER NOT NULL)',
);
const insertEvent = db.prepare('INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
const ingest = db.transaction((events, now) => {
  let accepted = 0;
  for (const e of events)
    accepted += insertEvent.run(
      e.event_id,
      e.user_id,
      e.item_id,
      e.type,
      e.value ?? null,
      e.ts,
      JSON.stringify(e.context ?? {}),
      now,
    ).changes;
  return accepted;
});

const ingestEvents = values.realtime ? realtimeIngest(Number(values.items ?? 10_000)) : ingest;

/** --realtime: the edge's tables (migrations/0001_init.sql, 0005_event_seq.sql) written row by row. */
function realtimeIngest(items) {
  db.exec(`
    CREATE TABLE features (entity TEXT NOT NULL, entity_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
      PRIMARY KEY (entity, entity_id, name)) WITHOUT ROWID;
    CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL,
      item_id TEXT NOT NULL, type TEXT NOT NULL, value REAL, ts INTEGER NOT NULL, context TEXT NOT NULL,
      received_at INTEGER NOT NULL);
    CREATE TABLE user_history (user_id TEXT NOT NULL, ts INTEGER NOT NULL, event_id TEXT NOT NULL,
      item_id TEXT NOT NULL, type TEXT NOT NULL, PRIMARY KEY (user_id, ts, event_id)) WITHOUT ROWID;
    CREATE TABLE counters (kind TEXT NOT NULL, entity_id TEXT NOT NULL, key TEXT NOT NULL, value REAL NOT NULL,
      updated_at INTEGER NOT NULL, PRIMARY KEY (kind, entity_id, key)) WITHOUT ROWID;
    CREATE TABLE activity (entity TEXT NOT NULL, entity_id TEXT NOT NULL, first_seen INTEGER NOT NULL,
      last_seen INTEGER NOT NULL, events INTEGER NOT NULL, PRIMARY KEY (entity, entity_id)) WITHOUT ROWID;`);
  const genres = ['drama', 'comedy', 'action', 'horror', 'documentary', 'animation'];
  const feature = db.prepare("INSERT INTO features VALUES ('item', ?, 'category', ?)");
  db.transaction(() => {
    for (let i = 0; i < items; i++) feature.run(`i${i}`, JSON.stringify(genres[i % 6]));
  })();
  const insert = db.prepare(
    'INSERT OR IGNORE INTO log (event_id, user_id, item_id, type, value, ts, context, received_at) ' +
      'VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const history = db.prepare('INSERT OR IGNORE INTO user_history VALUES (?, ?, ?, ?, ?)');
  const POSITIVE = new Set(['click', 'conversion', 'purchase', 'like', 'add_to_cart']);
  const category = db
    .prepare("SELECT value FROM features WHERE entity = 'item' AND entity_id = ? AND name = 'category'")
    .pluck();
  // The edge's decayed counter merge (src/storage/sql.ts), one event at a time, at a kind's half-life.
  const counter = (kind, halfLifeMs) =>
    db.prepare(`INSERT INTO counters VALUES ('${kind}', ?, ?, 1.0, ?)
      ON CONFLICT (kind, entity_id, key) DO UPDATE SET
        value = CASE WHEN excluded.updated_at >= counters.updated_at
          THEN counters.value * pow(2.0, (counters.updated_at - excluded.updated_at) * 1.0 / ${halfLifeMs})
            + excluded.value
          ELSE counters.value + excluded.value * pow(2.0, (excluded.updated_at - counters.updated_at) * 1.0 /
            ${halfLifeMs}) END,
        updated_at = max(counters.updated_at, excluded.updated_at)`);
  const day = 86_400_000;
  const popularity = counter('item_popularity', 7 * day);
  const categories = counter('user_category', 3 * day);
  const activity = db.prepare(`INSERT INTO activity VALUES (?, ?, ?, ?, 1) ON CONFLICT (entity, entity_id) DO UPDATE
    SET first_seen = min(activity.first_seen, excluded.first_seen),
      last_seen = max(activity.last_seen, excluded.last_seen), events = activity.events + 1`);
  const write = db.transaction((group, now) =>
    group.map(({ events }) => {
      let accepted = 0;
      for (const e of events) {
        const row = [e.event_id, e.user_id, e.item_id, e.type, e.value ?? null, e.ts];
        if (insert.run(...row, JSON.stringify(e.context ?? {}), now).changes === 0) continue;
        accepted++;
        // The history holds positives only, as the edge's does (@vireo/core isPositive).
        if (POSITIVE.has(e.type) || (e.type === 'rating' && (e.value ?? 0) >= 4))
          history.run(e.user_id, e.ts, e.event_id, e.item_id, e.type);
        popularity.run(e.item_id, e.type, e.ts);
        const c = category.get(e.item_id);
        if (c !== undefined) categories.run(e.user_id, JSON.parse(c), e.ts);
        activity.run('user', e.user_id, e.ts, e.ts);
        activity.run('item', e.item_id, e.ts, e.ts);
      }
      return accepted;
    }),
  );
  // The batches of one turn share a transaction; each gets its own count.
  let queue = [];
  return (events, now) =>
    new Promise((ok) => {
      if (queue.length === 0)
        setImmediate(() => {
          const group = queue;
          queue = [];
          const counts = write.immediate(group, now);
          group.forEach((g, i) => g.ok(counts[i]));
        });
      queue.push({ events, ok });
    });
}

const app = new Hono();
app.get('/users/:id/features', (c) => {
  const id = c.req.param('id');
  const row = read.get(id);
  return c.json({ id, found: row !== undefined, features: row === undefined ? null : JSON.parse(row) });
});
app.post('/events', async (c) => {
  const { events } = await c.req.json();
  const accepted = await ingestEvents(events, Date.now());
  return c.json({ accepted, duplicate: events.length - accepted }, 202);
});
const server = serve({ fetch: app.fetch, port: Number(values.port ?? 0), hostname: '127.0.0.1' }, (info) =>
  process.stdout.write(`bare listening on http://127.0.0.1:${info.port}\n`),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
