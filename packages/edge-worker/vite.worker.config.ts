// `pnpm --filter @vireo/edge-worker build`, second half: the Cloudflare Worker as an installable entry
// (dist/worker/worker.js, '@vireo/edge-worker/worker'), so a team deploys the edge from the package it installed:
// `npx vireo-edge init-worker` writes a wrangler.toml whose `main` is this file (docs/deploy-cloudflare.md).
// An ESM module for the Workers runtime with @vireo/core (private) inlined; hono, jose and zod stay imports
// that wrangler bundles from the project's node_modules.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const pkg = JSON.parse(readFileSync(here('./package.json'), 'utf8')) as { dependencies: Record<string, string> };
const deps = Object.keys(pkg.dependencies).filter((d) => !d.startsWith('@vireo/'));
const external = (id: string) => id.startsWith('node:') || deps.some((d) => id === d || id.startsWith(`${d}/`));

export default defineConfig({
  build: {
    ssr: true,
    target: 'es2022',
    outDir: here('./dist/worker'),
    emptyOutDir: true,
    minify: false,
    rollupOptions: {
      input: { worker: here('./src/worker.ts') },
      external,
      output: { format: 'es', chunkFileNames: '[name]-[hash].js' },
    },
  },
  ssr: { noExternal: [/^@vireo\//], target: 'webworker' },
});
