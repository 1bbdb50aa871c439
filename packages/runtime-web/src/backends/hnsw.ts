// The CPU backend's approximate catalogue search for large catalogues (docs/ARCHITECTURE.md, "A
// request", step 3 on the CPU): an hnswlib-wasm graph by inner product (M 16, efConstruction 100,
// efSearch 200), built off the request path while the exact scan answers. Where the page has
// Web Workers the graph is built and searched in one (hnsw.worker.ts, through comlink: a search
// is one message), so a build of minutes never blocks an answer; elsewhere (Node, tests) it is
// built here in slices of a few milliseconds between which the event loop runs.
import * as Comlink from 'comlink';

/** A nearest-neighbour index over the catalogue by inner product. */
export interface AnnIndex {
  /** The k best rows for `u`, best first (ties: lower row), leaving out `exclude` (rows). */
  search(u: Float32Array, k: number, exclude: Uint32Array): Promise<{ ids: Uint32Array; scores: Float32Array }>;
  dispose(): void;
}

export const HNSW_PARAMS = { M: 16, efConstruction: 100, efSearch: 200 } as const;

/** Milliseconds of building between two yields to the event loop, when built on this thread. */
const SLICE_MS = 4;

/** Lets queued tasks run: setImmediate where it exists (Node), else a message (no 4 ms timer clamp). */
function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate;
  if (immediate) return new Promise((ok) => immediate(ok));
  return new Promise((ok) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      ok();
    };
    channel.port2.postMessage(0);
  });
}

interface HnswLib {
  HierarchicalNSW: new (
    space: 'ip',
    D: number,
    path: string,
  ) => {
    initIndex(N: number, M: number, efConstruction: number, seed: number): void;
    setEfSearch(ef: number): void;
    addPoint(v: Float32Array, label: number, replace: boolean): void;
    searchKnn(
      v: Float32Array,
      k: number,
      filter: ((label: number) => boolean) | undefined,
    ): { neighbors: number[]; distances: number[] };
    delete?: () => void;
  };
}

async function loadLib(): Promise<HnswLib> {
  // hnswlib-wasm's emscripten loader looks for importScripts; a page has none.
  (globalThis as { importScripts?: unknown }).importScripts ??= () => {};
  const { loadHnswlib } = (await import('hnswlib-wasm/dist/hnswlib.js')) as unknown as {
    loadHnswlib: () => Promise<HnswLib>;
  };
  return loadHnswlib();
}

/**
 * Builds the graph over (N, D) float32 rows on this thread, yielding to the event loop every
 * `sliceMs` (default 4 ms; Infinity in a worker); resolves null when `cancelled()` turns true first.
 */
export async function buildHnswHere(
  items: Float32Array,
  N: number,
  D: number,
  cancelled: () => boolean = () => false,
  sliceMs = SLICE_MS,
): Promise<AnnIndex | null> {
  const lib = await loadLib();
  const index = new lib.HierarchicalNSW('ip', D, '');
  index.initIndex(N, HNSW_PARAMS.M, HNSW_PARAMS.efConstruction, 100);
  index.setEfSearch(HNSW_PARAMS.efSearch);
  for (let i = 0; i < N; ) {
    if (cancelled()) {
      index.delete?.();
      return null;
    }
    const until = performance.now() + sliceMs;
    do index.addPoint(items.subarray(i * D, (i + 1) * D), i, false);
    while (++i < N && performance.now() < until);
    if (i < N) await yieldToEventLoop();
  }
  return {
    search: async (u, k, exclude) => {
      const skip = exclude.length > 0 ? new Set(exclude) : null;
      const want = Math.min(N, k + (skip?.size ?? 0));
      const r = index.searchKnn(u, want, skip ? (label) => !skip.has(label) : undefined);
      const order = r.neighbors
        .map((id, j) => [id, 1 - r.distances[j]] as const) // hnswlib's 'ip' distance is 1 - u·v
        .sort((a, b) => b[1] - a[1] || a[0] - b[0])
        .slice(0, k);
      return { ids: Uint32Array.from(order, (p) => p[0]), scores: Float32Array.from(order, (p) => p[1]) };
    },
    dispose: () => index.delete?.(),
  };
}

/** What hnsw.worker.ts exposes. */
export interface HnswWorkerApi {
  build(items: Float32Array, N: number, D: number): Promise<void>;
  search(u: Float32Array, k: number, exclude: Uint32Array): Promise<{ ids: Uint32Array; scores: Float32Array }>;
}

/** A page or a worker, where `Worker` is the web's (Node's emscripten shims put worker_threads' there). */
function hasWebWorkers(): boolean {
  const g = globalThis as { Worker?: unknown; document?: unknown; WorkerGlobalScope?: unknown };
  return typeof g.Worker === 'function' && (g.document !== undefined || g.WorkerGlobalScope !== undefined);
}

/**
 * Builds the graph in a Web Worker (a copy of the rows moves there) and searches it there; on
 * this thread, in slices, where there are no Web Workers or the worker fails to start (a bundler
 * that left it out, a content security policy). Resolves null once `signal` aborts (the worker is
 * stopped at once).
 */
export async function buildHnsw(
  items: Float32Array,
  N: number,
  D: number,
  signal: AbortSignal,
): Promise<AnnIndex | null> {
  if (!hasWebWorkers()) return buildHnswHere(items, N, D, () => signal.aborted);
  const worker = new Worker(new URL('./hnsw.worker.ts', import.meta.url), { type: 'module', name: 'vireo-hnsw' });
  const remote = Comlink.wrap<HnswWorkerApi>(worker);
  const rows = items.slice(0, N * D);
  const aborted = new Promise<'aborted'>((ok) => signal.addEventListener('abort', () => ok('aborted'), { once: true }));
  const failed = new Promise<'failed'>((ok) => worker.addEventListener('error', () => ok('failed'), { once: true }));
  const built = remote.build(Comlink.transfer(rows, [rows.buffer]), N, D).then(() => 'built' as const);
  let done: 'built' | 'aborted' | 'failed';
  try {
    done = await Promise.race([built, aborted, failed]);
  } catch (err) {
    worker.terminate();
    throw err;
  }
  if (done === 'failed') {
    worker.terminate();
    return buildHnswHere(items, N, D, () => signal.aborted);
  }
  if (done === 'aborted' || signal.aborted) {
    worker.terminate();
    return null;
  }
  return {
    search: (u, k, exclude) => remote.search(u, k, exclude),
    dispose: () => worker.terminate(),
  };
}
