// Per-subject rate limiting. A RateLimiter decides; the middleware answers 429 with Retry-After.
// Node: an in-memory token bucket per subject. Workers: the rate-limiting binding (see worker.ts).
import type { MiddlewareHandler } from 'hono';
import type { Principal } from '../auth/jwt.ts';
import { ApiError } from '../errors.ts';
import type { RateLimitBinding } from '../storage/cloudflare-types.ts';

/** The verdict on one request. */
export type RateDecision = { ok: boolean; retryAfterSeconds: number };

export interface RateLimiter {
  take(key: string, cost?: number): Promise<RateDecision> | RateDecision;
  /**
   * Whether take() would let `cost` through now, changing nothing; only for limiters whose take() answers
   * at once (the Node fast lane, node-lane.ts, checks before its read and takes after it).
   */
  peek?(key: string, cost?: number): boolean;
}

export type TokenBucketOptions = {
  /** Tokens added per second (sustained requests/s per subject). Default 1000. */
  ratePerSecond?: number;
  /** Bucket size (the burst a subject may spend at once). Default 2 × rate. */
  burst?: number;
  /** Subjects tracked at most; the least recently seen are forgotten first. Default 100,000. */
  maxKeys?: number;
  /** The clock in ms. Default performance.now / Date.now. */
  now?: () => number;
};

/**
 * An in-memory token bucket per key (one process; a cluster of Node edges limits per process).
 * @example const limiter = tokenBucket({ ratePerSecond: 100, burst: 200 });
 */
export function tokenBucket(options: TokenBucketOptions = {}): RateLimiter {
  const rate = options.ratePerSecond ?? 1000;
  const opts = { burst: rate * 2, maxKeys: 100_000, now: () => Date.now(), ...options, ratePerSecond: rate };
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    peek(key, cost = 1) {
      const b = buckets.get(key);
      return !b || Math.min(opts.burst, b.tokens + ((opts.now() - b.at) / 1000) * opts.ratePerSecond) >= cost;
    },
    take(key, cost = 1) {
      const now = opts.now();
      let b = buckets.get(key);
      if (b) {
        buckets.delete(key); // re-insert: Map order is the recency order
        b.tokens = Math.min(opts.burst, b.tokens + ((now - b.at) / 1000) * opts.ratePerSecond);
        b.at = now;
      } else {
        b = { tokens: opts.burst, at: now };
        if (buckets.size >= opts.maxKeys) buckets.delete(buckets.keys().next().value as string);
      }
      buckets.set(key, b);
      if (b.tokens >= cost) {
        b.tokens -= cost;
        return { ok: true, retryAfterSeconds: 0 };
      }
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((cost - b.tokens) / opts.ratePerSecond)) };
    },
  };
}

/**
 * A limiter over the Workers rate-limiting binding, whose period (10 or 60 s) is the Retry-After.
 * @example bindingRateLimiter(env.RATE_LIMITER, 10)
 */
export function bindingRateLimiter(binding: RateLimitBinding, periodSeconds: number): RateLimiter {
  return {
    async take(key) {
      const { success } = await binding.limit({ key });
      return { ok: success, retryAfterSeconds: success ? 0 : periodSeconds };
    },
  };
}

export type RateLimitOptions = {
  limiter: RateLimiter;
  /** The key of a request. Default: the token subject. */
  key?: (principal: Principal | undefined, request: Request) => string;
  /** Called on every refusal (metrics). */
  onLimited?: (key: string) => void;
};

/** The default key of a request: its token's subject. */
export const subjectKey = (p: Principal | undefined) => `sub:${p?.sub ?? 'anonymous'}`;

/**
 * Refuses requests over the limit with 429 and Retry-After.
 * @example app.use('/v1/*', rateLimit({ limiter: tokenBucket({ ratePerSecond: 50 }) }))
 */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler<{ Variables: { principal: Principal } }> {
  const opts = { key: subjectKey, onLimited: () => {}, ...options };
  return async (c, next) => {
    const key = opts.key(c.get('principal'), c.req.raw);
    const decision = await opts.limiter.take(key);
    if (!decision.ok) {
      opts.onLimited(key);
      throw new ApiError(
        'rate_limited',
        `Too many requests for this token: retry in ${decision.retryAfterSeconds} s.`,
        { retry_after_s: decision.retryAfterSeconds },
        { 'Retry-After': String(decision.retryAfterSeconds) },
      );
    }
    await next();
  };
}
