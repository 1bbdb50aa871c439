// The page side of `pnpm bench:runtime` (runtime.ts drives it in headless Chromium): for each
// catalogue, a cold start (download, verify, parse, upload, compile) and warm recommend()
// latencies with per-stage times, and, in the same page, the peers: onnxruntime-web (the wasm EP,
// and the webgpu EP where the adapter allows) on the bundle's ranking.onnx with the same 1,000
// candidates the engine ranked, and hnswlib-wasm over the same catalogue (recall against exact
// top-k). Then the CPU path (the backend `auto` picks on a CPU adapter, else `backend: 'cpu'`):
// cold start, warm recommend() on the same requests, and its top items' recall@k against the
// WebGPU path's exact search. Every user has a full on-device history (L clicks, observed before
// the timed requests). Once per run, the user tower alone at the trainer's default shape (L = 20,
// field dim 16, hidden 64) on the CPU path (CpuUserTower, as the CPU backend runs it) and on WebGPU (UserTower,
// one submit and a readback of the D floats): the yardstick for changes to the history encoder.
import { FIRST_INDEX, readSafetensors, type BundleManifest } from '@vireo/core';
import { Gpu } from '@vireo/kernels';
import {
  CpuUserTower,
  historyItemEntries,
  parseModel,
  RetrievalWeights,
  retrievalParamLayout,
  UserTower,
  type RetrievalConfig,
} from '@vireo/models';
import { createEngine, type Engine, type RecommendResult } from '../src/engine/index.ts';
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
  hnswM: number;
  hnswEfConstruction: number;
  /** efSearch values swept; the result's headline is the first ≥ 256. */
  hnswEfSearch: number[];
  /** Warm recommend() runs on the CPU path. */
  cpuRuns: number;
  /** The CPU path's hnswThreshold (null: never, the exact scan at every size). */
  cpuHnswThreshold: number | null;
  /** Timed runs of the user tower alone (each backend), after warm-up. */
  towerRuns: number;
}

const now = () => performance.now();
function q(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
}
const stats = (v: number[]) => ({ p50: q(v, 0.5), p99: q(v, 0.99), n: v.length });

/** The users the requests come from (u0 … u9), each with `L` clicks on distinct items, observed in order. */
async function fillHistories(engine: Engine, manifest: BundleManifest): Promise<void> {
  const ids = manifest.vocabularies['item:id'];
  const L = manifest.architecture.retrieval?.historyLength ?? 0;
  for (let u = 0; u < 10; u++)
    for (let j = 0; j < L; j++)
      await engine.observe({ userId: `u${u}`, itemId: ids[(u * 7919 + j * 104_729) % ids.length], type: 'click' });
}

