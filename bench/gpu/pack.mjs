// Packs what the GPU machine needs into .device/ (git-ignored; the device tool carries it):
//   node.xz           this machine's Node binary (the GPU machine may have none)
//   modules.tar.xz    the native packages the bundle loads: webgpu (Dawn, linux-x64 only) and
//                     onnxruntime-node (linux-x64 only) with onnxruntime-common
//   app/              the `vireo` CLI bundled by esbuild (WGSL inlined, chunks per command) and
//                     the PyTorch peers it shells out to
// Usage: node bench/gpu/pack.mjs   (from the repository root, after the install)
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '../..');
const out = join(root, '.device');
const pnpm = join(root, 'node_modules/.pnpm');
const pkg = (prefix) => {
  const dir = readdirSync(pnpm).find((d) => d.startsWith(prefix));
  if (!dir) throw new Error(`bench/gpu/pack: ${prefix} is not installed; run npm test or pnpm install first.`);
  return join(pnpm, dir, 'node_modules', prefix.replace(/@[^@]*$/, '').replace('+', '/'));
};

rmSync(join(out, 'app'), { recursive: true, force: true });

// 1. The CLI bundle.
const require = createRequire(
  join(
    pnpm,
    readdirSync(pnpm).find((d) => d.startsWith('esbuild@')),
    'node_modules/esbuild/package.json',
  ),
);
const { build } = require('esbuild');
await build({
  entryPoints: { vireo: join(root, 'bench/gpu/entry.ts') },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  splitting: true,
  outdir: join(out, 'app'),
  outExtension: { '.js': '.mjs' },
  // Commands the GPU run does not use pull in the dev server, the edge and Chromium: left out.
  external: [
    'webgpu',
    'onnxruntime-node',
    'better-sqlite3',
    'playwright-core',
    'vite',
    '@vitejs/*',
    'lightningcss',
    'hono',
    '@hono/*',
  ],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  plugins: [
    {
      name: 'wgsl-raw',
      setup(b) {
        b.onResolve({ filter: /\?raw$/ }, (a) => ({
          path: resolve(a.resolveDir, a.path.replace(/\?raw$/, '')),
          namespace: 'raw',
        }));
        b.onLoad({ filter: /.*/, namespace: 'raw' }, (a) => ({
          contents: readFileSync(a.path, 'utf8'),
          loader: 'text',
        }));
      },
    },
  ],
  logLevel: 'warning',
});
// The Python peers the bundle shells out to, found beside its chunks (new URL('./x.py', import.meta.url)).
const benchDir = join(root, 'packages/trainer/src/bench');
for (const f of readdirSync(benchDir).filter((n) => n.endsWith('.py'))) cpSync(join(benchDir, f), join(out, 'app', f));

// 2. The native packages, this platform's binaries only (kept from an earlier pack: they change
//    only with the lockfile; delete .device/modules.tar.xz to redo them).
if (!existsSync(join(out, 'modules.tar.xz'))) {
  rmSync(join(out, 'stage'), { recursive: true, force: true });
  mkdirSync(join(out, 'stage/node_modules'), { recursive: true });
  const nm = join(out, 'stage/node_modules');
  const webgpu = pkg('webgpu@');
  mkdirSync(join(nm, 'webgpu/dist'), { recursive: true });
  for (const f of ['index.js', 'package.json']) cpSync(join(webgpu, f), join(nm, 'webgpu', f));
  cpSync(join(webgpu, 'dist/linux-x64'), join(nm, 'webgpu/dist/linux-x64'), { recursive: true });
  const ort = pkg('onnxruntime-node@');
  cpSync(ort, join(nm, 'onnxruntime-node'), {
    recursive: true,
    dereference: true,
    filter: (src) => !/bin\/napi-v\d+\/(darwin|win32|linux\/arm64)/.test(src),
  });
  cpSync(pkg('onnxruntime-common@'), join(nm, 'onnxruntime-common'), { recursive: true, dereference: true });
  execFileSync('tar', ['-C', join(out, 'stage'), '-cJf', join(out, 'modules.tar.xz'), 'node_modules'], {
    env: { ...process.env, XZ_OPT: '-6 -T2' },
  });
  rmSync(join(out, 'stage'), { recursive: true, force: true });
}

// 3. Node itself.
if (!existsSync(join(out, 'node.xz')))
  execFileSync('sh', ['-c', `xz -6 -T2 -c "${process.execPath}" > "${join(out, 'node.xz')}"`]);

const size = (p) =>
  statSync(p).isDirectory() ? readdirSync(p).reduce((s, f) => s + size(join(p, f)), 0) : statSync(p).size;
console.log(`.device/: ${(size(out) / 2 ** 20).toFixed(1)} MiB (node.xz, modules.tar.xz, app/)`);
