// The storage conformance suite on SQLite (WAL) + files, plus what only the Node storage has.
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { sha256Hex } from '@vireo/core';
import { runStorageConformance, storeTwoVersions } from './conformance.case.ts';
import { promotedStack } from './sql.ts';
import { databasePath, MIGRATIONS_DIR, migrate, openSqliteStorage } from './sqlite.ts';

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
    expect(db.pragma('page_size', { simple: true })).toBe(16_384);
    const migrations = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).length;
    expect(db.prepare('SELECT count(*) FROM vireo_migrations').pluck().get()).toBe(migrations);
    expect(db.prepare('SELECT count(*) FROM features').pluck().get()).toBe(1);
    db.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

it('migrates a database with the separate event log (0004) to events numbered by seq, numbers kept', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-edge-'));
  const older = mkdtempSync(join(tmpdir(), 'vireo-migrations-'));
  try {
    for (const f of readdirSync(MIGRATIONS_DIR).filter((f) => parseInt(f, 10) <= 4))
      copyFileSync(join(MIGRATIONS_DIR, f), join(older, f));
    const db = new Database(databasePath(dataDir));
    migrate(db, older);
    // Three events logged out of their rowid order, and an archive that handed out up to seq 9.
    const insert = db.prepare(
      'INSERT INTO events (event_id, user_id, item_id, type, value, ts, context, received_at) ' +
        "VALUES (?, 'u', 'i', 'view', NULL, ?, '{}', ?)",
    );
    for (const [id, ts] of [
      ['a', 3],
      ['b', 1],
      ['c', 2],
    ] as const)
      insert.run(id, ts, 100);
    for (const [id, seq] of [
      ['b', 5],
      ['c', 6],
      ['a', 7],
    ] as const)
      db.prepare('INSERT INTO event_log (seq, event_id) VALUES (?, ?)').run(seq, id);
    db.prepare(
      'INSERT INTO event_archive (first_seq, last_seq, events, blob, bytes, sha256, archived_at) ' +
        "VALUES (8, 9, 2, 'x', 1, 'y', 1)",
    ).run();
    db.close();
    const storage = openSqliteStorage({ dataDir });
    const page = await storage.eventLog.read(0, 10);
    expect(page.events.map((e) => [e.seq, e.eventId, e.ts])).toEqual([
      [5, 'b', 1],
      [6, 'c', 2],
      [7, 'a', 3],
    ]);
    const realtime = { historyLength: 50, itemHalfLifeMs: 1e9, userCategoryHalfLifeMs: 1e9, categoryFeature: 'c' };
    const event = { userId: 'u', itemId: 'i', type: 'view', value: null, context: {} };
    const result = await storage.events.ingest(
      [
        { ...event, eventId: 'e', ts: Date.UTC(2026, 0, 2) },
        { ...event, eventId: 'a', ts: 3 },
        { ...event, eventId: 'd', ts: Date.UTC(2026, 0, 1) },
      ],
      realtime,
      Date.UTC(2026, 0, 3),
    );
    expect(result).toEqual({ accepted: [0, 2], duplicate: [1] });
    // New numbers follow the archive's, in time order (a duplicate may use one up: numbers increase, with gaps).
    const after = (await storage.eventLog.read(9, 10)).events;
    expect(after.map((e) => e.eventId)).toEqual(['d', 'e']);
    expect(after[0].seq).toBeGreaterThan(9);
    expect(after[1].seq).toBeGreaterThan(after[0].seq);
    await storage.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(older, { recursive: true, force: true });
  }
});

