// `pnpm bench:runtime`: the Engine in headless Chromium (Debian chromium via playwright-core,
// @vireo/testkit/chromium: SwiftShader, or the real GPU with VIREO_GPU_ADAPTER=native, set by
// default when /dev/nvidiactl exists). Random-weight bundles of 10k, 100k and 1M items are made
// here and served with the page by a Vite dev server; page.ts measures cold start, warm
// recommend() P50/P99 with per-stage times, and the peers (onnxruntime-web on the same 1,000
// candidates with the wasm EP and, where the adapter allows, the webgpu EP; hnswlib-wasm on the
// same catalogue with its recall against exact top-k), then the CPU path (the backend 'auto'
// picks on a CPU adapter) on the same requests with its recall@20 against the WebGPU path.
// Prints three tables and writes JSON (schema 'vireo.bench.runtime/1', see README).
//   --sizes 10000,100000,1000000   --runs 20,10,3   --dim 32   --hnsw-max 100000   --out FILE
//   --cpu-runs 50   --cpu-hnsw-threshold N (default: none, the CPU path's exact scan at every size)
//   --quick   (10k and 100k, fewer runs and queries: about a minute on SwiftShader)
//   --cpu-profile FILE   a V8 CPU profile of the page over the whole run (.cpuprofile: Chrome DevTools,
//                        speedscope), e.g. with --sizes 10000 --cpu-runs 500 to see where the CPU path's time goes
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer, type Plugin } from 'vite';
import { chromiumArgs, chromiumPath } from '@vireo/testkit/chromium';
import { makeFixtureBundle } from '@vireo/testkit/fixture';
import type { BenchConfig } from './page.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '../../..');

const quick = process.argv.includes('--quick');
function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const sizes = flag('sizes', quick ? '10000,100000' : '10000,100000,1000000')
  .split(',')
  .map(Number);
const runList = flag('runs', quick ? '10,5' : '20,10,3')
  .split(',')
  .map(Number);
const dim = Number(flag('dim', '32'));
// hnswlib-wasm builds its graph single-threaded: ~40 s for 100k items on this shared 2-core box
// (M 12, efConstruction 48), so 1M would be over 10 min: searched up to --hnsw-max.
const hnswMax = Number(flag('hnsw-max', '100000'));
const out = flag('out', 'bench-runtime.json');
const cpuRuns = Number(flag('cpu-runs', quick ? '20' : '50'));
const cpuHnswThreshold = flag('cpu-hnsw-threshold', '') === '' ? null : Number(flag('cpu-hnsw-threshold', ''));
// --last-item off: the user tower without the most recent item's input (bundles from before it), for a
// before / after comparison of the user tower's time.
const lastItem = flag('last-item', 'on') !== 'off';
const cpuProfile = flag('cpu-profile', '');
if (
  sizes.some((n) => !Number.isInteger(n) || n < 1) ||
  runList.some((n) => !Number.isInteger(n) || n < 1) ||
  !Number.isInteger(cpuRuns) ||
  cpuRuns < 1 ||
  (cpuHnswThreshold !== null && !(cpuHnswThreshold >= 0)) ||
  !(dim > 0)
) {
  console.error(
    `bench:runtime: --sizes, --runs and --dim take positive ` +
      `integers, and --cpu-runs and --cpu-hnsw-threshold positive numbers (got --sizes ${sizes} --runs ` +
      `${runList} --dim ${dim} --cpu-runs ${cpuRuns} --cpu-hnsw-threshold ${cpuHnswThreshold}).`,
  );
  process.exit(2);
}
if (!process.env.VIREO_GPU_ADAPTER && existsSync('/dev/nvidiactl')) process.env.VIREO_GPU_ADAPTER = 'native';