async function benchSize(cfg: BenchConfig, s: SizeConfig, log: (m: string) => void) {
  const manifest = (await (await fetch(s.base + 'manifest.json')).json()) as BundleManifest;
  const dbName = `vireo-bench-${s.N}-${Date.now()}`;
  // Cold start: an empty IndexedDB, nothing compiled.
  let downloaded = 0;
  const t0 = now();
  const hasGpu = Boolean((navigator as { gpu?: GPU }).gpu);
  const engine = await createEngine({
    model: s.base,
    dbName,
    backend: hasGpu ? 'webgpu' : 'auto',
    candidates: cfg.candidates,
    onProgress: (p) => {
      if (p.bundleLoaded === p.bundleTotal) downloaded = now();
    },
  });
  const cold = {
    totalMs: now() - t0,
    downloadVerifyMs: downloaded ? downloaded - t0 : NaN,
    loadCompileMs: downloaded ? now() - downloaded : NaN,
  };
  log(`N=${s.N}: cold start ${cold.totalMs.toFixed(0)} ms on ${engine.backend}`);
  await fillHistories(engine, manifest);
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
  await deleteDb(dbName);
  const cpuPath = await benchCpuPath(cfg, s, req, runs, log, (e) => fillHistories(e, manifest));

  // Peer 1: onnxruntime-web on ranking.onnx, the same candidates: the wasm EP, then the webgpu
  // EP where the adapter allows (its failure is recorded, not fatal).
  const fetchBytes = async (f: string) => new Uint8Array(await (await fetch(s.base + f)).arrayBuffer());
  // The wasm EP from the wasm-only build, as the CPU path runs it; the webgpu EP from the full bundle.
  const ortWasm = await import('onnxruntime-web/wasm');
  const ort = await import('onnxruntime-web');
  ortWasm.env.wasm.numThreads = 1;
  ort.env.wasm.numThreads = 1;
  const onnx = await fetchBytes('ranking.onnx');
  const itemIndex = new Map(manifest.vocabularies['item:id'].map((id, i) => [id, i]));
  const n = candidateIds.length;
  const itemsFile = readSafetensors(await fetchBytes('items.safetensors')).tensors;
  const category = itemsFile.get('features.item:category')?.data as Int32Array | undefined;
  const ortPeer = async (ep: 'wasm' | 'webgpu') => {
    const tc = now();
    const lib = ep === 'wasm' ? ortWasm : ort;
    const session = await lib.InferenceSession.create(onnx, { executionProviders: [ep] });
    try {
      const feeds: Record<string, InstanceType<typeof lib.Tensor>> = {};
      for (const input of session.inputNames) {
        const data = new BigInt64Array(n);
        for (let j = 0; j < n; j++) {
          const row = itemIndex.get(candidateIds[j]) ?? 0;
          data[j] = BigInt(
            input === onnxInputName('item:id')
              ? row + FIRST_INDEX
              : input === onnxInputName('item:category')
                ? category
                  ? category[row]
                  : FIRST_INDEX
                : FIRST_INDEX,
          );
        }
        feeds[input] = new lib.Tensor('int64', data, [n, 1]);
      }
      const first = await session.run(feeds);
      const createAndFirstRunMs = now() - tc;
      const outputs = session.outputNames.map((name) => Float32Array.from(first[name].data as Float32Array));
      for (let i = 0; i < 3; i++) await session.run(feeds); // past wasm's tier-up and the EP's first-run work
      const times: number[] = [];
      for (let i = 0; i < cfg.ortRuns; i++) {
        const t = now();
        await session.run(feeds);
        times.push(now() - t);
      }
      return { ep, candidates: n, createAndFirstRunMs, outputs, ...stats(times) };
    } finally {
      await session.release();
    }
  };
  const wasm = await ortPeer('wasm');
  const { outputs: wasmOut, ...ortResult } = wasm;
  log(`N=${s.N}: onnxruntime-web wasm P50 ${ortResult.p50.toFixed(1)} ms`);
  let ortWebgpu: Record<string, unknown>;
  if (!(navigator as { gpu?: GPU }).gpu) ortWebgpu = { error: 'navigator.gpu is missing in this page' };
  else {
    try {
      const { outputs, ...r } = await ortPeer('webgpu');
      // Agreement with the wasm EP on every output (the same graph, the same candidates).
      let maxAbsDiffVsWasm = 0;
      outputs.forEach((o, i) =>
        o.forEach((v, j) => (maxAbsDiffVsWasm = Math.max(maxAbsDiffVsWasm, Math.abs(v - wasmOut[i][j])))),
      );
      ortWebgpu = { ...r, maxAbsDiffVsWasm };
      log(
        `N=${s.N}: onnxruntime-web webgpu P50 ` +
          `${r.p50.toFixed(1)} ms (max |Δ| vs wasm ${maxAbsDiffVsWasm.toExponential(1)})`,
      );
    } catch (err) {
      ortWebgpu = {
        error: String((err as Error)?.message ?? err)
          .split('\n')[0]
          .slice(0, 300),
      };
      log(`N=${s.N}: onnxruntime-web webgpu failed: ${ortWebgpu.error}`);
    }
  }

  // Peer 2: hnswlib-wasm over the same catalogue, recall@k against exact top-k (brute force here).
  let hnsw: Record<string, unknown> = {
    skipped:
      `over --hnsw-max (its single-threaded wasm build of ` +
      `${s.N.toLocaleString('en')} items would dominate the run)`,
  };
  if (s.hnsw) {
    const emb = itemsFile.get('embeddings')!;
    const items = emb.data as Float32Array;
    const D = emb.shape[1];
    (globalThis as { importScripts?: unknown }).importScripts ??= () => {};
    const { loadHnswlib } = (await import('hnswlib-wasm/dist/hnswlib.js')) as unknown as {
      loadHnswlib: () => Promise<any>;
    };
    const lib = await loadHnswlib();
    const index = new lib.HierarchicalNSW('ip', D, '');
    const tb = now();
    index.initIndex(s.N, cfg.hnswM, cfg.hnswEfConstruction, 100);
    for (let i = 0; i < s.N; i++) index.addPoint(items.subarray(i * D, (i + 1) * D), i, false);
    const buildMs = now() - tb;
    // Exact top-k of each query by brute force, then the searches at each efSearch.
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    const scores = new Float32Array(s.N);
    const order = new Uint32Array(s.N);
    const exactTimes: number[] = [];
    const queries = Array.from({ length: cfg.hnswQueries }, () => {
      const u = new Float32Array(D).map(rand);
      const norm = Math.hypot(...u);
      for (let d = 0; d < D; d++) u[d] /= norm;
      const te = now();
      for (let i = 0; i < s.N; i++) {
        let acc = 0;
        for (let d = 0; d < D; d++) acc += items[i * D + d] * u[d];
        scores[i] = acc;
        order[i] = i;
      }
      const exact = new Set(order.sort((a, b) => scores[b] - scores[a] || a - b).subarray(0, cfg.hnswK));
      exactTimes.push(now() - te);
      return { u, exact };
    });
    const sweep = cfg.hnswEfSearch.map((efSearch) => {
      index.setEfSearch(Math.max(cfg.hnswK, efSearch));
      const times: number[] = [];
      let hit = 0;
      for (const { u, exact } of queries) {
        const ts = now();
        const r = index.searchKnn(u, cfg.hnswK, undefined) as { neighbors: number[] };
        times.push(now() - ts);
        hit += r.neighbors.filter((id) => exact.has(id)).length;
      }
      return { efSearch: Math.max(cfg.hnswK, efSearch), recall: hit / (queries.length * cfg.hnswK), ...stats(times) };
    });
    index.delete?.();
    const head = sweep.find((x) => x.efSearch >= 256) ?? sweep.at(-1)!;
    hnsw = {
      k: cfg.hnswK,
      M: cfg.hnswM,
      efConstruction: cfg.hnswEfConstruction,
      queries: cfg.hnswQueries,
      buildMs,
      exactJsP50: q(exactTimes, 0.5),
      ...head,
      sweep,
    };
    log(
      `N=${s.N}: hnswlib-wasm build ${buildMs.toFixed(0)} ms, search P50 ${head.p50.toFixed(2)} ms at efSearch ` +
        `${head.efSearch}, recall@${cfg.hnswK} ${head.recall.toFixed(3)} ` +
        `(${sweep.map((x) => `ef ${x.efSearch}: ${x.recall.toFixed(3)}`).join(', ')})`,
    );
  }
  return {
    N: s.N,
    runs: s.runs,
    backend: all.backend,
    cpuPath,
    cold,
    firstRecommendMs: firstMs,
    warm,
    onnxruntimeWasm: ortResult,
    onnxruntimeWebgpu: ortWebgpu,
    hnswlibWasm: hnsw,
  };
}

