// The CPU backend, for pages without WebGPU, adapters that are a CPU themselves (SwiftShader,
// llvmpipe: the engine picks it there, docs/ARCHITECTURE.md "Backends") and after a device loss:
// the user tower in TypeScript (CpuUserTower of @vireo/models: userTowerReference bound once per
// model, docs/ARCHITECTURE.md §3, "The CPU path"), the catalogue searched exactly (ExactScan: wasm
// SIMD dot products and a bounded heap) or, past `hnswThreshold` items, with hnswlib-wasm once its
// index, built in a Web Worker, is ready; the ranker run by onnxruntime-web (wasm) on the bundle's
// ranking.onnx.
import { CpuUserTower, historyItemEntries, sparseWidth, type RankingConfig } from '@vireo/models';
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

/**
 * Writes (n, width) int32 ids, read from columns [slot, slot + width) of the (n, S) `sparse` rows, into
 * `out` as int64 (ONNX's id type) without a BigInt per value: each id is a pair of int32 words (low,
 * sign) through an Int32Array view of `out`'s memory (wasm and every browser are little-endian).
 * @example packInt64(sparse, 3, 1, 1, 1000, ids) // column 1 of 1000 rows of 3 into ids (1000 int64)
 */
export function packInt64(
  sparse: Int32Array,
  S: number,
  slot: number,
  width: number,
  n: number,
  out: BigInt64Array,
): void {
  if (out.length < n * width) throw new Error(`packInt64: out holds ${out.length} values, ${n}·${width} needed.`);
  const words = new Int32Array(out.buffer, out.byteOffset, 2 * n * width);
  for (let b = 0, w = 0; b < n; b++) {
    const at = b * S + slot;
    for (let l = 0; l < width; l++, w += 2) {
      const v = sparse[at + l];
      words[w] = v;
      words[w + 1] = v >> 31; // the sign word: -1 for a negative id, else 0
    }
  }
}

// The wasm-only build (no WebGPU EP, no asyncify): a smaller .wasm and a synchronous run under the
// promise (docs/ARCHITECTURE.md, "The CPU path").
type Ort = typeof import('onnxruntime-web/wasm');
let ortModule: Promise<Ort> | null = null;
function loadOrt(): Promise<Ort> {
  ortModule ??= import('onnxruntime-web/wasm').then((ort) => {
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
      description: 'TypeScript user tower, wasm SIMD exact scan, hnswlib-wasm, onnxruntime-web (wasm)',
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
    let session: import('onnxruntime-web/wasm').InferenceSession | null = null;
    let ort: Ort | null = null;
    const rc: RankingConfig | null = m.ranking?.config ?? null;
    if (m.ranking?.onnx) {
      ort = await loadOrt();
      session = await ort.InferenceSession.create(m.ranking.onnx, { executionProviders: ['wasm'] });
    }
    const ranker = ort && rc ? new RankerInputs(ort, rc) : null;
    const serial = new Serial();
    const tower = new CpuUserTower(config, params, table, historyItemEntries(m)?.append);
    return {
      retrieve: async (fields, history, k, exclude) => {
        const t0 = now();
        const u = tower.forward(fields, history);
        const t1 = now();
        const index = ann as AnnIndex | null;
        const r = index ? await index.search(u, k, exclude) : scan.search(u, k, exclude);
        return { ...r, search: index ? 'hnsw' : 'exact', ms: { userTower: t1 - t0, retrieval: now() - t1 } };
      },
      rank: (dense, sparse, n) =>
        serial.run(async () => {
          if (!session || !rc || !ort) return null;
          const out = await session.run(ranker!.feeds(dense, sparse, n));
          // The output's data is a fresh array (copied out of the wasm heap): no copy here.
          return { heads: out.scores.data as Float32Array };
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

/**
 * The ONNX ranker's inputs, made once per model and refilled per request (inside the backend's
 * Serial, so one request at a time): the int64 id arrays for the largest batch seen, and the
 * tensors over them for the last batch size (a new size makes new tensors over the same memory).
 */
class RankerInputs {
  private capacity = 0;
  private ids: BigInt64Array[] = [];
  private batch = -1;
  private tensors: Record<string, import('onnxruntime-web/wasm').Tensor> = {};
  private readonly S: number;
  private readonly Nd: number;

  constructor(
    private readonly ort: Ort,
    private readonly rc: RankingConfig,
  ) {
    this.S = sparseWidth(rc);
    this.Nd = rc.denseFeatures.length;
  }

  /** The feeds for dense (n, Nd) and sparse (n, S) rows. */
  feeds(dense: Float32Array, sparse: Int32Array, n: number): Record<string, import('onnxruntime-web/wasm').Tensor> {
    const { ort, rc, S, Nd } = this;
    if (n > this.capacity) {
      this.capacity = n;
      this.ids = rc.sparseFeatures.map((f) => new BigInt64Array(n * f.width));
      this.batch = -1;
    }
    if (n !== this.batch) {
      this.batch = n;
      this.tensors = {};
      rc.sparseFeatures.forEach((f, i) => {
        this.tensors[onnxInputName(f.name)] = new ort.Tensor('int64', this.ids[i].subarray(0, n * f.width), [
          n,
          f.width,
        ]);
      });
    }
    // Dense rows are the engine's own array for this request: a tensor over them, no copy.
    if (Nd > 0) this.tensors.dense = new ort.Tensor('float32', dense.subarray(0, n * Nd), [n, Nd]);
    let slot = 0;
    rc.sparseFeatures.forEach((f, i) => {
      packInt64(sparse, S, slot, f.width, n, this.ids[i]);
      slot += f.width;
    });
    return this.tensors;
  }
}
