import { defineConfig } from 'vitest/config';
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
export default defineConfig({
  plugins: [cloudflareTest({ miniflare: { compatibilityDate: '2026-04-01', d1Databases: ['DB'], kvNamespaces: ['KV'], r2Buckets: ['R2'] } })],
  test: { name: 'edge-workers', include: ['src/**/*.workers.test.ts'] },
});
