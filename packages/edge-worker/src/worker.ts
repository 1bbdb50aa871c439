// The Cloudflare Workers entry: the same app over D1 + KV + R2 and the rate-limiting binding.
// One app per isolate (and per bindings object); metrics are per isolate.
import { createApp } from './app.ts';
import { hs256Verifier, jwksVerifier, TokenError, type TokenVerifier } from './auth/jwt.ts';
import { bindingRateLimiter } from './middleware/rate-limit.ts';
import { cloudflareStorage, type CloudflareBindings } from './storage/cloudflare.ts';
import type { ExecutionContextLike, RateLimitBinding } from './storage/cloudflare-types.ts';
import type { EdgeApp } from './routes/deps.ts';

export type WorkerEnv = CloudflareBindings & {
  VIREO_JWT_SECRET?: string;
  VIREO_JWKS_URL?: string;
  VIREO_CORS_ORIGINS?: string;
  VIREO_SPEC_MODEL?: string;
  RATE_LIMITER?: RateLimitBinding;
};

/** Refuses every token with a clear reason when the Worker has no secret and no JWKS URL. */
const unconfigured: TokenVerifier = {
  async verify() {
    throw new TokenError(
      'invalid_token',
      'This edge has no VIREO_JWT_SECRET or VIREO_JWKS_URL configured, so no token can be verified.',
    );
  },
};

const apps = new WeakMap<object, EdgeApp>();

/** The app for a set of bindings (built once per isolate). */
export function appForEnv(env: WorkerEnv): EdgeApp {
  let app = apps.get(env);
  if (!app) {
    const verifier = env.VIREO_JWKS_URL
      ? jwksVerifier({ url: env.VIREO_JWKS_URL })
      : env.VIREO_JWT_SECRET
        ? hs256Verifier(env.VIREO_JWT_SECRET)
        : unconfigured;
    app = createApp({
      storage: cloudflareStorage(env),
      verifier,
      rateLimiter: env.RATE_LIMITER ? bindingRateLimiter(env.RATE_LIMITER, 10) : null,
      corsOrigins: (env.VIREO_CORS_ORIGINS ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      specModel: env.VIREO_SPEC_MODEL || null,
    });
    apps.set(env, app);
  }
  return app;
}

export default {
  fetch(request: Request, env: WorkerEnv, ctx: ExecutionContextLike): Response | Promise<Response> {
    return appForEnv(env).fetch(request, env, ctx as never);
  },
};
