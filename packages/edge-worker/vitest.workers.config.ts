// The edge inside workerd (the Workers runtime, run locally by miniflare): the storage
// conformance suite on D1 + KV + R2, and the app through the Worker entry.
// Bindings come from wrangler.toml; the D1 migrations are read here (Node) and applied in the tests.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  plugins: [
    cloudflareTest(async () => ({
      wrangler: { configPath: here('./wrangler.toml') },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations(here('./migrations')),
          VIREO_JWT_SECRET: 'workers-test-secret-0123456789-abcdefghij',
        },
        // A small limit, so that the test reaches it in a few requests (wrangler.toml has 1,000 per 10 s).
        ratelimits: { RATE_LIMITER: { simple: { limit: 5, period: 10 } } },
      },
    })),
  ],
  test: {
    name: 'edge-workers',
    root: here('.'),
    include: ['src/**/*.workers.test.ts'],
    testTimeout: 30_000,
  },
});