it('migrates a 0005 database to event ids per user and numbered versions with tombstones, numbers kept', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-edge-'));
  const older = mkdtempSync(join(tmpdir(), 'vireo-migrations-'));
  try {
    for (const f of readdirSync(MIGRATIONS_DIR).filter((f) => parseInt(f, 10) <= 5))
      copyFileSync(join(MIGRATIONS_DIR, f), join(older, f));
    const db = new Database(databasePath(dataDir));
    migrate(db, older);
    // Events numbered 3, 4 and 8 (gaps: duplicates used numbers up) after an archive of 1 and 2.
    const insert = db.prepare(
      'INSERT INTO events (seq, event_id, user_id, item_id, type, value, ts, context, received_at) ' +
        "VALUES (?, ?, ?, 'i', 'view', NULL, ?, '{}', 100)",
    );
    for (const [seq, id, user, ts] of [
      [3, 'x', 'alice', 1],
      [4, 'y', 'alice', 2],
      [8, 'z', 'bob', 3],
    ] as const)
      insert.run(seq, id, user, ts);
    db.prepare(
      'INSERT INTO event_archive (first_seq, last_seq, events, blob, bytes, sha256, archived_at) ' +
        "VALUES (1, 2, 2, 'x', 1, 'y', 1)",
    ).run();
    // Versions listed by creation time ('2' before '1'); '0' was promoted, then deleted, before tombstones.
    const version = db.prepare(
      'INSERT INTO model_versions (name, version, manifest_sha256, manifest_size, created_at, created_by) ' +
        "VALUES ('ranker', ?, 'h', 1, ?, 'ci')",
    );
    version.run('1', 20);
    version.run('2', 10);
    for (const [seq, v] of [
      [1, '0'],
      [2, '2'],
    ] as const)
      db.prepare(
        'INSERT INTO model_promotions (name, seq, action, version, at, by_sub) ' +
          "VALUES ('ranker', ?, 'promote', ?, 1, 'ci')",
      ).run(seq, v);
    db.close();

    const storage = openSqliteStorage({ dataDir });
    const page = await storage.eventLog.read(2, 10);
    expect(page.events.map((e) => [e.seq, e.userId, e.eventId])).toEqual([
      [3, 'alice', 'x'],
      [4, 'alice', 'y'],
      [8, 'bob', 'z'],
    ]);
    const realtime = { historyLength: 50, itemHalfLifeMs: 1e9, userCategoryHalfLifeMs: 1e9, categoryFeature: 'c' };
    const event = (userId: string, eventId: string) => ({
      userId,
      eventId,
      itemId: 'i',
      type: 'view',
      value: null,
      ts: Date.UTC(2026, 0, 1),
      context: {},
    });
    // Bob's 'x' is his own event; Alice's 'x' is still a duplicate.
    const result = await storage.events.ingest(
      [event('bob', 'x'), event('alice', 'x')],
      realtime,
      Date.UTC(2026, 0, 2),
    );
    expect(result).toEqual({ accepted: [0], duplicate: [1] });
    const after = (await storage.eventLog.read(8, 10)).events;
    expect(after.map((e) => [e.userId, e.eventId])).toEqual([['bob', 'x']]);
    expect(after[0].seq).toBeGreaterThan(8);
    // Numbered in listing order; the deleted, once promoted, version is not given out again.
    const versions = await storage.models.listVersions('ranker');
    expect(versions.map((v) => v.version)).toEqual(['2', '1']);
    expect(versions[0].seq).toBeLessThan(versions[1].seq);
    const manifest = new TextEncoder().encode('{}');
    const again = async (v: string) =>
      storage.models.createVersion({
        name: 'ranker',
        version: v,
        manifest,
        manifestSha256: await sha256Hex(manifest),
        files: [],
        by: 'ci',
        now: 1,
      });
    expect(await again('0')).toBe('deleted');
    expect(await again('3')).toBe('created');
    expect((await storage.models.listVersions('ranker', versions[1].seq)).map((v) => v.version)).toEqual(['3']);
    await storage.close();

    // Every event archived: the next number still follows the archive's last.
    const archivedDir = mkdtempSync(join(tmpdir(), 'vireo-edge-'));
    try {
      const archived = new Database(databasePath(archivedDir));
      migrate(archived, older);
      archived
        .prepare(
          'INSERT INTO event_archive (first_seq, last_seq, events, blob, bytes, sha256, archived_at) ' +
            "VALUES (1, 12, 12, 'x', 1, 'y', 1)",
        )
        .run();
      archived.close();
      const reopened = openSqliteStorage({ dataDir: archivedDir });
      await reopened.events.ingest([event('carol', 'w')], realtime, Date.UTC(2026, 0, 2));
      expect((await reopened.eventLog.read(12, 10)).events.map((e) => e.seq)).toEqual([13]);
      await reopened.close();
    } finally {
      rmSync(archivedDir, { recursive: true, force: true });
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(older, { recursive: true, force: true });
  }
});

