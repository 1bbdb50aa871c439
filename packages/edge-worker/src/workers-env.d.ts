// Project declarations for @cloudflare/workers-types under tsconfig.workers.json (the Worker entry and the
// *.workers.test.ts files, checked against the Workers runtime's globals), as `wrangler types` would write.
import type { D1Migration } from 'cloudflare:test';
import type * as WorkerModule from './worker.ts';
import type { WorkerEnv } from './worker.ts';

declare global {
  namespace Cloudflare {
    /** `env` of cloudflare:workers: wrangler.toml's bindings and what vitest.workers.config.ts adds for tests. */
    interface Env extends WorkerEnv {
      TEST_MIGRATIONS: D1Migration[];
      VIREO_JWT_SECRET: string;
    }
    /** The main module (wrangler.toml's `main`): it types `exports.default` of cloudflare:workers. */
    interface GlobalProps {
      mainModule: typeof WorkerModule;
    }
  }
}
