// All tests of the repository. Projects:
//  - node:    unit tests and kernels on Dawn (SwiftShader Vulkan when there is no GPU)
//  - browser: the same kernel cases in headless Chromium over WebGPU
// Packages may add their own projects (e.g. the edge worker inside workerd); examples/shop adds
// shop-e2e (the packed packages installed and built as a user would).
import { defineConfig, mergeConfig } from 'vitest/config';
import shared from './vite.config.ts';

export default mergeConfig(
  shared,
  defineConfig({
    test: {
      projects: [
        'vitest.node.config.ts',
        'vitest.browser.config.ts',
        'packages/*/vitest.*.config.ts',
        'apps/*/vitest.*.config.ts',
        'examples/*/vitest.*.config.ts',
      ],
    },
  }),
);
