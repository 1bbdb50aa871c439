// The same shop built with esbuild instead of Vite → dist-esbuild/. esbuild does not follow
// `new Worker(new URL('./worker.js', import.meta.url))`, so the runtime's worker is a second entry
// point written next to the page's code, where that URL points.
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as esbuild from 'esbuild';

const out = 'dist-esbuild';
const runtime = dirname(createRequire(import.meta.url).resolve('@vireo/runtime-web/package.json'));
await esbuild.build({
  entryPoints: { main: 'src/main.ts', worker: join(runtime, 'dist/worker.js') },
  bundle: true,
  splitting: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  outdir: out,
  logLevel: 'warning',
});
mkdirSync(out, { recursive: true });
const html = readFileSync('index.html', 'utf8').replace(/src="\/src\/main\.ts"/, 'src="/main.js"');
writeFileSync(join(out, 'index.html'), html);
copyFileSync('public/sw.js', join(out, 'sw.js'));
// What the runtime loads by URL at run time, which esbuild does not follow: onnxruntime-web's wasm (the CPU
// path's ranker, fetched next to the code that imports it) and the runtime's own assets (the hnswlib worker).
const ort = join(dirname(createRequire(join(runtime, 'package.json')).resolve('onnxruntime-web')), '.');
for (const f of readdirSync(ort)) if (/^ort-wasm.*\.(wasm|mjs)$/.test(f)) copyFileSync(join(ort, f), join(out, f));
if (existsSync(join(runtime, 'dist/assets')))
  cpSync(join(runtime, 'dist/assets'), join(out, 'assets'), { recursive: true });
