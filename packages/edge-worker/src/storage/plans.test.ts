// The query plan of every statement the SQL storage runs: the storage conformance suite runs here over SQLite with
// its statements recorded, then each one's EXPLAIN QUERY PLAN is read. A request's work must not grow with the
// store (docs/ARCHITECTURE.md, "The ingest path"): no stored table is scanned whole and no index is built on the
// fly, outside the listing below. SQLite plans without statistics here as in production (the edge never runs
// ANALYZE), so these are the plans a full store gets.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runStorageConformance } from './conformance.case.ts';
import { createSqlStorage } from './sql.ts';
import { fileBlobStore, migrate, sqliteDriver } from './sqlite.ts';
import type { SqlDriver, SqlParam } from './types.ts';

const recorded = new Map<string, SqlParam[]>();

/** sqliteDriver, keeping each distinct statement and the parameters it first ran with. */
function recording(driver: SqlDriver): SqlDriver {
  const keep = (sql: string, params: SqlParam[]) => {
    if (!recorded.has(sql)) recorded.set(sql, params);
  };
  return {
    ...driver,
    query(sql, params) {
      keep(sql, params);
      return driver.query(sql, params);
    },
    batch(statements, touched) {
      for (const s of statements) keep(s.sql, s.params);
      return driver.batch(statements, touched);
    },
  };
}

runStorageConformance('sqlite, statements recorded', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-plans-'));
  const db = new Database(join(dataDir, 'edge.db'));
  db.pragma('journal_mode = WAL');
  migrate(db);
  const storage = createSqlStorage({
    kind: 'sqlite',
    driver: recording(sqliteDriver(db)),
    blobs: fileBlobStore(join(dataDir, 'blobs')),
  });
  return {
    storage,
    cleanup: async () => {
      await storage.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});

// Whole-table reads by design, by a phrase of their SQL: the promotion heads, one row per model (the spec of the most
// recently promoted model, when a request names none).
const WHOLE_READS = [{ table: 'model_heads', sql: 'FROM model_heads AS h CROSS JOIN' }];

/** The tables a statement names by alias (`FROM events AS e`), alias to table: plans name the alias. */
function aliases(sql: string, tables: Set<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of sql.matchAll(/\b(\w+)\s+AS\s+(\w+)\b/gi)) if (tables.has(m[1])) out.set(m[2], m[1]);
  return out;
}

it('searches every stored table by key: no whole-table scan, no index built per statement', () => {
  // The suite above ran first (a file's tests run in order) and issued every statement the storage has.
  expect(recorded.size).toBeGreaterThan(30);
  const db = new Database(':memory:');
  migrate(db);
  const tables = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
  const problems: string[] = [];
  for (const [sql, params] of recorded) {
    const named = Object.fromEntries(params.map((p, i) => [i + 1, p]));
    const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...(params.length ? [named] : [])) as Array<{
      detail: string;
    }>;
    for (const { detail } of plan) {
      // "SCAN t" / "SCAN t USING INDEX i" reads all of t; "SCAN t USING COVERING INDEX" too; an automatic index
      // is built from a scan of its table on every run.
      const scan = /^SCAN (\w+)(?: AS \w+)?(?: USING (?:COVERING )?INDEX \w+)?$/.exec(detail);
      const table = scan ? (aliases(sql, tables).get(scan[1]) ?? scan[1]) : undefined;
      const scanned = table !== undefined && tables.has(table);
      if (!scanned && !detail.includes('AUTOMATIC')) continue;
      if (WHOLE_READS.some((w) => w.table === table && sql.replace(/\s+/g, ' ').includes(w.sql))) continue;
      problems.push(`${detail}\n  in: ${sql.replace(/\s+/g, ' ').trim().slice(0, 160)}`);
    }
  }
  expect(problems).toEqual([]);
});
