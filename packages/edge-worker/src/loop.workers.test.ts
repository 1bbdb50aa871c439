// The training loop's edge cases inside workerd: D1 for the log, R2 for the archived batches.
import { applyD1Migrations, reset } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { createApp } from './app.ts';
import { hs256Verifier } from './auth/jwt.ts';
import { runLoopCases } from './loop.case.ts';
import { cloudflareStorage } from './storage/cloudflare.ts';
import { NOW, TEST_SECRET } from '../test/helpers.ts';

// env is Cloudflare.Env: wrangler.toml's bindings and the test ones (src/workers-env.d.ts).
const bindings = env;

runLoopCases('workerd (d1 + r2)', async (now) => {
  await reset();
  await applyD1Migrations(bindings.DB, bindings.TEST_MIGRATIONS);
  const app = createApp({
    storage: cloudflareStorage(bindings),
    // Tokens are checked at NOW; the app's clock moves past the retention.
    verifier: hs256Verifier(TEST_SECRET, { now: () => NOW }),
    log: null,
    now,
  });
  return { app, cleanup: async () => {} };
});
