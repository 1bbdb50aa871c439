// The Workers bindings the edge uses (D1, KV, R2, the rate limiter), from @cloudflare/workers-types.
// Its importable form (index.ts: module exports, no globals) keeps the Workers types apart from the
// DOM lib the rest of the package is checked with.
export type {
  D1Database,
  D1PreparedStatement,
  D1Result,
  ExecutionContext as ExecutionContextLike,
  KVNamespace,
  R2Bucket,
  R2Object,
  R2ObjectBody,
  RateLimit as RateLimitBinding,
} from '@cloudflare/workers-types/index.ts';
