// Node storage: SQLite through better-sqlite3 (WAL) for features, events and registry metadata,
// and model files in a folder. The embedded default: one data folder, nothing else to run.
import Database from 'better-sqlite3';
import cluster from 'node:cluster';
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, open, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { startCheckpointer } from './checkpointer.ts';
import { groupCommit } from './group-commit.ts';
import { createSqlStorage, FEATURE_READS } from './sql.ts';
import {
  BlobMismatchError,
  type BlobObject,
  type BlobStore,
  type ByteRange,
  type SqlDriver,
  type SqlParam,
  type Storage,
  type Touched,
} from './types.ts';

/** The migrations folder: the same .sql files wrangler applies to D1. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** Applies the migrations not applied yet, in file order, each in a transaction. */
export function migrate(db: Database.Database, dir = MIGRATIONS_DIR): string[] {
  db.exec('CREATE TABLE IF NOT EXISTS vireo_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const applied = new Set(db.prepare('SELECT name FROM vireo_migrations').pluck().all() as string[]);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  const ran: string[] = [];
  for (const file of files) {
    if (applied.has(file)) continue;
    const sql = readFileSync(join(dir, file), 'utf8');
    db.transaction(() => {
      db.exec(sql);
      db.prepare('INSERT INTO vireo_migrations (name, applied_at) VALUES (?, ?)').run(file, Date.now());
    })();
    ran.push(file);
  }
  return ran;
}

export type SqliteDriverOptions = {
  /**
   * Rows of small reads kept in the read cache (see readCache), least recently used dropped first;
   * 0 turns the cache off. Default 0.
   */
  readCacheRows?: number;
  /** Reads with more rows than this are not cached. Default 64. */
  readCacheMaxRows?: number;
  /** Characters of string columns the cache may hold in all (~2 bytes each). Default 32 million. */
  readCacheMaxChars?: number;
  /** The statements whose results may be cached. Default: the feature lookups' (FEATURE_READS). */
  cacheable?: ReadonlySet<string>;
  /** The monotonic clock, in ms, of the cache's POLL_MS bound (a test moves it by hand). Default performance.now. */
  clock?: () => number;
};

/**
 * How long a turn of the event loop may answer from the read cache without looking for another connection's commit
 * again: a turn is longer only when libuv polls again within it (more than 1,024 sockets ready at once).
 */
const POLL_MS = 1;

/**
 * A read-through cache of query results, emptied by every write on this connection and by every
 * commit of another connection (another `--workers` process): SQLite's `PRAGMA data_version`
 * changes exactly then, and is read before cached answers, once per turn of the event loop for
 * version() (docs/ARCHITECTURE.md, "Node edge").
 * Bounded by the rows it holds (an empty result counts as one) and by the characters of their
 * string columns (a pushed value may be large). Its generation (SqlDriver.version) moves with another
 * connection's commit and with `changed()`, a write here that did not say what it touched.
 */
function readCache(
  db: Database.Database,
  maxHeld: number,
  maxRows: number,
  maxChars: number,
  clock: () => number = () => performance.now(),
) {
  const map = new Map<string, { rows: unknown[]; size: number; chars: number }>();
  const version = db.prepare('PRAGMA data_version').pluck();
  let seen = version.get() as number;
  let checked = false;
  let held = 0;
  let chars = 0;
  // What version() answers.
  let generation = 0;
  const clear = () => {
    map.clear();
    held = 0;
    chars = 0;
  };
  const changed = () => {
    clear();
    generation++;
  };
  // Whether, and when, version() read PRAGMA data_version in this turn of the event loop (~3 µs of a ~50 µs answer).
  let polled = false;
  let polledAt = 0;
  const unpoll = () => {
    polled = false;
  };
  /** True when another connection committed since the last look (the cache was emptied). */
  const moved = () => {
    const now = version.get() as number;
    if (now === seen) return false;
    seen = now;
    changed();
    return true;
  };
  return {
    /** Forgets every row (a write on this connection that watch listeners are told of). */
    clear,
    /** Forgets every row and moves version() (a write on this connection that says nothing of what it changed). */
    changed,
    /**
     * Changes whenever a write committed elsewhere, or `changed()` was called, since the last call. Another
     * connection's commit is looked for once per turn of the event loop, and again after POLL_MS within a long
     * turn (docs/ARCHITECTURE.md, "Node edge"): a request that arrives after that commit is read in a later turn.
     */
    version() {
      const now = clock();
      if (!polled || now - polledAt > POLL_MS) {
        if (!polled) setImmediate(unpoll);
        polled = true;
        polledAt = now;
        moved();
      }
      return generation;
    },
    get(key: string): unknown[] | undefined {
      // Read once per synchronous stretch (a lookup's reads run together): without the cache those
      // reads would not share a transaction either, so nothing weaker is promised.
      if (!checked) {
        checked = true;
        queueMicrotask(() => {
          checked = false;
        });
        if (moved()) return undefined;
      }
      const entry = map.get(key);
      if (entry) {
        // Least recently used first: a hit moves to the end.
        map.delete(key);
        map.set(key, entry);
      }
      return entry?.rows;
    },
    set(key: string, rows: unknown[]) {
      if (rows.length > maxRows) return;
      let n = key.length;
      for (const row of rows)
        for (const v of Object.values(row as Record<string, unknown>)) if (typeof v === 'string') n += v.length;
      if (n > maxChars / 16) return;
      const size = Math.max(1, rows.length);
      while ((held + size > maxHeld || chars + n > maxChars) && map.size > 0) {
        const [oldest, dropped] = map.entries().next().value as [string, { size: number; chars: number }];
        map.delete(oldest);
        held -= dropped.size;
        chars -= dropped.chars;
      }
      map.set(key, { rows, size, chars: n });
      held += size;
      chars += n;
    },
  };
}

/**
 * A SqlDriver over one better-sqlite3 connection: statements prepared once and kept, and an
 * optional read-through cache of small reads (see readCache).
 */
export function sqliteDriver(db: Database.Database, options: SqliteDriverOptions = {}): SqlDriver {
  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string) => {
    let s = statements.get(sql);
    if (!s) statements.set(sql, (s = db.prepare(sql)));
    return s;
  };
  const cache =
    (options.readCacheRows ?? 0) > 0
      ? readCache(
          db,
          options.readCacheRows ?? 0,
          options.readCacheMaxRows ?? 64,
          options.readCacheMaxChars ?? 32_000_000,
          options.clock,
        )
      : null;
  const cacheable = options.cacheable ?? FEATURE_READS;
  const cacheIds = new Map([...cacheable].map((sql, i) => [sql, i]));
  // Statements use numbered parameters (?1, ?2: the form D1 takes too); better-sqlite3 binds those from an object.
  const bind = (params: SqlParam[]) => {
    const named: Record<number, SqlParam> = {};
    for (let i = 0; i < params.length; i++) named[i + 1] = params[i];
    return named;
  };
  const exec = (sql: string, params: SqlParam[]): unknown[] => {
    const s = prepare(sql);
    const args = params.length === 0 ? [] : [bind(params)];
    if (s.reader) return s.all(...args) as unknown[];
    s.run(...args);
    return [];
  };
  const run = (sql: string, params: SqlParam[]): unknown[] => {
    // A write outside a batch (an INSERT … RETURNING is a reader too) says nothing of what it
    // touched: it forgets the cache and moves version().
    if (!prepare(sql).readonly) cache?.changed();
    return exec(sql, params);
  };
  const read = (sql: string, params: SqlParam[]): unknown[] => {
    if (!cache || !cacheIds.has(sql)) return run(sql, params);
    // A short key: the statement's number, then its parameters (hashing the SQL text each time cost
    // more than the lookup).
    const key = `${cacheIds.get(sql)}\u0000${JSON.stringify(params)}`;
    const hit = cache.get(key);
    if (hit) return hit;
    const rows = run(sql, params);
    // Callers only read the rows; frozen so that a mistake shows at once.
    for (const r of rows) Object.freeze(r);
    cache.set(key, Object.freeze(rows) as unknown[]);
    return rows;
  };
  const batch = db.transaction((list: Array<{ sql: string; params: SqlParam[] }>) =>
    list.map((st) => exec(st.sql, st.params)),
  );
  const listeners: Array<(touched: Touched) => void> = [];
  let closed = false;
  return {
    async query<T>(sql: string, params: SqlParam[]) {
      return read(sql, params) as T[];
    },
    async batch(list, touched) {
      try {
        return batch.immediate(list);
      } finally {
        // Emptied once, after the transaction: better-sqlite3 is synchronous, so nothing read in between.
        // Committed or rolled back, the listeners hear of it before anyone is answered (SqlDriver.watch).
        if (touched) {
          cache?.clear();
          for (const listener of listeners) listener(touched);
        } else cache?.changed();
      }
    },
    ...(cache
      ? {
          version: cache.version,
          watch(listener: (touched: Touched) => void) {
            listeners.push(listener);
          },
        }
      : {}),
    async close() {
      if (closed) return;
      closed = true;
      statements.clear();
      cache?.clear();
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
    },
  };
}

