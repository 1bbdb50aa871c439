// The kernel checks again, in headless Chromium over WebGPU (SwiftShader without a GPU):
// proof that the browser runs the identical WGSL. Debian's chromium; Playwright downloads nothing.
import { defineConfig, mergeConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import shared from './vite.config.ts';
import { chromiumArgs, chromiumPath } from './packages/testkit/src/chromium.ts';

export default mergeConfig(
  shared,
  defineConfig({
    // Optimized up front: a dependency discovered mid-run (comlink from the engine's worker,
    // onnxruntime-web / hnswlib-wasm imported lazily by the CPU path) makes Vite reload the page
    // and fail the test that was running.
    optimizeDeps: {
      include: ['comlink', 'idb', 'zod', 'onnxruntime-web', 'onnxruntime-web/wasm', 'hnswlib-wasm/dist/hnswlib.js'],
    },
    test: {
      name: 'browser',
      include: ['{packages,apps}/**/*.browser.test.ts'],
      testTimeout: 120_000,
      globalSetup: ['packages/testkit/src/browser-setup.ts'],
      browser: {
        enabled: true,
        headless: true,
        provider: playwright({ launchOptions: { executablePath: chromiumPath(), args: chromiumArgs() } }),
        instances: [{ browser: 'chromium' }],
      },
    },
  }),
);
