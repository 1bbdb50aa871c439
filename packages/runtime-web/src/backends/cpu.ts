// The CPU backend, for pages without WebGPU or after a device loss: the same request path on the
// TypeScript reference kernels of @vireo/kernels (the definition of every op), the catalogue
// searched exactly (or, past `hnswThreshold` items, with hnswlib-wasm once its index, built in
// the background, is ready), and the ranker run by
// onnxruntime-web (wasm) on the bundle's ranking.onnx.
import { topkReference } from '@vireo/kernels';
import { historyItemEntries, sparseWidth, userTowerReference, type RankingConfig } from '@vireo/models';
import {
  now,
  Serial,
  type AdapterSummary,
  type Backend,
  type LoadOptions,
  type LoadedModel,
} from '../engine/backend.ts';
import type { ModelData } from '@vireo/models';

/** The ONNX input name of a sparse feature (`context:c1` → `context_c1`), as the exporter names it. */
export function onnxInputName(feature: string): string {
  return feature.replace(/[^A-Za-z0-9_]/g, '_');
}

type Ort = typeof import('onnxruntime-web');
let ortModule: Promise<Ort> | null = null;
function loadOrt(): Promise<Ort> {
  ortModule ??= import('onnxruntime-web').then((ort) => {
    ort.env.wasm.numThreads = 1; // no cross-origin isolation needed
    return ort;
  });
  return ortModule;
}

/** A nearest-neighbour index over the catalogue by inner product (hnswlib-wasm). */
interface AnnIndex {
  search(u: Float32Array, k: number, exclude: Set<number>): { ids: Uint32Array; scores: Float32Array };
  dispose(): void;
}

/** Points added between two yields to the event loop while the index builds. */
const HNSW_SLICE = 2_000;

/**
 * Builds the index (M 16, efConstruction 100, efSearch 200) a slice of points at a time, yielding
 * between slices so the page or worker keeps answering (from the exact search) meanwhile. Rows
 * go in as Float32Array views (no copy into a JS array). Stops early when `cancelled()` says so.
 */
async function buildHnsw(
  items: Float32Array,
  N: number,
  D: number,
  cancelled: () => boolean,
): Promise<AnnIndex | null> {
  (globalThis as { importScripts?: unknown }).importScripts ??= () => {};
  const { loadHnswlib } = (await import('hnswlib-wasm/dist/hnswlib.js')) as unknown as {
    loadHnswlib: () => Promise<any>;
  };
  const lib = await loadHnswlib();
  const index = new lib.HierarchicalNSW('ip', D, '');
  index.initIndex(N, 16, 100, 100);
  index.setEfSearch(200);
  for (let start = 0; start < N; start += HNSW_SLICE) {
    if (cancelled()) {
      index.delete?.();
      return null;
    }
    for (let i = start; i < Math.min(N, start + HNSW_SLICE); i++)
      index.addPoint(items.subarray(i * D, (i + 1) * D), i, false);
    await new Promise((ok) => setTimeout(ok, 0));
  }
  return {
    search(u, k, exclude) {
      const want = Math.min(N, k + exclude.size);
      const r = index.searchKnn(u, want, exclude.size > 0 ? (label: number) => !exclude.has(label) : undefined) as {
        neighbors: number[];
        distances: number[];
      };
      const pairs = r.neighbors
        .map((id, j) => [id, 1 - r.distances[j]] as const)
        .sort((a, b) => b[1] - a[1] || a[0] - b[0])
        .slice(0, k);
      return { ids: Uint32Array.from(pairs.map((p) => p[0])), scores: Float32Array.from(pairs.map((p) => p[1])) };
    },
    dispose: () => index.delete?.(),
  };
}

export interface CpuBackendOptions {
  /** Catalogues with more items than this are searched with hnswlib-wasm (approximate). Default 50,000. */
  hnswThreshold?: number;
  /**
   * Wait for the hnswlib index before the model serves (default false: it builds in the
   * background, ~1 min per 100k items, and the exact search answers until it is ready).
   */
  waitForIndex?: boolean;
}

export class CpuBackend implements Backend {
  readonly kind = 'cpu' as const;
  readonly lost = false;
  readonly adapter: AdapterSummary = {
    backend: 'cpu',
    vendor: 'cpu',
    architecture: 'wasm+js',
    device: 'reference kernels',
    description: 'TypeScript reference kernels, onnxruntime-web (wasm), hnswlib-wasm',
    timestampQuery: false,
  };
  constructor(private readonly options: CpuBackendOptions = {}) {}

  async load(m: ModelData, options: LoadOptions): Promise<LoadedModel> {
    const { config, params, table } = m.retrieval;
    const N = m.itemIds.length;
    const D = m.D;
    let disposed = false;
    let ann: AnnIndex | null = null;
    if (N > (this.options.hnswThreshold ?? 50_000)) {
      const building = buildHnsw(m.items, N, D, () => disposed).then(
        (index) => {
          if (disposed) index?.dispose();
          else ann = index;
        },
        (err) =>
          console.warn(
            `vireo: the hnswlib-wasm index could not be built ` +
              `(${err instanceof Error ? err.message : err}); the exact search keeps serving.`,
          ),
      );
      if (this.options.waitForIndex) await building;
    }
    let session: import('onnxruntime-web').InferenceSession | null = null;
    let ort: Ort | null = null;
    const rc: RankingConfig | null = m.ranking?.config ?? null;
    if (m.ranking?.onnx) {
      ort = await loadOrt();
      session = await ort.InferenceSession.create(m.ranking.onnx, { executionProviders: ['wasm'] });
    }
    const serial = new Serial();
    const itemEntries = historyItemEntries(m)?.append;
    return {
      retrieve: async (fields, history, k, exclude) => {
        const t0 = now();
        const u = userTowerReference(config, params, table, fields, history, itemEntries);
        const t1 = now();
        let r: { ids: Uint32Array; scores: Float32Array };
        const index = ann as AnnIndex | null;
        if (index) r = index.search(u, k, new Set(exclude));
        else {
          const ids = Uint32Array.from(exclude);
          const found = topkReference(
            u,
            m.items,
            1,
            N,
            D,
            k,
            ids.length > 0 ? { ids, offsets: Uint32Array.of(0, ids.length) } : null,
          );
          r = { ids: found.ids, scores: Float32Array.from(found.scores) };
        }
        return { ...r, search: index ? 'hnsw' : 'exact', ms: { userTower: t1 - t0, retrieval: now() - t1 } };
      },
      rank: (dense, sparse, n) =>
        serial.run(async () => {
          if (!session || !ort || !rc) return null;
          const feeds: Record<string, import('onnxruntime-web').Tensor> = {};
          const Nd = rc.denseFeatures.length;
          if (Nd > 0) feeds.dense = new ort.Tensor('float32', dense.slice(0, n * Nd), [n, Nd]);
          const S = sparseWidth(rc);
          let slot = 0;
          for (const f of rc.sparseFeatures) {
            const data = new BigInt64Array(n * f.width);
            for (let b = 0; b < n; b++)
              for (let l = 0; l < f.width; l++) data[b * f.width + l] = BigInt(sparse[b * S + slot + l]);
            feeds[onnxInputName(f.name)] = new ort.Tensor('int64', data, [n, f.width]);
            slot += f.width;
          }
          const out = await session.run(feeds);
          return { heads: Float32Array.from(out.scores.data as Float32Array) };
        }),
      dispose: () => {
        disposed = true;
        (ann as AnnIndex | null)?.dispose();
        ann = null;
        void session?.release();
      },
    };
  }

  dispose(): void {}
}