/**
 * Model files in a folder: written to a temporary file while hashed, fsynced, renamed into place.
 * Temporary files left by a killed upload are removed when the store opens.
 */
export function fileBlobStore(root: string, options: { cleanTemp?: boolean } = {}): BlobStore {
  const base = resolve(root);
  const tmp = join(base, '.tmp');
  // Not in a `--workers` worker: another worker may be writing there (the primary cleaned at start).
  if (options.cleanTemp !== false) rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const pathOf = (key: string) => {
    const path = resolve(base, key);
    if (!path.startsWith(base + sep)) throw new Error(`Blob key '${key}' leaves the blob folder.`);
    return path;
  };

  return {
    async put(key, body, expected) {
      const final = pathOf(key);
      const temp = join(tmp, randomUUID());
      const hash = createHash('sha256');
      let size = 0;
      const out = createWriteStream(temp, { flags: 'wx' });
      const write = (chunk: Uint8Array) =>
        new Promise<void>((ok, fail) => out.write(chunk, (err) => (err ? fail(err) : ok())));
      try {
        if (body instanceof Uint8Array) {
          size = body.byteLength;
          if (size !== expected.size) throw new BlobMismatchError('size', expected.size, size);
          hash.update(body);
          await write(body);
        } else {
          const reader = body.getReader();
          try {
            for (;;) {
              const { done, value } = await reader.read();
              if (done) break;
              size += value.byteLength;
              // Stop reading as soon as the body is longer than declared.
              if (size > expected.size)
                throw new BlobMismatchError('size', expected.size, `more than ${expected.size}`);
              hash.update(value);
              await write(value);
            }
          } finally {
            await reader.cancel().catch(() => undefined);
          }
          if (size !== expected.size) throw new BlobMismatchError('size', expected.size, size);
        }
        await new Promise<void>((ok, fail) => out.end((err?: Error | null) => (err ? fail(err) : ok())));
        const sha256 = hash.digest('hex');
        if (sha256 !== expected.sha256) throw new BlobMismatchError('sha256', expected.sha256, sha256);
        const fh = await open(temp, 'r');
        await fh.sync();
        await fh.close();
        mkdirSync(dirname(final), { recursive: true });
        // A delete in the same folder may remove it (now empty) between the two: make it again, once.
        await rename(temp, final).catch(async (err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
          await mkdir(dirname(final), { recursive: true });
          await rename(temp, final);
        });
      } catch (err) {
        out.destroy();
        await rm(temp, { force: true });
        throw err;
      }
    },

    async verify(body, expected) {
      const hash = createHash('sha256');
      let size = 0;
      if (body instanceof Uint8Array) {
        size = body.byteLength;
        hash.update(body);
      } else {
        const reader = body.getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            size += value.byteLength;
            if (size > expected.size) throw new BlobMismatchError('size', expected.size, `more than ${expected.size}`);
            hash.update(value);
          }
        } finally {
          await reader.cancel().catch(() => undefined);
        }
      }
      if (size !== expected.size) throw new BlobMismatchError('size', expected.size, size);
      const sha256 = hash.digest('hex');
      if (sha256 !== expected.sha256) throw new BlobMismatchError('sha256', expected.sha256, sha256);
    },

    async get(key, range?: ByteRange): Promise<BlobObject | null> {
      const path = pathOf(key);
      let size: number;
      try {
        size = (await stat(path)).size;
      } catch {
        return null;
      }
      const stream = range
        ? createReadStream(path, { start: range.offset, end: range.offset + range.length - 1 })
        : createReadStream(path);
      return { body: Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>, size, range: range ?? null };
    },

    async delete(key) {
      const path = pathOf(key);
      await rm(path, { force: true });
      // Then the folders it leaves empty (a deleted model version's), up to the blob folder: rmdir
      // removes only empty ones, and stops at the first that still holds something.
      for (let dir = dirname(path); dir.startsWith(base + sep); dir = dirname(dir)) {
        const removed = await rmdir(dir).then(
          () => true,
          () => false,
        );
        if (!removed) break;
      }
    },
  };
}

