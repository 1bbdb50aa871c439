// The shop as a user builds it (test/shop.e2e.test.ts): pack the packages, install the tarballs with
// npm outside the workspace, build with Vite and with esbuild, type-check a consumer, drive it in
// headless Chromium; and the `vireo` CLI installed into the same scratch project (test/cli.e2e.test.ts).
// test/scratch.ts packs and installs once for both files, which run one after the other (2 CPU cores: the
// CLI's training would slow the browser's pages). Picked up by the root vitest.config.ts.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'shop-e2e',
    root: fileURLToPath(new URL('.', import.meta.url)),
    include: ['test/**/*.e2e.test.ts'],
    globalSetup: ['test/scratch.ts'],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 1_200_000,
    pool: 'forks',
  },
});
