// Cloudflare storage: D1 for features, events and registry metadata (the same SQL as SQLite),
// R2 for model files, KV as a read cache of pushed feature rows. Web APIs only.
import type { D1Database, KVNamespace, R2Bucket } from './cloudflare-types.ts';
import { createSqlStorage, type FeatureRowCache } from './sql.ts';
import {
  BlobMismatchError,
  type BlobStore,
  type EntityKind,
  type SqlDriver,
  type Storage,
  type StoredFeature,
} from './types.ts';

/** A SqlDriver over a D1 database (numbered parameters, batch = one transaction). */
export function d1Driver(db: D1Database): SqlDriver {
  return {
    async query<T>(sql: string, params: Array<string | number | null>) {
      const r = await db
        .prepare(sql)
        .bind(...params)
        .all<T>();
      return r.results ?? [];
    },
    async batch(statements) {
      const results = await db.batch(statements.map((s) => db.prepare(s.sql).bind(...s.params)));
      return results.map((r) => (r.results ?? []) as unknown[]);
    },
    async close() {},
  };
}

const hex = (buf: ArrayBuffer) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

/**
 * Model files in R2. The body is read into memory to be hashed before anything is stored
 * (a Worker has 128 MB; larger bundles go through the Node edge or R2 multipart, not done here).
 */
export function r2BlobStore(bucket: R2Bucket): BlobStore {
  /** The body's bytes, checked against the expected size and sha256. */
  async function checked(
    body: ReadableStream<Uint8Array> | Uint8Array,
    expected: { size: number; sha256: string },
  ): Promise<{ bytes: Uint8Array; sha256: string }> {
    let bytes: Uint8Array;
    if (body instanceof Uint8Array) {
      bytes = body;
    } else {
      const chunks: Uint8Array[] = [];
      let size = 0;
      const reader = body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          size += value.byteLength;
          if (size > expected.size) throw new BlobMismatchError('size', expected.size, `more than ${expected.size}`);
          chunks.push(value);
        }
      } finally {
        await reader.cancel().catch(() => undefined);
      }
      bytes = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        bytes.set(c, at);
        at += c.byteLength;
      }
    }
    if (bytes.byteLength !== expected.size) throw new BlobMismatchError('size', expected.size, bytes.byteLength);
    const sha256 = hex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
    if (sha256 !== expected.sha256) throw new BlobMismatchError('sha256', expected.sha256, sha256);
    return { bytes, sha256 };
  }

  return {
    async put(key, body, expected) {
      const { bytes, sha256 } = await checked(body, expected);
      // R2 checks the sha256 again on its side.
      await bucket.put(key, bytes, { sha256 });
    },
    async verify(body, expected) {
      await checked(body, expected);
    },
    async get(key, range) {
      const obj = await bucket.get(key, range ? { range } : undefined);
      if (!obj) return null;
      // The Workers ReadableStream (@cloudflare/workers-types) is the runtime's own stream, typed
      // apart from the DOM's that the storage interface names.
      return { body: obj.body as unknown as ReadableStream<Uint8Array>, size: obj.size, range: range ?? null };
    },
    async delete(key) {
      await bucket.delete(key);
    },
  };
}

export type KvCacheOptions = {
  /** Seconds a cached row lives in KV (KV's minimum is 60). Default 300. */
  ttlSeconds?: number;
  /** Seconds a KV read may be served from the edge's local cache (KV's minimum is 30); 0 turns it off. Default 0. */
  cacheTtlSeconds?: number;
  /** Where background writes go (ctx.waitUntil); awaited when absent. */
  defer?: (work: Promise<unknown>) => void;
};

/**
 * Pushed feature rows cached in KV (misses too). Pushes delete the keys they touch; KV is
 * eventually consistent across locations, so another location may serve the old row up to its TTL.
 */
export function kvFeatureCache(kv: KVNamespace, options: KvCacheOptions = {}): FeatureRowCache {
  const opts = { ttlSeconds: 300, cacheTtlSeconds: 0, ...options };
  const key = (entity: EntityKind, id: string) => `features:${entity}:${id}`;
  const later = (work: Promise<unknown>) => (opts.defer ? (opts.defer(work), Promise.resolve()) : work);
  return {
    async get(entity, ids) {
      const out = new Map<string, Record<string, StoredFeature> | null>();
      const texts = await Promise.all(
        ids.map((id) =>
          kv.get(
            key(entity, id),
            opts.cacheTtlSeconds >= 30 ? { type: 'text', cacheTtl: opts.cacheTtlSeconds } : { type: 'text' },
          ),
        ),
      );
      ids.forEach((id, i) => {
        const text = texts[i];
        if (text !== null) out.set(id, (JSON.parse(text) as { row: Record<string, StoredFeature> | null }).row);
      });
      return out;
    },
    async set(entity, rows) {
      const puts = [...rows].map(([id, row]) =>
        kv.put(key(entity, id), JSON.stringify({ row }), { expirationTtl: Math.max(60, opts.ttlSeconds) }),
      );
      await later(Promise.all(puts));
    },
    async invalidate(keys) {
      await Promise.all(keys.map((k) => kv.delete(key(k.entity, k.id))));
    },
  };
}

export type CloudflareBindings = { DB: D1Database; MODELS: R2Bucket; FEATURE_CACHE?: KVNamespace };

/**
 * The Cloudflare storage from a Worker's bindings.
 * @example const storage = cloudflareStorage(env, { defer: (p) => ctx.waitUntil(p) });
 */
export function cloudflareStorage(env: CloudflareBindings, cache: KvCacheOptions = {}): Storage {
  return createSqlStorage({
    kind: 'cloudflare',
    driver: d1Driver(env.DB),
    blobs: r2BlobStore(env.MODELS),
    featureCache: env.FEATURE_CACHE ? kvFeatureCache(env.FEATURE_CACHE, cache) : null,
  });
}
