// The page side of `pnpm bench:runtime` (runtime.ts drives it in headless Chromium): for each
// catalogue, a cold start (download, verify, parse, upload, compile) and warm recommend()
// latencies with per-stage times, and, in the same page, the peers: onnxruntime-web (wasm) on
// the bundle's ranking.onnx with the same 1,000 candidates the engine ranked, and hnswlib-wasm
// over the same catalogue (recall against exact top-k).
import { FIRST_INDEX, readSafetensors } from '@vireo/core';
import { createEngine, type RecommendResult } from '../src/engine/index.ts';
import { onnxInputName } from '../src/backends/cpu.ts';

export interface SizeConfig {
  N: number;
  base: string;
  runs: number;
  hnsw: boolean;
}
export interface BenchConfig {
  sizes: SizeConfig[];
  k: number;
  candidates: number;
  ortRuns: number;
  hnswQueries: number;
  hnswK: number;
}

const now = () => performance.now();
function q(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
}
const stats = (v: number[]) => ({ p50: q(v, 0.5), p99: q(v, 0.99), n: v.length });

async function benchSize(cfg: BenchConfig, s: SizeConfig, log: (m: string) => void) {
  const dbName = `vireo-bench-${s.N}-${Date.now()}`;
  // Cold start: an empty IndexedDB, nothing compiled.
  let downloaded = 0;
  const t0 = now();
  const engine = await createEngine({ model: s.base, dbName, candidates: cfg.candidates, onProgress: (p) => { if (p.bundleLoaded === p.bundleTotal) downloaded = now(); } });
  const cold = { totalMs: now() - t0, downloadVerifyMs: downloaded ? downloaded - t0 : NaN, loadCompileMs: downloaded ? now() - downloaded : NaN };
  log(`N=${s.N}: cold start ${cold.totalMs.toFixed(0)} ms on ${engine.backend}`);
  const req = (i: number) => ({ userId: `u${i % 10}`, context: { 'context:hour': i % 24 }, k: cfg.k });
  const first = now();
  await engine.recommend(req(0));
  const firstMs = now() - first;
  await engine.recommend(req(1));
  const runs: RecommendResult[] = [];
  for (let i = 0; i < s.runs; i++) runs.push(await engine.recommend(req(i + 2)));
  const stage = (f: (r: RecommendResult) => number | undefined) => {
    const v = runs.map(f).filter((x): x is number => x !== undefined);
    return v.length ? q(v, 0.5) : null;
  };
  const warm = {
    total: stats(runs.map((r) => r.timings.total)),
    stagesP50: {
      features: stage((r) => r.timings.features),
      userTower: stage((r) => r.timings.userTower),
      retrieval: stage((r) => r.timings.retrieval),
      ranking: stage((r) => r.timings.ranking),
      blend: stage((r) => r.timings.blend),
    },
    gpuP50: {
      userTower: stage((r) => r.timings.gpu?.userTower),
      retrieval: stage((r) => r.timings.gpu?.retrieval),
      ranking: stage((r) => r.timings.gpu?.ranking),
    },
  };
  log(`N=${s.N}: warm P50 ${warm.total.p50.toFixed(1)} ms`);
  // The candidates the engine ranked (all of them, k = candidates), for the ONNX peer.
  const all = await engine.recommend({ ...req(0), k: cfg.candidates });
  const candidateIds = all.items.map((i) => i.itemId);
  engine.dispose();
  await new Promise<void>((ok) => { const r = indexedDB.deleteDatabase(dbName); r.onsuccess = r.onerror = r.onblocked = () => ok(); });

  // Peer 1: onnxruntime-web (wasm) on ranking.onnx, the same candidates.
  const fetchBytes = async (f: string) => new Uint8Array(await (await fetch(s.base + f)).arrayBuffer());
  const manifest = (await (await fetch(s.base + 'manifest.json')).json()) as { vocabularies: Record<string, string[]>; architecture: { ranking: { config?: { sparseFeatures: { name: string; width: number }[] } } } };
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(await fetchBytes('ranking.onnx'), { executionProviders: ['wasm'] });
  const itemIndex = new Map(manifest.vocabularies['item:id'].map((id, i) => [id, i]));
  const n = candidateIds.length;
  const itemsFile = readSafetensors(await fetchBytes('items.safetensors')).tensors;
  const category = itemsFile.get('features.item:category')?.data as Int32Array | undefined;
  const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
  for (const input of session.inputNames) {
    const data = new BigInt64Array(n);
    for (let j = 0; j < n; j++) {
      const row = itemIndex.get(candidateIds[j]) ?? 0;
      data[j] = BigInt(input === onnxInputName('item:id') ? row + FIRST_INDEX : input === onnxInputName('item:category') ? (category ? category[row] : FIRST_INDEX) : FIRST_INDEX);
    }
    feeds[input] = new ort.Tensor('int64', data, [n, 1]);
  }
  await session.run(feeds);
  const ortTimes: number[] = [];
  for (let i = 0; i < cfg.ortRuns; i++) {
    const t = now();
    await session.run(feeds);
    ortTimes.push(now() - t);
  }
  await session.release();
  const ortResult = { candidates: n, ...stats(ortTimes) };
  log(`N=${s.N}: onnxruntime-web wasm P50 ${ortResult.p50.toFixed(1)} ms`);

  // Peer 2: hnswlib-wasm over the same catalogue, recall@k against exact top-k.
  let hnsw: Record<string, unknown> = { skipped: true };
  if (s.hnsw) {
    const emb = itemsFile.get('embeddings')!;
    const items = emb.data as Float32Array;
    const D = emb.shape[1];
    (globalThis as { importScripts?: unknown }).importScripts ??= () => {};
    const { loadHnswlib } = (await import('hnswlib-wasm/dist/hnswlib.js')) as unknown as { loadHnswlib: () => Promise<any> };
    const lib = await loadHnswlib();
    const index = new lib.HierarchicalNSW('ip', D, '');
    const tb = now();
    index.initIndex(s.N, 16, 100, 100);
    for (let i = 0; i < s.N; i++) index.addPoint(Array.from(items.subarray(i * D, (i + 1) * D)), i, false);
    const buildMs = now() - tb;
    const ef = Math.max(cfg.hnswK, 128);
    index.setEfSearch(ef);
    const times: number[] = [];
    let hit = 0;
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    for (let t = 0; t < cfg.hnswQueries; t++) {
      const u = new Float32Array(D).map(rand);
      const norm = Math.hypot(...u);
      for (let d = 0; d < D; d++) u[d] /= norm;
      const ts = now();
      const r = index.searchKnn(Array.from(u), cfg.hnswK, undefined) as { neighbors: number[] };
      times.push(now() - ts);
      const scores = new Float32Array(s.N);
      for (let i = 0; i < s.N; i++) {
        let acc = 0;
        for (let d = 0; d < D; d++) acc += items[i * D + d] * u[d];
        scores[i] = acc;
      }
      const exact = new Set(Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b).slice(0, cfg.hnswK));
      hit += r.neighbors.filter((id) => exact.has(id)).length;
    }
    hnsw = { k: cfg.hnswK, M: 16, efConstruction: 100, efSearch: ef, buildMs, recall: hit / (cfg.hnswQueries * cfg.hnswK), ...stats(times) };
    log(`N=${s.N}: hnswlib-wasm build ${buildMs.toFixed(0)} ms, search P50 ${stats(times).p50.toFixed(2)} ms, recall ${(hit / (cfg.hnswQueries * cfg.hnswK)).toFixed(3)}`);
  }
  return { N: s.N, runs: s.runs, backend: all.backend, cold, firstRecommendMs: firstMs, warm, onnxruntimeWasm: ortResult, hnswlibWasm: hnsw };
}

async function adapterInfo() {
  const gpu = (navigator as { gpu?: GPU }).gpu;
  const adapter = await gpu?.requestAdapter();
  if (!adapter) return null;
  const i = adapter.info;
  return { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, timestampQuery: adapter.features.has('timestamp-query') };
}

(window as unknown as { vireoBench: unknown }).vireoBench = async (cfg: BenchConfig) => {
  const results = [];
  const log = (m: string) => console.log(`[bench] ${m}`);
  for (const s of cfg.sizes) results.push(await benchSize(cfg, s, log));
  return { adapter: await adapterInfo(), userAgent: navigator.userAgent, config: cfg, results };
};
(window as unknown as { vireoBenchReady: boolean }).vireoBenchReady = true;