export type SqliteStorageOptions = {
  /** The data folder (created if absent): edge.db and models/. */
  dataDir: string;
  /** SQLite's synchronous pragma: 'full' also survives power loss; 'normal' (the default) survives a killed process. */
  synchronous?: 'normal' | 'full';
  /**
   * SQLite's page size for a new database (an existing one keeps its own). Default 16,384: a commit writes
   * each page it dirtied to the WAL, and event batches dirty the real-time tables' pages at random users
   * and items, so fewer, larger pages cost less (docs/ARCHITECTURE.md, "The ingest path").
   */
  pageSize?: number;
  /** Rows of feature lookups cached in this process (see sqliteDriver); 0: none. Default 200,000 (~40 MB). */
  readCacheRows?: number;
  /** Write concurrent event batches in one transaction (./group-commit.ts). Default true. */
  groupCommit?: boolean;
  /** WAL checkpoints on a worker thread (./checkpointer.ts) rather than in a committing request. Default true. */
  checkpointThread?: boolean;
  /**
   * Remove temporary files of killed uploads on open. Default: true, except in a node:cluster worker
   * (`--workers`), where other workers may be uploading; the primary removes them before forking.
   */
  cleanTemp?: boolean;
};

/** better-sqlite3's native module cannot load (its install script did not run, or it was built for another Node). */
export class SqliteUnavailableError extends Error {
  constructor(cause: unknown) {
    const first = (cause instanceof Error ? cause.message : String(cause)).split(/\n|\.\s/)[0].replace(/[.:]$/, '');
    super(
      `the SQLite driver cannot load (${first}): better-sqlite3's install script did not run or built it for ` +
        `another Node; run 'npm rebuild better-sqlite3' (with pnpm: 'pnpm approve-builds', then ` +
        `'pnpm rebuild better-sqlite3') with Node ${process.versions.node}.`,
    );
    this.name = 'SqliteUnavailableError';
  }
}

