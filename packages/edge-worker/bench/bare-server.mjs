#!/usr/bin/env node
// The peer of bench:edge's feature reads: the same server framework and database as the edge (Hono
// on @hono/node-server, better-sqlite3 in WAL mode) answering GET /users/:id with one row read by
// primary key and sent as JSON — no authentication, validation, real-time features or metrics.
// What the stack costs by itself. Prints "listening on URL" when ready.
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

const app = new Hono();
app.get('/users/:id/features', (c) => {
  const id = c.req.param('id');
  const row = read.get(id);
  return c.json({ id, found: row !== undefined, features: row === undefined ? null : JSON.parse(row) });
});
const server = serve({ fetch: app.fetch, port: Number(values.port ?? 0), hostname: '127.0.0.1' }, (info) =>
  process.stdout.write(`bare listening on http://127.0.0.1:${info.port}\n`),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
