import { defineConfig, mergeConfig } from 'vitest/config';
import shared from './vite.config.ts';

export default mergeConfig(
  shared,
  defineConfig({
    test: {
      name: 'node',
      include: ['{packages,apps}/**/*.test.ts', 'scripts/*.test.ts'],
      exclude: ['**/node_modules/**', '**/*.browser.test.ts', '**/*.workers.test.ts', '**/*.e2e.test.ts'],
      setupFiles: ['packages/testkit/src/setup-dawn.ts'],
      testTimeout: 300_000,
      hookTimeout: 120_000,
      pool: 'forks',
    },
  }),
);