/** What better-sqlite3 says when its native module does not load (bindings' search, an ABI or platform mismatch). */
const NATIVE_LOAD_FAILURE = new RegExp(
  'Could not locate the bindings file|NODE_MODULE_VERSION|compiled against a different Node|' +
    'invalid ELF header|better_sqlite3\\.node',
);

/** Whether `err` is better-sqlite3 failing to load its native module (not a problem with the database itself). */
export function isNativeLoadError(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return NATIVE_LOAD_FAILURE.test(message);
}

/** Opens a database file, turning a native module that cannot load into one sentence (SqliteUnavailableError). */
export function openDatabase(path: string, options?: Database.Options): Database.Database {
  try {
    return new Database(path, options);
  } catch (err) {
    if (isNativeLoadError(err)) throw new SqliteUnavailableError(err);
    throw err;
  }
}

/** The data folder's database file. */
export const databasePath = (dataDir: string) => join(dataDir, 'edge.db');

/**
 * Opens (creating if needed) the Node storage in a data folder.
 * @example const storage = openSqliteStorage({ dataDir: './.vireo' });
 */
export function openSqliteStorage(options: SqliteStorageOptions): Storage {
  const { dataDir } = options;
  mkdirSync(dataDir, { recursive: true });
  const db = openDatabase(databasePath(dataDir));
  // Before WAL: a WAL database's page size is fixed once it is created.
  db.pragma(`page_size = ${options.pageSize ?? 16_384}`);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma('busy_timeout = 5000');
  // The event upserts sort and group in temporary B-trees: keep those in memory. A 64 MiB page
  // cache, memory-mapped reads. Checkpoints: on a thread of their own (./checkpointer.ts), with an
  // autocheckpoint at ~400 MiB of WAL as the backstop; without the thread, every ~40 MiB rather than
  // every 4 MiB (fewer synchronous checkpoints on the write path; measured: 100-event batches ~40% faster).
  db.pragma('temp_store = MEMORY');
  db.pragma('cache_size = -65536');
  db.pragma('mmap_size = 268435456');
  migrate(db);
  const checkpoints = options.checkpointThread === false ? null : startCheckpointer(databasePath(dataDir));
  // In pages: ~400 MiB and ~40 MiB whatever the page size.
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.pragma(`wal_autocheckpoint = ${Math.round(((checkpoints ? 400 : 40) * 2 ** 20) / pageSize)}`);
  const storage = createSqlStorage({
    kind: 'sqlite',
    driver: sqliteDriver(db, { readCacheRows: options.readCacheRows ?? 200_000 }),
    blobs: fileBlobStore(join(dataDir, 'blobs'), { cleanTemp: options.cleanTemp ?? !cluster.isWorker }),
  });
  if (options.groupCommit !== false) {
    const grouped = groupCommit(storage.events.ingest.bind(storage.events));
    storage.events.ingest = grouped;
    storage.events.expect = grouped.expect;
  }
  if (!checkpoints) return storage;
  const close = storage.close.bind(storage);
  return Object.assign(storage, {
    async close() {
      await checkpoints.stop();
      await close();
    },
  });
}

/** True when the data folder already holds a database. */
export const hasDatabase = (dataDir: string) => existsSync(databasePath(dataDir));