const bundles = new Map<string, Uint8Array>(); // "/bundles/N/file" → bytes
for (const N of sizes) {
  const t = performance.now();
  const b = await makeFixtureBundle('1', 1, `bench-${N}`, { items: N, dim, lastItem });
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
const server = await createServer({
  configFile: join(repo, 'vite.config.ts'),
  root: here,
  logLevel: 'warn',
  server: { port: 0, host: '127.0.0.1', hmr: false },
  plugins: [serveBundles],
  // Optimized up front, so that no late discovery reloads the page in the middle of a run.
  optimizeDeps: {
    entries: [join(here, 'page.ts')],
    include: ['onnxruntime-web', 'onnxruntime-web/wasm', 'hnswlib-wasm/dist/hnswlib.js', 'idb', 'comlink', 'zod'],
  },
});
await server.listen();
const address = server.httpServer!.address() as { port: number };
const origin = `http://127.0.0.1:${address.port}`;
const browser = await chromium.launch({ executablePath: chromiumPath(), args: chromiumArgs(), headless: true });
try {
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (m.text().startsWith('[bench]')) console.log(m.text());
  });
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`${origin}/index.html`);
  await page.waitForFunction(
    () => (window as unknown as { vireoBenchReady?: boolean }).vireoBenchReady === true,
    null,
    { timeout: 120_000 },
  );
  const config: BenchConfig = {
    sizes: sizes.map((N, i) => ({
      N,
      base: `${origin}/bundles/${N}/`,
      runs: runList[i] ?? runList.at(-1)!,
      hnsw: N <= hnswMax,
    })),
    k: 20,
    candidates: 1000,
    ortRuns: quick ? 10 : 20,
    hnswQueries: quick ? 5 : 10,
    hnswK: 100,
    hnswM: 12,
    hnswEfConstruction: 48,
    hnswEfSearch: [128, 256, 512],
    cpuRuns,
    cpuHnswThreshold,
    towerRuns: quick ? 50 : 200,
  };
  const started = performance.now();
  const cdp = cpuProfile ? await page.context().newCDPSession(page) : null;
  if (cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 100 }); // µs
    await cdp.send('Profiler.start');
  }
  const result = (await page.evaluate(
    (c) => (window as unknown as { vireoBench: (c: BenchConfig) => Promise<unknown> }).vireoBench(c),
    config,
  )) as {
    adapter: { description: string; vendor: string; architecture: string; timestampQuery: boolean } | null;
    results: {
      N: number;
      error?: string;
      runs: number;
      backend: string;
      cold: { totalMs: number; downloadVerifyMs: number; loadCompileMs: number };
      firstRecommendMs: number;
      warm: {
        total: { p50: number; p99: number };
        stagesP50: Record<string, number | null>;
        gpuP50: Record<string, number | null>;
      };
      onnxruntimeWasm: { p50: number; p99: number; candidates: number; createAndFirstRunMs: number };
      onnxruntimeWebgpu: {
        p50?: number;
        p99?: number;
        createAndFirstRunMs?: number;
        maxAbsDiffVsWasm?: number;
        error?: string;
      };
      hnswlibWasm: { skipped?: string; p50?: number; p99?: number; recall?: number; buildMs?: number; k?: number };
      cpuPath: {
        auto: { backend: string; reason: string | null };
        backend: string;
        search: string | null;
        coldMs: number;
        firstRecommendMs: number;
        total: { p50: number; p99: number; n: number };
        stagesP50: Record<string, number>;
        recallVsWebgpu: number | null;
        recallRequests: number;
        k: number;
      };
    }[];
  };
  if (cdp) {
    const { profile } = await cdp.send('Profiler.stop');
    writeFileSync(cpuProfile, JSON.stringify(profile));
    console.log(`wrote the page's CPU profile to ${cpuProfile}`);
  }
  const f = (x: number | null | undefined, d = 1) =>
    x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(d);
  const a = result.adapter;
  const adapter = a
    ? `${a.vendor} ${a.architecture} ${a.description} (timestamp-query: ${a.timestampQuery})`
    : 'none (CPU backend)';
  console.log(`\nadapter: ${adapter}, D = ${dim}, k = 20, 1,000 candidates ranked`);
  console.log('\nEngine (warm recommend, ms; stages are P50)');
  console.log(
    '| items | backend | runs | recommend P50 | P99 | features | user tower | retrieval | ranking ' +
      '| blend | GPU tower/retr/rank | first recommend | cold start (download+verify / load+compile) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of result.results) {
    if (r.error) {
      console.log(`| ${r.N.toLocaleString('en')} | failed: ${r.error} |`);
      continue;
    }
    const s = r.warm.stagesP50;
    const g = r.warm.gpuP50;
    console.log(
      `| ${r.N.toLocaleString('en')} | ${r.backend} | ${r.runs} | ${f(r.warm.total.p50)} | ${f(r.warm.total.p99)} ` +
        `| ${f(s.features)} | ${f(s.userTower)} | ${f(s.retrieval)} | ${f(s.ranking)} | ${f(s.blend, 2)} | ` +
        `${g.retrieval === null ? '—' : `${f(g.userTower, 2)}/${f(g.retrieval, 2)}/${f(g.ranking, 2)}`} | ` +
        `${f(r.firstRecommendMs)} | ${f(r.cold.totalMs, 0)} ` +
        `(${f(r.cold.downloadVerifyMs, 0)} / ${f(r.cold.loadCompileMs, 0)}) |`,
    );
  }
  console.log('\nPeers in the same page (ms)');
  console.log(
    '| items | ORT-web wasm rank 1k P50 / P99 | ORT-web webgpu rank 1k P50 / P99 (max ' +
      '|Δ| vs wasm) | hnswlib-wasm k=100 search P50 / P99 | recall@100 vs exact | hnsw build |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const r of result.results) {
    if (r.error) continue;
    const h = r.hnswlibWasm;
    const w = r.onnxruntimeWebgpu;
    const webgpu = w.error
      ? `failed: ${w.error.slice(0, 80)}`
      : `${f(w.p50)} / ${f(w.p99)} (${(w.maxAbsDiffVsWasm ?? NaN).toExponential(1)})`;
    const hn = h.skipped
      ? `skipped (over --hnsw-max ${hnswMax}) | — | —`
      : `${f(h.p50, 2)} / ${f(h.p99, 2)} | ${f(h.recall, 3)} | ${f((h.buildMs ?? 0) / 1000, 1)} s`;
    console.log(
      `| ${r.N.toLocaleString('en')} | ${f(r.onnxruntimeWasm.p50)} / ${f(r.onnxruntimeWasm.p99)} | ${webgpu} | ${hn} |`,
    );
  }
  console.log('\nThe CPU path (warm recommend, ms; stages are P50; recall of its top 20 vs the WebGPU path)');
  console.log(
    '| items | auto picks (why) | search | runs | recommend P50 | P99 | features | user tower | retrieval | ranking ' +
      '| blend | recall@20 vs WebGPU (requests) | first recommend | cold start |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of result.results) {
    if (r.error || !r.cpuPath) continue;
    const c = r.cpuPath;
    const s = c.stagesP50;
    console.log(
      `| ${r.N.toLocaleString('en')} | ${c.auto.backend}${c.auto.reason ? ` (${c.auto.reason})` : ''} | ${c.search} ` +
        `| ${c.total.n} | ${f(c.total.p50, 2)} | ${f(c.total.p99, 2)} | ${f(s.features, 2)} | ${f(s.userTower, 2)} ` +
        `| ${f(s.retrieval, 2)} | ${f(s.ranking, 2)} | ${f(s.blend, 2)} | ${f(c.recallVsWebgpu, 3)} ` +
        `(${c.recallRequests}) | ${f(c.firstRecommendMs)} | ${f(c.coldMs, 0)} |`,
    );
  }
  writeFileSync(
    out,
    JSON.stringify(
      {
        schema: 'vireo.bench.runtime/1',
        date: new Date().toISOString(),
        quick,
        dim,
        wallMs: performance.now() - started,
        ...result,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`\nwrote ${out}`);
} finally {
  await browser.close();
  await server.close();
}