function deleteDb(name: string): Promise<void> {
  return new Promise<void>((ok) => {
    const r = indexedDB.deleteDatabase(name);
    r.onsuccess = r.onerror = r.onblocked = () => ok();
  });
}

/**
 * The CPU path on the same catalogue and requests: what `auto` picks here (and why), cold start,
 * warm recommend() P50/P99 with stages, and recall@k of its top items against `reference` (the
 * WebGPU path's answers to the same requests: an exact search, then the same ranker).
 */
async function benchCpuPath(
  cfg: BenchConfig,
  s: SizeConfig,
  req: (i: number) => { userId: string; context: Record<string, unknown>; k: number },
  reference: RecommendResult[],
  log: (m: string) => void,
  prepare: (engine: Engine) => Promise<void>,
) {
  const cpu = { hnswThreshold: cfg.cpuHnswThreshold ?? Number.POSITIVE_INFINITY };
  const open = (backend: 'auto' | 'cpu', dbName: string) =>
    createEngine({ model: s.base, dbName, backend, candidates: cfg.candidates, cpu });
  let dbName = `vireo-bench-auto-${s.N}-${Date.now()}`;
  const t0 = now();
  let engine = await open('auto', dbName);
  let coldMs = now() - t0;
  const auto = { backend: engine.backend, reason: engine.adapter.reason ?? null };
  log(`N=${s.N}: auto picks ${auto.backend}${auto.reason ? ` (${auto.reason})` : ''}`);
  if (engine.backend !== 'cpu') {
    engine.dispose();
    await deleteDb(dbName);
    dbName = `vireo-bench-cpu-${s.N}-${Date.now()}`;
    const t1 = now();
    engine = await open('cpu', dbName);
    coldMs = now() - t1;
  }
  try {
    await prepare(engine);
    const first = now();
    await engine.recommend(req(0));
    const firstMs = now() - first;
    for (let i = 1; i < 10; i++) await engine.recommend(req(i)); // every user once: past wasm tier-up
    const runs: RecommendResult[] = [];
    for (let i = 0; i < cfg.cpuRuns; i++) runs.push(await engine.recommend(req(i + 2)));
    const stage = (f: (r: RecommendResult) => number, p = 0.5) => q(runs.map(f), p);
    // recall@k: the same request (same index) answered on the WebGPU path.
    let hit = 0;
    let compared = 0;
    for (let i = 0; i < Math.min(runs.length, reference.length); i++) {
      const want = new Set(reference[i].items.map((x) => x.itemId));
      hit += runs[i].items.filter((x) => want.has(x.itemId)).length;
      compared += want.size;
    }
    const result = {
      auto,
      backend: engine.backend,
      search: runs.at(-1)?.search ?? null,
      coldMs,
      firstRecommendMs: firstMs,
      // min and P10 beside P50: on a shared machine the spread is other processes' time slices, which
      // land in whichever stage is running (the stages add up to the total in every request).
      total: {
        ...stats(runs.map((r) => r.timings.total)),
        p10: stage((r) => r.timings.total, 0.1),
        min: stage((r) => r.timings.total, 0),
      },
      stagesP50: {
        features: stage((r) => r.timings.features),
        userTower: stage((r) => r.timings.userTower),
        retrieval: stage((r) => r.timings.retrieval),
        ranking: stage((r) => r.timings.ranking),
        blend: stage((r) => r.timings.blend),
      },
      recallVsWebgpu: compared > 0 ? hit / compared : null,
      recallRequests: Math.min(runs.length, reference.length),
      k: cfg.k,
    };
    log(
      `N=${s.N}: CPU path P50 ${result.total.p50.toFixed(2)} ms, P99 ${result.total.p99.toFixed(2)} ms ` +
        `(P10 ${result.total.p10.toFixed(2)}, min ${result.total.min.toFixed(2)}), ` +
        `recall@${cfg.k} vs WebGPU ${result.recallVsWebgpu?.toFixed(3) ?? '—'}`,
    );
    return result;
  } finally {
    engine.dispose();
    await deleteDb(dbName);
  }
}

