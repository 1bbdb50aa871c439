// @vireo/edge-worker: the platform-free parts (app, storage interface, Cloudflare storage, JWT).
// The Node adapter (SQLite, files, server) is '@vireo/edge-worker/node'; the Worker entry is
// '@vireo/edge-worker/worker'.
export { createApp, DEFAULT_LIMITS, DEFAULT_REALTIME, EDGE_VERSION, type AppOptions } from './app.ts';
export {
  generateSecret,
  hs256Verifier,
  jwksVerifier,
  signHs256,
  SCOPES,
  TokenError,
  type Claims,
  type Principal,
  type Scope,
  type TokenVerifier,
} from './auth/jwt.ts';
export { ApiError, ERROR_STATUS, type ErrorBody, type ErrorCode } from './errors.ts';
export { EdgeMetrics } from './metrics.ts';
export { bearerAuth, requireScope, ADMIN_SCOPE } from './middleware/auth.ts';
export { jsonBody } from './middleware/json-body.ts';
export { bindingRateLimiter, rateLimit, tokenBucket, type RateLimiter } from './middleware/rate-limit.ts';
export { consoleLogger, requestLog, type Logger, type LogRecord } from './middleware/request-log.ts';
export { cloudflareStorage, d1Driver, kvFeatureCache, r2BlobStore } from './storage/cloudflare.ts';
export { createSqlStorage, promotedStack } from './storage/sql.ts';
export type * from './storage/types.ts';
