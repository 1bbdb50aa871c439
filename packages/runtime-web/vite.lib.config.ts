// `pnpm --filter @vireo/runtime-web build`: the Engine as an ESM library (dist/vireo-runtime.js)
// with its worker chunk and the WGSL sources inlined (imported with ?raw), plus type declarations
// (tsc, dist/types). Runtime dependencies stay external: the app installs them with the package.
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

const external = [/^onnxruntime-web/, /^hnswlib-wasm/, 'idb', 'comlink', 'zod', /^zod\//];

export default defineConfig({
  // Relative asset URLs: the worker chunk resolves against the library file's own URL
  // (new URL('./assets/worker-….js', import.meta.url)) wherever the app serves the package, not
  // against the site root.
  base: './',
  worker: { format: 'es', rollupOptions: { external } },
  build: {
    target: 'es2022',
    outDir: here('./dist'),
    emptyOutDir: true,
    sourcemap: true,
    lib: { entry: { 'vireo-runtime': here('./src/index.ts') }, formats: ['es'] },
    rollupOptions: { external },
  },
});
