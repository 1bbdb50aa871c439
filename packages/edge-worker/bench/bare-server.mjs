#!/usr/bin/env node
// The peer of bench:edge's feature reads and event batches: the same server framework and database
// as the edge (Hono on @hono/node-server, better-sqlite3 with the edge's durability: WAL,
// synchronous=NORMAL) answering GET /users/:id with one row read by primary key and sent as JSON,
// and POST /events with the edge's 100-event JSON body stored as 100 rows of one table with one
// index (event_id, duplicates ignored) in one transaction per request, committed before the answer
// — no authentication, validation, real-time features, event log or metrics. What the stack costs
// by itself. Prints "listening on URL" when ready.
// node bench/bare-server.mjs --port 0 --data DIR [--rows 10000]
import { serve } from '@hono/node-server';
import Database from 'better-sqlite3';
import { Hono } from 'hono';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { port: { type: 'string' }, data: { type: 'string' }, rows: { type: 'string' } },
});
const db = new Database(join(values.data ?? '.', 'bare.db'));
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

const app = new Hono();
app.get('/users/:id/features', (c) => {
  const id = c.req.param('id');
  const row = read.get(id);
  return c.json({ id, found: row !== undefined, features: row === undefined ? null : JSON.parse(row) });
});
app.post('/events', async (c) => {
  const { events } = await c.req.json();
  const accepted = ingest(events, Date.now());
  return c.json({ accepted, duplicate: events.length - accepted }, 202);
});
const server = serve({ fetch: app.fetch, port: Number(values.port ?? 0), hostname: '127.0.0.1' }, (info) =>
  process.stdout.write(`bare listening on http://127.0.0.1:${info.port}\n`),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