it('migrates a 0007 registry to promotion heads that say what replaying each history says', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-edge-'));
  const older = mkdtempSync(join(tmpdir(), 'vireo-migrations-'));
  try {
    for (const f of readdirSync(MIGRATIONS_DIR).filter((f) => parseInt(f, 10) <= 7))
      copyFileSync(join(MIGRATIONS_DIR, f), join(older, f));
    const db = new Database(databasePath(dataDir));
    migrate(db, older);
    db.prepare(
      'INSERT INTO model_versions (name, version, manifest_sha256, manifest_size, created_at, created_by) ' +
        "SELECT m.column1, v.column1, 'h', 1, 1, 'ci' FROM (VALUES ('a'), ('b'), ('c'), ('d')) AS m, " +
        "(VALUES ('1'), ('2'), ('3'), ('4')) AS v",
    ).run();
    const entry = db.prepare(
      "INSERT INTO model_promotions (name, seq, action, version, at, by_sub) VALUES (?, ?, ?, ?, ?, 'ci')",
    );
    // Random histories, rollbacks on a stack of one or none included; model 'c' ends with an empty stack.
    let seed = 11;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const histories: Record<string, Array<{ action: 'promote' | 'rollback'; version: string }>> = {
      a: [],
      b: [],
      c: [],
      d: [],
    };
    for (const [name, n] of [
      ['a', 300],
      ['b', 7],
    ] as const)
      for (let seq = 1; seq <= n; seq++) {
        const action = random() < 0.6 ? 'promote' : 'rollback';
        const version = String(1 + Math.floor(random() * 4));
        entry.run(name, seq, action, version, 1000 + seq);
        histories[name].push({ action, version });
      }
    for (const [seq, action] of [
      [1, 'promote'],
      [2, 'rollback'],
    ] as const) {
      entry.run('c', seq, action, '1', 5000 + seq);
      histories.c.push({ action, version: '1' });
    }
    // Rollbacks of nothing do nothing: 'd' ends with 2 under 3.
    for (const [seq, action, version] of [
      [1, 'rollback', '1'],
      [2, 'rollback', '1'],
      [3, 'promote', '1'],
      [4, 'rollback', '1'],
      [5, 'rollback', '1'],
      [6, 'promote', '2'],
      [7, 'promote', '3'],
    ] as const) {
      entry.run('d', seq, action, version, 100 + seq);
      histories.d.push({ action, version });
    }
    db.close();

    const storage = openSqliteStorage({ dataDir });
    const expected = (name: string) => {
      const stack = promotedStack(histories[name]);
      return { promoted: stack.at(-1) ?? null, rollbackTo: stack.at(-2) ?? null };
    };
    const base: Record<string, number> = { a: 1000, b: 1000, c: 5000, d: 100 };
    for (const name of ['a', 'b', 'c', 'd'])
      expect(await storage.models.promotionHead(name)).toEqual({
        seq: histories[name].length,
        at: base[name] + histories[name].length,
        ...expected(name),
      });
    expect(expected('d')).toEqual({ promoted: '3', rollbackTo: '2' });
    // 'c' was promoted last but has nothing promoted now.
    expect(await storage.models.latestPromoted()).toEqual({ name: 'a', version: expected('a').promoted });
    // Entries written after the migration link to those before it.
    for (let i = 0; i < 40; i++) {
      const action = random() < 0.5 ? 'promote' : 'rollback';
      const version = String(1 + Math.floor(random() * 4));
      const { seq } = await storage.models.promotionHead('a');
      expect(await storage.models.appendPromotion('a', action, version, 'ci', 9000 + i, seq)).not.toBeNull();
      histories.a.push({ action, version });
      expect(await storage.models.promotionHead('a')).toMatchObject(expected('a'));
    }
    await storage.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(older, { recursive: true, force: true });
  }
});

