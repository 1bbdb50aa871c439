// The Vite configuration shared by the demo (apps/demo) and the browser tests.
// WGSL files are imported as strings with `?raw`, so the browser, the worker and the
// Dawn trainer run identical shader source.
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  server: { fs: { allow: [root] } },
  worker: { format: 'es' },
  build: { target: 'es2022' },
});
