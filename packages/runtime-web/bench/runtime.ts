// `pnpm bench:runtime`: the Engine in headless Chromium (Debian chromium via playwright-core,
// scripts/chromium.ts: SwiftShader, or the real GPU with VIREO_GPU_ADAPTER=native, set by
// default when /dev/nvidiactl exists). Random-weight bundles of 10k, 100k and 1M items are made
// here and served with the page by a Vite dev server; page.ts measures cold start, warm
// recommend() P50/P99 with per-stage times, and the peers (onnxruntime-web wasm on the same
// 1,000 candidates, hnswlib-wasm on the same catalogue with its recall). Prints a table and
// writes JSON.
//   --sizes 10000,100000,1000000   --runs 20,10,3   --dim 32   --hnsw-max 10000   --out FILE
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer, type Plugin } from 'vite';
import { chromiumArgs, chromiumPath } from '../../../scripts/chromium.ts';
import { makeFixtureBundle } from '../src/engine/fixture.ts';
import type { BenchConfig } from './page.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '../../..');

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const sizes = flag('sizes', '10000,100000,1000000').split(',').map(Number);
const runList = flag('runs', '20,10,3').split(',').map(Number);
const dim = Number(flag('dim', '32'));
const hnswMax = Number(flag('hnsw-max', '10000')); // its wasm build is ~12 s at 10k on SwiftShader's box, superlinear after
const out = flag('out', 'bench-runtime.json');
if (!process.env.VIREO_GPU_ADAPTER && existsSync('/dev/nvidiactl')) process.env.VIREO_GPU_ADAPTER = 'native';

const bundles = new Map<string, Uint8Array>(); // "/bundles/N/file" → bytes
for (const N of sizes) {
  const t = performance.now();
  const b = await makeFixtureBundle('1', 1, `bench-${N}`, { items: N, dim });
  bundles.set(`/bundles/${N}/manifest.json`, new TextEncoder().encode(JSON.stringify(b.manifest)));
  for (const [name, bytes] of b.files) bundles.set(`/bundles/${N}/${name}`, bytes);
  const mb = [...b.files.values()].reduce((s, x) => s + x.byteLength, 0) / 2 ** 20;
  console.log(`bundle N=${N} D=${dim}: ${mb.toFixed(1)} MiB, made in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
const serveBundles: Plugin = {
  name: 'vireo-bench-bundles',
  configureServer(server) {
    server.middlewares.use((req, res, next) => {
      const bytes = bundles.get((req.url ?? '').split('?')[0]);
      if (!bytes) return next();
      res.setHeader('content-type', req.url!.endsWith('.json') ? 'application/json' : 'application/octet-stream');
      res.setHeader('content-length', String(bytes.byteLength));
      res.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    });
  },
};
const server = await createServer({ configFile: join(repo, 'vite.config.ts'), root: here, logLevel: 'warn', server: { port: 0, host: '127.0.0.1', hmr: false }, plugins: [serveBundles],
  // Optimized up front, so that no late discovery reloads the page in the middle of a run.
  optimizeDeps: { entries: [join(here, 'page.ts')], include: ['onnxruntime-web', 'hnswlib-wasm/dist/hnswlib.js', 'idb', 'comlink', 'zod'] },
});
await server.listen();
const address = server.httpServer!.address() as { port: number };
const origin = `http://127.0.0.1:${address.port}`;
const browser = await chromium.launch({ executablePath: chromiumPath(), args: chromiumArgs(), headless: true });
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.text().startsWith('[bench]')) console.log(m.text()); });
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`${origin}/index.html`);
  await page.waitForFunction(() => (window as unknown as { vireoBenchReady?: boolean }).vireoBenchReady === true, null, { timeout: 120_000 });
  const config: BenchConfig = {
    sizes: sizes.map((N, i) => ({ N, base: `${origin}/bundles/${N}/`, runs: runList[i] ?? runList.at(-1)!, hnsw: N <= hnswMax })),
    k: 20,
    candidates: 1000,
    ortRuns: 20,
    hnswQueries: 10,
    hnswK: 100,
  };
  const result = await page.evaluate((c) => (window as unknown as { vireoBench: (c: BenchConfig) => Promise<unknown> }).vireoBench(c), config) as {
    adapter: { description: string; vendor: string; architecture: string; timestampQuery: boolean } | null;
    results: {
      N: number; runs: number; backend: string;
      cold: { totalMs: number; downloadVerifyMs: number; loadCompileMs: number };
      warm: { total: { p50: number; p99: number }; stagesP50: Record<string, number | null>; gpuP50: Record<string, number | null> };
      onnxruntimeWasm: { p50: number; p99: number; candidates: number };
      hnswlibWasm: { skipped?: boolean; p50?: number; p99?: number; recall?: number; buildMs?: number; k?: number };
    }[];
  };
  const f = (x: number | null | undefined, d = 1) => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(d));
  const a = result.adapter;
  console.log(`\nadapter: ${a ? `${a.vendor} ${a.architecture} ${a.description} (timestamp-query: ${a.timestampQuery})` : 'none (CPU backend)'}, D = ${dim}, k = 20, 1,000 candidates ranked`);
  console.log('| items | runs | recommend P50 | P99 | user tower | retrieval | ranking | blend | GPU tower/retr/rank | cold start (download+verify / load+compile) | ORT wasm rank 1k P50 / P99 | hnswlib k=100 P50 / recall / build |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of result.results) {
    const s = r.warm.stagesP50;
    const g = r.warm.gpuP50;
    const h = r.hnswlibWasm;
    console.log(`| ${r.N.toLocaleString('en')} | ${r.runs} | ${f(r.warm.total.p50)} ms | ${f(r.warm.total.p99)} ms | ${f(s.userTower)} | ${f(s.retrieval)} | ${f(s.ranking)} | ${f(s.blend, 2)} | ${g.retrieval === null ? '—' : `${f(g.userTower, 2)}/${f(g.retrieval, 2)}/${f(g.ranking, 2)}`} | ${f(r.cold.totalMs, 0)} ms (${f(r.cold.downloadVerifyMs, 0)} / ${f(r.cold.loadCompileMs, 0)}) | ${f(r.onnxruntimeWasm.p50)} / ${f(r.onnxruntimeWasm.p99)} ms | ${h.skipped ? `skipped (over --hnsw-max ${hnswMax})` : `${f(h.p50, 2)} ms / ${f(h.recall, 3)} / ${f((h.buildMs ?? 0) / 1000, 1)} s`} |`);
  }
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), dim, ...result }, null, 2) + '\n');
  console.log(`\nwrote ${out}`);
} finally {
  await browser.close();
  await server.close();
}
