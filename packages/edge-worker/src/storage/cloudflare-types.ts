// The parts of the Workers bindings the edge uses (D1, KV, R2, the rate limiter), typed here so
// that the package needs no @cloudflare/workers-types (whose globals clash with the DOM lib).

export interface D1Result<T = Record<string, unknown>> {
  results: T[];
  success: boolean;
  meta: Record<string, unknown>;
}
export interface D1PreparedStatement {
  bind(...values: unknown[]): D1PreparedStatement;
  all<T = Record<string, unknown>>(): Promise<D1Result<T>>;
  run<T = Record<string, unknown>>(): Promise<D1Result<T>>;
}
export interface D1Database {
  prepare(query: string): D1PreparedStatement;
  batch<T = unknown>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]>;
  exec(query: string): Promise<unknown>;
}

export interface KVNamespace {
  get(key: string, options: { type: 'text'; cacheTtl?: number }): Promise<string | null>;
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface R2Object {
  key: string;
  size: number;
  etag: string;
  checksums?: { sha256?: ArrayBuffer };
}
export interface R2ObjectBody extends R2Object {
  body: ReadableStream<Uint8Array>;
}
export interface R2Bucket {
  get(key: string, options?: { range?: { offset: number; length: number } }): Promise<R2ObjectBody | null>;
  head(key: string): Promise<R2Object | null>;
  put(
    key: string,
    value: ArrayBuffer | Uint8Array | ReadableStream,
    options?: { sha256?: string; httpMetadata?: Record<string, string> },
  ): Promise<R2Object | null>;
  delete(key: string): Promise<void>;
}

/** The Workers rate-limiting binding ([[ratelimits]] in wrangler.toml). */
export interface RateLimitBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

export interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void;
}