/**
 * The user tower alone at the trainer's default shape (L = 20, field dim 16, heads 2, hidden 64;
 * the bundle's fields, items and D; random weights; a full history): the CPU path's reference and
 * WebGPU's UserTower (set, one submit, readback of u), medians and P99 after warm-up, and how far
 * the two vectors differ.
 */
async function benchUserTower(cfg: BenchConfig, s: SizeConfig, log: (m: string) => void) {
  const manifest = (await (await fetch(s.base + 'manifest.json')).json()) as BundleManifest;
  const files = new Map<string, Uint8Array>();
  for (const f of manifest.files) files.set(f.name, new Uint8Array(await (await fetch(s.base + f.name)).arrayBuffer()));
  const m = parseModel({ manifest, files });
  const base = m.retrieval.config;
  const L = 20;
  const W = 16;
  const position = { ...base.position, rows: L };
  const label = { ...base.label, offset: position.offset + L };
  const c: RetrievalConfig = {
    ...base,
    fieldDim: W,
    userHidden: 64,
    itemHidden: 64,
    historyLength: L,
    lastItem: false, // the trainer's default (--last-item is opt-in)
    position,
    label,
    tableRows: label.offset + label.rows,
  };
  let seed = 11;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 0.8 - 0.4;
  const params = new Float32Array(retrievalParamLayout(c).length).map(rand);
  const table = new Float32Array(c.tableRows * W).map(rand);
  const entries = historyItemEntries({ ...m, retrieval: { ...m.retrieval, config: c, params, table } });
  const N = m.itemIds.length;
  const history = Uint32Array.from({ length: L }, (_, j) => FIRST_INDEX + ((j * 104_729) % N));
  const fields = c.userFields.map((f) => (f.kind === 'numeric' ? (f.features ?? []).map(() => 0.5) : FIRST_INDEX + 1));
  const time = async (f: () => unknown) => {
    for (let i = 0; i < 10; i++) await f();
    const times: number[] = [];
    for (let i = 0; i < cfg.towerRuns; i++) {
      const t = now();
      await f();
      times.push(now() - t);
    }
    return stats(times);
  };
  let cpuU: Float32Array = new Float32Array(0);
  const tower = new CpuUserTower(c, params, table, entries?.append);
  const cpu = await time(() => {
    cpuU = tower.forward(fields, history);
  });
  let webgpu: Record<string, unknown>;
  let maxAbsDiff: number | null = null;
  try {
    const gpu = await Gpu.create();
    try {
      const weights = RetrievalWeights.create(gpu, c);
      gpu.write(weights.params, params);
      gpu.write(weights.table, table);
      const user = await UserTower.create(gpu, weights, { maxBatch: 1, itemFeatures: entries?.value });
      const readU = gpu.readback('bench:user_tower', m.D * 4); // made once, as the engine's readbacks
      let gpuU: Float32Array = new Float32Array(0);
      const r = await time(async () => {
        user.set(1, () => ({ fields, history }));
        gpu.run((pass) => user.encode(pass));
        gpuU = new Float32Array(await readU.read(user.act.out.buffer, m.D * 4, user.act.out.offset));
      });
      readU.destroy();
      maxAbsDiff = cpuU.reduce((mx, v, d) => Math.max(mx, Math.abs(v - gpuU[d])), 0);
      webgpu = { ...r, adapter: gpu.info.description || gpu.info.architecture };
      user.destroy();
      weights.destroy();
    } finally {
      gpu.destroy();
    }
  } catch (err) {
    webgpu = {
      error: String((err as Error)?.message ?? err)
        .split('\n')[0]
        .slice(0, 300),
    };
  }
  const shape = { L, fieldDim: W, heads: c.heads, userHidden: c.userHidden, D: m.D, lastItem: false };
  log(
    `user tower alone (L ${L}, W ${W}, hidden 64, D ${m.D}): CPU path P50 ${cpu.p50.toFixed(3)} ms, ` +
      `WebGPU P50 ${typeof webgpu.p50 === 'number' ? webgpu.p50.toFixed(3) : webgpu.error} ms` +
      (maxAbsDiff === null ? '' : ` (max |Δu| ${maxAbsDiff.toExponential(1)})`),
  );
  return { N: s.N, shape, cpu, cpuTower: 'CpuUserTower', webgpu, maxAbsDiff };
}

