// `pnpm --filter @vireo/runtime-web build`: the Engine as an ESM library for a web app's own bundler
// (docs/ARCHITECTURE.md §2, "Packages and their dependencies"). Two entries, dist/vireo-runtime.js (the page) and
// dist/worker.js
// (the Web Worker of createEngineWorker), sharing their chunks; the WGSL sources are inlined (?raw);
// @vireo/core, @vireo/kernels and @vireo/models are bundled (they are not published); the runtime
// dependencies (comlink, idb, zod, onnxruntime-web, hnswlib-wasm) stay imports that the app's
// bundler resolves from the package's dependencies.
//
// The page starts the worker with the pattern every bundler understands,
//   new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })
// so Vite and webpack bundle dist/worker.js (with its imports) as a worker of the app, and an app
// built with esbuild adds dist/worker.js as a second entry point next to its own (docs/getting-started.md).
// Vite's own worker plugin would rewrite that expression into a prebuilt asset whose bare imports no
// bundler sees; `keepWorkerUrl` hides it from the plugin and writes it back in the output.
// The hnswlib worker (backends/hnsw.worker.ts) is such a prebuilt asset, dist/assets/hnsw.worker-*.js
// (self-contained), but Vite writes its URL for a site served from the root,
//   new URL(/* @vite-ignore */ "/assets/hnsw.worker-….js", "" + import.meta.url)
// which webpack 5 refuses to build (it resolves "/assets/…" on the disk) and which points at nothing
// in any app. `relativeWorkerAssets` writes it as `new URL("./assets/hnsw.worker-….js",
// import.meta.url)`, the pattern bundlers follow, resolved next to the chunk that starts it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const pkg = JSON.parse(readFileSync(here('./package.json'), 'utf8')) as { dependencies: Record<string, string> };
const deps = Object.keys(pkg.dependencies);
const external = (id: string) => deps.some((d) => id === d || id.startsWith(`${d}/`));

const PLACEHOLDER = '__VIREO_ENGINE_WORKER_URL__';

function keepWorkerUrl(): Plugin {
  const source = /new URL\(\s*['"]\.\/worker\.ts['"],\s*import\.meta\.url\s*\)/;
  return {
    name: 'vireo:keep-worker-url',
    enforce: 'pre',
    load(id) {
      if (!id.endsWith('/engine/worker.ts')) return null;
      const code = readFileSync(id, 'utf8');
      if (!source.test(code)) this.error('engine/worker.ts no longer starts its worker from ./worker.ts');
      return code.replace(new RegExp(source, 'g'), PLACEHOLDER);
    },
    renderChunk(code) {
      if (!code.includes(PLACEHOLDER)) return null;
      return { code: code.replaceAll(PLACEHOLDER, 'new URL("./worker.js", import.meta.url)'), map: null };
    },
  };
}

/** A Vite-built worker asset's URL, `new URL(/* @vite-ignore *\/ "/assets/x.js", "" + import.meta.url)`. */
const ASSET_WORKER_URL =
  /new URL\(\s*\/\*\s*@vite-ignore\s*\*\/\s*"\/(assets\/[^"]+\.js)",\s*"" \+ import\.meta\.url\s*\)/g;

function relativeWorkerAssets(): Plugin {
  return {
    name: 'vireo:relative-worker-assets',
    // After every renderChunk (Vite fills in the asset's file name there).
    generateBundle(_options, bundle) {
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== 'chunk') continue;
        // The same lines (the source map stays right below): the match's line breaks end the call.
        chunk.code = chunk.code.replace(
          ASSET_WORKER_URL,
          (all, file: string) => `new URL("./${file}", import.meta.url${all.replace(/[^\n]/g, '')})`,
        );
        if (chunk.code.includes('"" + import.meta.url'))
          this.error(`${chunk.fileName} still starts a worker from a root-relative URL (vite.lib.config.ts)`);
      }
    },
  };
}

export default defineConfig({
  plugins: [keepWorkerUrl(), relativeWorkerAssets()],
  build: {
    target: 'es2022',
    outDir: here('./dist'),
    emptyOutDir: true,
    sourcemap: true,
    lib: {
      entry: { 'vireo-runtime': here('./src/index.ts'), worker: here('./src/engine/worker.ts') },
      formats: ['es'],
    },
    rollupOptions: { external, output: { chunkFileNames: 'engine-[hash].js' } },
  },
});
