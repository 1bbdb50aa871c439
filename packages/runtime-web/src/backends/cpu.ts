// The CPU backend, for pages without WebGPU, adapters that are a CPU themselves (SwiftShader,
// llvmpipe: the engine picks it there, docs/ARCHITECTURE.md "Backends") and after a device loss:
// the user tower on the TypeScript reference (userTowerReference of @vireo/models), the
// catalogue searched exactly (ExactScan: wasm SIMD dot products and a bounded heap) or, past
// `hnswThreshold` items, with hnswlib-wasm once its index, built in a Web Worker, is ready; the
// ranker run by onnxruntime-web (wasm) on the bundle's ranking.onnx.
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
import { buildHnsw, type AnnIndex } from './hnsw.ts';
import { ExactScan } from './scan.ts';

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

/** Default `hnswThreshold`: the exact scan answers 100k items in a few ms, so only larger catalogues need a graph. */
export const HNSW_THRESHOLD = 200_000;

export interface CpuBackendOptions {
  /** Catalogues with more items than this are searched with hnswlib-wasm (approximate). Default 200,000. */
  hnswThreshold?: number;
  /**
   * Wait for the hnswlib index before the model serves (default false: it builds in a worker,
   * ~1 min per 100k items, and the exact search answers until it is ready).
   */
  waitForIndex?: boolean;
}

export class CpuBackend implements Backend {
  readonly kind = 'cpu' as const;
  readonly lost = false;
  readonly adapter: AdapterSummary;
  /**
   * @param reason why the engine runs on the CPU (shown in `adapter.reason`), e.g. the software
   *   adapter it declined
   */
  constructor(
    private readonly options: CpuBackendOptions = {},
    reason?: string,
  ) {
    this.adapter = {
      backend: 'cpu',
      vendor: 'cpu',
      architecture: 'wasm+js',
      device: 'reference kernels',
      description: 'TypeScript reference user tower, wasm SIMD exact scan, hnswlib-wasm, onnxruntime-web (wasm)',
      timestampQuery: false,
      ...(reason ? { reason } : {}),
    };
  }

  async load(m: ModelData, options: LoadOptions): Promise<LoadedModel> {
    const { config, params, table } = m.retrieval;
    const N = m.itemIds.length;
    const D = m.D;
    const disposed = new AbortController();
    let ann: AnnIndex | null = null;
    const scan = new ExactScan(m.items, N, D, Math.min(N, options.candidates));
    if (N > (this.options.hnswThreshold ?? HNSW_THRESHOLD)) {
      const building = buildHnsw(m.items, N, D, disposed.signal).then(
        (index) => {
          if (disposed.signal.aborted) index?.dispose();
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
        const index = ann as AnnIndex | null;
        const r = index ? await index.search(u, k, exclude) : scan.search(u, k, exclude);
        return { ...r, search: index ? 'hnsw' : 'exact', ms: { userTower: t1 - t0, retrieval: now() - t1 } };
      },
      rank: (dense, sparse, n) =>
        serial.run(async () => {
          if (!session || !ort || !rc) return null;
          const feeds: Record<string, import('onnxruntime-web').Tensor> = {};
          const Nd = rc.denseFeatures.length;
          // No copy when the engine made `dense` for exactly these n rows (it does).
          const denseRows = dense.length === n * Nd ? dense : dense.slice(0, n * Nd);
          if (Nd > 0) feeds.dense = new ort.Tensor('float32', denseRows, [n, Nd]);
          const S = sparseWidth(rc);
          let slot = 0;
          for (const f of rc.sparseFeatures) {
            // int64 ids as pairs of int32 words (low, sign): no BigInt per value (wasm and every
            // browser are little-endian).
            const data = new BigInt64Array(n * f.width);
            const words = new Int32Array(data.buffer);
            for (let b = 0; b < n; b++)
              for (let l = 0; l < f.width; l++) {
                const v = sparse[b * S + slot + l];
                words[2 * (b * f.width + l)] = v;
                words[2 * (b * f.width + l) + 1] = v < 0 ? -1 : 0;
              }
            feeds[onnxInputName(f.name)] = new ort.Tensor('int64', data, [n, f.width]);
            slot += f.width;
          }
          const out = await session.run(feeds);
          return { heads: Float32Array.from(out.scores.data as Float32Array) };
        }),
      dispose: () => {
        disposed.abort();
        (ann as AnnIndex | null)?.dispose();
        ann = null;
        void session?.release();
      },
    };
  }

  dispose(): void {}
}