async function adapterInfo() {
  const gpu = (navigator as { gpu?: GPU }).gpu;
  const adapter = await gpu?.requestAdapter();
  if (!adapter) return null;
  const i = adapter.info;
  return {
    vendor: i.vendor,
    architecture: i.architecture,
    device: i.device,
    description: i.description,
    timestampQuery: adapter.features.has('timestamp-query'),
  };
}

(window as unknown as { vireoBench: unknown }).vireoBench = async (cfg: BenchConfig) => {
  const results = [];
  const log = (m: string) => console.log(`[bench] ${m}`);
  for (const s of cfg.sizes) {
    try {
      results.push(await benchSize(cfg, s, log));
    } catch (err) {
      // One catalogue too large for this adapter (memory, binding limits) does not lose the others.
      const error = String((err as Error)?.message ?? err)
        .split('\n')[0]
        .slice(0, 300);
      log(`N=${s.N}: failed: ${error}`);
      results.push({ N: s.N, error });
    }
  }
  let userTower: unknown = null;
  try {
    userTower = await benchUserTower(cfg, cfg.sizes[0], log);
  } catch (err) {
    userTower = { error: String((err as Error)?.message ?? err).split('\n')[0] };
    log(`user tower alone: failed: ${(userTower as { error: string }).error}`);
  }
  return { adapter: await adapterInfo(), userAgent: navigator.userAgent, config: cfg, results, userTower };
};
(window as unknown as { vireoBenchReady: boolean }).vireoBenchReady = true;
