// CPU per statement of an event ingest (not a test): the storage's own ingest over a driver that runs
// each statement of the transaction alone and times it (process CPU, microseconds), on a SQLite store
// seeded like bench:edge's (10,000 users and items with pushed features) plus SEED events, so that
// histories are full and trimmed. Each round ingests GROUP batches of 100 events in one transaction,
// as the group commit does at 32 connections. Give several package roots for a before/after, e.g. after
// `git worktree add /tmp/edge-before main`:
// node --import tsx bench/ingest-statements.ts . /tmp/edge-before/packages/edge-worker
// A root may end in @PAGE_SIZE (e.g. `. .@16384`: the same code on 4 KiB and 16 KiB pages, one run).
// Environment: GROUP (32), ROUNDS (40), SEED events (500,000), PAGE_SIZE (SQLite's default, 4096), SLACK
// (RealtimeOptions.historySlack; default its own).
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { eventBatch, seedRows } from './workload.mjs';

const roots = process.argv.length > 2 ? process.argv.slice(2) : ['.'];
const GROUP = Number(process.env.GROUP ?? 32);
const ROUNDS = Number(process.env.ROUNDS ?? 40);
const SEED = Number(process.env.SEED ?? 500_000);

type Statement = { sql: string; params: Array<string | number | null> };

/** A short name for a statement: its verb, its table and the first quoted literal (the counter kind). */
function label(sql: string): string {
  const verb = /(INSERT OR REPLACE INTO|INSERT OR IGNORE INTO|INSERT INTO|DELETE FROM|UPDATE)\s+(\w+)?/.exec(sql);
  const kind = /'(user_category|item_popularity|user|item)'/.exec(sql)?.[1];
  return [verb?.[1].replace(/ (INTO|FROM)$/, ''), verb?.[2], kind].filter(Boolean).join(' ');
}

async function setup(arg: string) {
  const [path, page = process.env.PAGE_SIZE] = arg.split('@');
  const root = resolve(path);
  const title = page ? `${root} (page_size ${page})` : root;
  const { migrate } = await import(`${root}/src/storage/sqlite.ts`);
  const { createSqlStorage } = await import(`${root}/src/storage/sql.ts`);
  const { DEFAULT_REALTIME: defaults } = await import(`${root}/src/app.ts`);
  const realtime = process.env.SLACK ? { ...defaults, historySlack: Number(process.env.SLACK) } : defaults;
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-ingest-statements-'));
  const db = new Database(join(dataDir, 'edge.db'));
  // The pragmas of openSqliteStorage; checkpoints between rounds, untimed.
  if (page) db.pragma(`page_size = ${Number(page)}`);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('temp_store = MEMORY');
  db.pragma('cache_size = -65536');
  db.pragma('mmap_size = 268435456');
  db.pragma('wal_autocheckpoint = 0');
  migrate(db);
  const prepared = new Map<string, Database.Statement>();
  const times = new Map<string, number[]>();
  let timing = false;
  const run = ({ sql, params }: Statement) => {
    let s = prepared.get(sql);
    if (!s) prepared.set(sql, (s = db.prepare(sql)));
    const args = params.length === 0 ? [] : [Object.fromEntries(params.map((p, i) => [i + 1, p]))];
    const t0 = process.cpuUsage();
    const rows = s.reader ? s.all(...args) : (s.run(...args), []);
    const t = process.cpuUsage(t0);
    if (timing) {
      const name = label(sql);
      // A split insert: its statements add up.
      const list = times.get(name) ?? [];
      times.set(name, list);
      list.push(t.user + t.system);
    }
    return rows;
  };
  const time = (name: string, f: () => void) => {
    const t0 = process.cpuUsage();
    f();
    const t = process.cpuUsage(t0);
    if (timing) (times.get(name) ?? times.set(name, []).get(name)!).push(t.user + t.system);
  };
  const driver = {
    async query(sql: string, params: Statement['params']) {
      return run({ sql, params });
    },
    async batch(list: Statement[]) {
      time('BEGIN IMMEDIATE', () => db.exec('BEGIN IMMEDIATE'));
      try {
        const out = list.map(run);
        time('COMMIT', () => db.exec('COMMIT'));
        return out;
      } catch (err) {
        db.exec('ROLLBACK');
        throw err;
      }
    },
    async close() {
      db.close();
    },
  };
  const storage = createSqlStorage({ kind: 'sqlite', driver, blobs: null as never });
  let now = Date.now();
  for (const rows of seedRows())
    await storage.features.push(
      rows.map((r: { entity: 'user' | 'item'; id: string; features: Record<string, unknown> }) => ({
        ...r,
        eventTs: now,
      })),
      now,
    );
  const records = (prefix: string) =>
    Array.from({ length: GROUP }, (_, b) => eventBatch(`${prefix}-${b}`)).flatMap((batch) =>
      batch.map(
        (e: { event_id: string; user_id: string; item_id: string; type: string; ts: number; context: object }) => ({
          eventId: e.event_id,
          userId: e.user_id,
          itemId: e.item_id,
          type: e.type,
          value: null,
          ts: e.ts,
          context: e.context,
        }),
      ),
    );
  for (let s = 0; s < SEED / (100 * GROUP); s++) {
    await storage.events.ingest(records(`seed${s}`), realtime, (now += 1000));
    if (s % 20 === 19) db.pragma('wal_checkpoint(TRUNCATE)');
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  return {
    root,
    async round(r: number) {
      const events = records(`r${r}`);
      timing = true;
      const t0 = process.cpuUsage();
      await storage.events.ingest(events, realtime, (now += 1000));
      const t = process.cpuUsage(t0);
      (times.get('whole ingest') ?? times.set('whole ingest', []).get('whole ingest')!).push(t.user + t.system);
      timing = false;
      db.pragma('wal_checkpoint(PASSIVE)');
    },
    report() {
      const per100 = (us: number) => us / 1000 / GROUP;
      console.log(`\n${title} (GROUP ${GROUP}, ${ROUNDS} rounds, seed ${SEED} events; ms CPU per 100 events)`);
      console.log('| statement | median | mean | sd |');
      console.log('|---|---:|---:|---:|');
      for (const [name, list] of times) {
        // Statements run several times per transaction (a split insert) add up per round.
        const perRound = list.length > ROUNDS ? chunkSums(list, list.length / ROUNDS) : list;
        const ms = perRound.map(per100).sort((a, b) => a - b);
        const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
        const sd = Math.sqrt(ms.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, ms.length - 1));
        console.log(`| ${name} | ${ms[ms.length >> 1].toFixed(3)} | ${mean.toFixed(3)} | ${sd.toFixed(3)} |`);
      }
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function chunkSums(list: number[], size: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size).reduce((a, b) => a + b, 0));
  return out;
}

const runs = [];
for (const root of roots) runs.push(await setup(root));
for (let r = 0; r < ROUNDS; r++) for (const run of runs) await run.round(r);
for (const run of runs) run.report();
console.log(`\nload average (1 min) ${loadavg()[0].toFixed(2)}`);
