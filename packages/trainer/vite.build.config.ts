// `pnpm --filter @vireo/trainer build`: the `vireo` CLI as an installable package, an ESM bundle for
// Node 20 in dist/ (docs/ARCHITECTURE.md §2, "Packages and their dependencies"). @vireo/core,
// @vireo/kernels and @vireo/models are private, so they are bundled, the WGSL inlined by Vite's ?raw as in
// the browser; every dependency of package.json (webgpu, hyparquet, protobufjs, zod, and the published
// @vireo/edge-worker for `vireo token`) stays an import that npm installs. `vireo start` and `vireo bench`
// drive the repository (apps/demo, bench/'s peers): in the package they are src/commands/repository-only.ts.
// The entry and its chunks sit in dist/, one folder below the package root like src/, so cli.ts reads the
// version from ../package.json in both.
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const pkg = JSON.parse(readFileSync(here('./package.json'), 'utf8')) as { dependencies: Record<string, string> };
const bundled = ['@vireo/core', '@vireo/kernels', '@vireo/models'];
const deps = Object.keys(pkg.dependencies).filter((d) => !bundled.includes(d));
const external = (id: string) =>
  id.startsWith('node:') || builtinModules.includes(id) || deps.some((d) => id === d || id.startsWith(`${d}/`));

/** Replaces the repository-only commands by their one sentence. */
function repositoryOnlyCommands(): Plugin {
  const only = /\/commands\/(start|bench)\.ts$/;
  const ONLY = '\0vireo-repository-only:';
  return {
    name: 'vireo:repository-only-commands',
    enforce: 'pre',
    async resolveId(id, importer) {
      const m = only.exec(id);
      if (!m || !importer?.endsWith('/src/cli.ts')) return null;
      return `${ONLY}${m[1]}`;
    },
    load(id) {
      if (!id.startsWith(ONLY)) return null;
      const name = id.slice(ONLY.length);
      return (
        `import { repositoryOnly } from ${JSON.stringify(here('./src/commands/repository-only.ts'))};\n` +
        `export const run = () => repositoryOnly(${JSON.stringify(name)});\n`
      );
    },
  };
}

export default defineConfig({
  plugins: [repositoryOnlyCommands()],
  build: {
    ssr: true,
    target: 'node20',
    outDir: here('./dist'),
    emptyOutDir: true,
    minify: false,
    rollupOptions: {
      input: { vireo: here('./src/bin.ts') },
      external,
      output: {
        format: 'es',
        chunkFileNames: '[name]-[hash].js',
        banner: (c) => (c.name === 'vireo' ? '#!/usr/bin/env node' : ''),
      },
    },
  },
  ssr: { noExternal: [/^@vireo\/(core|kernels|models)/] },
});
