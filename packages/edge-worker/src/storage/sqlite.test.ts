// The storage conformance suite on SQLite (WAL) + files, plus what only the Node storage has.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runStorageConformance } from './conformance.case.ts';
import { readdirSync } from 'node:fs';
import { databasePath, MIGRATIONS_DIR, openSqliteStorage } from './sqlite.ts';

runStorageConformance('sqlite + files', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-edge-'));
  const storage = openSqliteStorage({ dataDir });
  return {
    storage,
    cleanup: async () => {
      await storage.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});

it('opens the database in WAL mode and migrates once', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-edge-'));
  try {
    await openSqliteStorage({ dataDir }).close();
    const again = openSqliteStorage({ dataDir });
    await again.features.push([{ entity: 'user', id: 'u', features: { a: 1 }, eventTs: 1 }], 1);
    await again.close();
    const db = new Database(databasePath(dataDir), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const migrations = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).length;
    expect(db.prepare('SELECT count(*) FROM vireo_migrations').pluck().get()).toBe(migrations);
    expect(db.prepare('SELECT count(*) FROM features').pluck().get()).toBe(1);
    db.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
