// `pnpm --filter @vireo/edge-worker build`: the Node edge as an installable package (`vireo-edge`,
// '@vireo/edge-worker/node', '@vireo/edge-worker/cli' for `vireo token` of @vireo/trainer, and the platform-free
// '@vireo/edge-worker', whose promotedStack `vireo refresh --keep` replays the registry's history with), an ESM
// bundle for Node 20 in dist/node/ with @vireo/core (private) inlined and every dependency of package.json
// left an import. dist/node/ sits two folders below the package root like src/storage/, so the SQLite
// migrations resolve to the package's migrations/ folder in both (src/storage/sqlite.ts:
// new URL('../../migrations/', import.meta.url)).
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const pkg = JSON.parse(readFileSync(here('./package.json'), 'utf8')) as { dependencies: Record<string, string> };
const deps = Object.keys(pkg.dependencies).filter((d) => !d.startsWith('@vireo/'));
const external = (id: string) =>
  id.startsWith('node:') || builtinModules.includes(id) || deps.some((d) => id === d || id.startsWith(`${d}/`));

export default defineConfig({
  build: {
    ssr: true,
    target: 'node20',
    outDir: here('./dist/node'),
    emptyOutDir: true,
    minify: false,
    rollupOptions: {
      input: {
        'vireo-edge': here('./src/bin.ts'),
        node: here('./src/node.ts'),
        cli: here('./src/cli.ts'),
        index: here('./src/index.ts'),
      },
      external,
      output: {
        format: 'es',
        chunkFileNames: '[name]-[hash].js',
        banner: (c) => (c.name === 'vireo-edge' ? '#!/usr/bin/env node' : ''),
      },
    },
  },
  ssr: { noExternal: [/^@vireo\//] },
});