it('keeps a history within its length plus the slack, trimmed back once per slack + 1 of the user events', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-edge-'));
  const storage = openSqliteStorage({ dataDir });
  const db = new Database(databasePath(dataDir), { readonly: true });
  const rows = db.prepare('SELECT count(*) FROM user_history WHERE user_id = ?').pluck();
  try {
    const cap = 5;
    for (const slack of [0, 2, 7]) {
      const realtime = { historyLength: cap, historySlack: slack, itemHalfLifeMs: 1e9, userCategoryHalfLifeMs: 1e9 };
      const user = `s${slack}`;
      let seed = slack + 1;
      let sent = 0;
      let over = 0;
      for (let b = 0; b < 40; b++) {
        seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
        const size = 1 + ((seed >>> 16) % 4);
        const events = Array.from({ length: size }, (_, i) => ({
          eventId: `${user}-${sent + i}`,
          userId: user,
          itemId: 'i',
          type: 'click',
          value: null,
          ts: 1000 + ((seed >>> 8) % 50) * 10 + i,
          context: {},
        }));
        await storage.events.ingest(events, { ...realtime, categoryFeature: 'c' }, 1);
        const before = sent;
        sent += size;
        const held = rows.get(user) as number;
        expect(held).toBeLessThanOrEqual(cap + slack);
        // A trim is due when the count crosses a multiple of slack + 1: then exactly the newest `cap` remain.
        if (Math.floor(sent / (slack + 1)) !== Math.floor(before / (slack + 1))) expect(held).toBe(Math.min(cap, sent));
        if (held > cap) over++;
      }
      // Slack 0 trims on every batch; a slack lets histories run over between trims.
      if (slack === 0) expect(over).toBe(0);
      else expect(over).toBeGreaterThan(0);
    }
  } finally {
    db.close();
    await storage.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

it('keeps the page size of an existing database (16 KiB applies to new ones only)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-edge-'));
  try {
    await openSqliteStorage({ dataDir, pageSize: 4096 }).close();
    const storage = openSqliteStorage({ dataDir });
    const db = new Database(databasePath(dataDir), { readonly: true });
    expect(db.pragma('page_size', { simple: true })).toBe(4096);
    db.close();
    await storage.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

it("removes a deleted version's folder from the blob folder, and keeps its siblings'", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-edge-'));
  const storage = openSqliteStorage({ dataDir });
  try {
    const fileBytes = await storeTwoVersions(storage);
    const models = join(dataDir, 'blobs', 'models', 'ranker');
    expect(readdirSync(models).sort()).toEqual(['1', '2']);
    expect(await storage.models.deleteVersion('ranker', '1', 0, 1)).toEqual({ files: 2, bytes: 9 + fileBytes });
    expect(readdirSync(models)).toEqual(['2']);
    expect(readdirSync(join(models, '2')).sort()).toEqual([expect.stringMatching(/^manifest@/), 'sub']);
    // The last version of the model gone, its folder goes too; the blob folder stays.
    expect(await storage.models.deleteVersion('ranker', '2', 0, 1)).not.toBeNull();
    expect(existsSync(models)).toBe(false);
    expect(existsSync(join(dataDir, 'blobs'))).toBe(true);
  } finally {
    await storage.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
