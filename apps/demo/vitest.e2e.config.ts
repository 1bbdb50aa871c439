// The dashboard end to end: `vireo start` on a tiny world (its own state folder and ports),
// then Chromium (playwright-core, Debian's chromium, WebGPU on SwiftShader) drives the page.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'demo-e2e',
    root: fileURLToPath(new URL('.', import.meta.url)),
    include: ['src/**/*.e2e.test.ts'],
    testTimeout: 360_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
