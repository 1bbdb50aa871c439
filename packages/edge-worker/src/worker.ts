// The Cloudflare Workers entry: the same app over D1 + KV + R2 and the rate-limiting binding.
// One app per isolate (and per bindings object); metrics are per isolate.
import { createApp } from './app.ts';
import { hs256Verifier, jwksVerifier, KeysUnavailableError, secretProblem, type TokenVerifier } from './auth/jwt.ts';
import { bindingRateLimiter } from './middleware/rate-limit.ts';
import { cloudflareStorage, type CloudflareBindings } from './storage/cloudflare.ts';
import type { ExecutionContextLike, RateLimitBinding } from './storage/cloudflare-types.ts';
import type { EdgeApp } from './routes/deps.ts';

export type WorkerEnv = CloudflareBindings & {
  VIREO_JWT_SECRET?: string;
  VIREO_JWKS_URL?: string;
  VIREO_JWT_ISSUER?: string;
  VIREO_JWT_AUDIENCE?: string;
  VIREO_CORS_ORIGINS?: string;
  VIREO_SPEC_MODEL?: string;
  RATE_LIMITER?: RateLimitBinding;
};

/** Refuses every token with a clear reason when the Worker has no usable secret and no JWKS URL. */
const unconfigured = (problem: string): TokenVerifier => ({
  problem,
  async verify() {
    throw new KeysUnavailableError(
      `This edge cannot verify tokens: ${problem}; set VIREO_JWT_SECRET (32+ random characters) or VIREO_JWKS_URL.`,
      300,
    );
  },
});

const apps = new WeakMap<object, EdgeApp>();

/** The app for a set of bindings (built once per isolate). */
export function appForEnv(env: WorkerEnv): EdgeApp {
  let app = apps.get(env);
  if (!app) {
    const claims = { issuer: env.VIREO_JWT_ISSUER || null, audience: env.VIREO_JWT_AUDIENCE || null };
    const problem = env.VIREO_JWKS_URL ? null : secretProblem(env.VIREO_JWT_SECRET);
    const verifier = env.VIREO_JWKS_URL
      ? jwksVerifier({ url: env.VIREO_JWKS_URL, ...claims })
      : problem
        ? unconfigured(problem)
        : hs256Verifier(env.VIREO_JWT_SECRET!, claims);
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
