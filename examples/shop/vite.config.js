// The shop's production build: `vite build` → dist/. The engine's worker is an ES module worker
// (Vite emits it as its own chunk, with its own copy of the engine), so Vite builds workers as ES
// modules. In `vite` (dev) the
// runtime must not be pre-bundled, or its worker file would not sit next to it.
import { defineConfig } from 'vite';

export default defineConfig({
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['@vireo/runtime-web'] },
  build: { target: 'es2022' },
});
