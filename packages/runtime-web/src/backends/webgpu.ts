// The WebGPU backend: the user tower, the catalogue search (TopkOp, seen items excluded on
// the GPU) and the DLRM ranker, each bound once per bundle version; per request only their
// inputs are written, and results come back through staging buffers made at load. The tower
// and the search are one submit. GPU timestamps per stage where the adapter has `timestamp-query`.
import { Gpu, GpuTimer, type GpuOptions, TopkOp } from '@vireo/kernels';
import { RankingModel, sparseWidth, RetrievalWeights, UserTower, historyItemEntries } from '@vireo/models';
import type { FieldValue, ModelData } from '@vireo/models';
import {
  now,
  Serial,
  type AdapterSummary,
  type Backend,
  type LoadOptions,
  type LoadedModel,
} from '../engine/backend.ts';

export class WebGpuBackend implements Backend {
  readonly kind = 'webgpu' as const;
  readonly adapter: AdapterSummary;
  private constructor(readonly gpu: Gpu) {
    this.adapter = { backend: 'webgpu', ...gpu.info, timestampQuery: gpu.features.timestampQuery };
  }

  /** Opens the device; throws GpuUnavailableError when there is no WebGPU. */
  static async create(options: GpuOptions = {}): Promise<WebGpuBackend> {
    return new WebGpuBackend(await Gpu.create(options));
  }

  get lost(): boolean {
    return this.gpu.lost !== null;
  }

  async load(m: ModelData, options: LoadOptions): Promise<LoadedModel> {
    const gpu = this.gpu;
    const { config, params, table } = m.retrieval;
    const N = m.itemIds.length;
    const weights = RetrievalWeights.create(gpu, config);
    gpu.write(weights.params, params);
    gpu.write(weights.table, table);
    const user = await UserTower.create(gpu, weights, { maxBatch: 1, itemFeatures: historyItemEntries(m)?.value });
    const maxK = Math.min(N, options.candidates);
    const catalogue = options.catalogue === 'int8' && m.itemsInt8 ? m.itemsInt8 : m.items;
    const topk = await TopkOp.create(gpu, catalogue, { N, D: m.D, maxK, maxExclusions: options.maxExclusions });
    let ranker: RankingModel | null = null;
    if (m.ranking) {
      ranker = await RankingModel.create(gpu, m.ranking.config, { maxBatch: maxK });
      ranker.writeWeights(m.ranking.params, m.ranking.tables);
    }
    const Nd = m.ranking?.config.denseFeatures.length ?? 0;
    const S = m.ranking ? sparseWidth(m.ranking.config) : 0;
    const readRanks = ranker ? gpu.readback('vireo:ranking', maxK * 3 * 4) : null;
    await gpu.idle();
    const timer = new GpuTimer(gpu, 4);
    const serial = new Serial();
    const D = m.D;
    const offsets = new Uint32Array(2);
    const out = user.act.out;
    return {
      // The tower writes its unit vector into the search's query row on the device (one
      // submit, no round trip through the CPU): tower pass, copy, search pass.
      retrieve: (fields: readonly FieldValue[], history: Uint32Array, k: number, exclude: Uint32Array) =>
        serial.run(async () => {
          const t0 = now();
          user.set(1, () => ({ fields, history }));
          offsets[1] = exclude.length;
          topk.setExclusions(1, exclude.length > 0 ? { ids: exclude, offsets } : null);
          timer.reset();
          const encoder = gpu.device.createCommandEncoder();
          const tower = encoder.beginComputePass(passOf(timer.passTimestamps('userTower')));
          user.encode(tower);
          tower.end();
          encoder.copyBufferToBuffer(out.buffer, out.offset, topk.queries, 0, D * 4);
          const search = encoder.beginComputePass(passOf(timer.passTimestamps('retrieval')));
          topk.encode(search, 1, k);
          search.end();
          gpu.device.queue.submit([encoder.finish()]);
          const t1 = now();
          const r = await topk.readResults(1, k);
          gpu.throwUncaptured();
          const t2 = now();
          const ms = timer.enabled ? await timer.read() : null;
          return {
            ids: r.ids,
            scores: r.scores as Float32Array,
            search: 'exact',
            ms: { userTower: t1 - t0, retrieval: t2 - t1 },
            ...(ms ? { gpu: { userTower: ms.userTower ?? 0, retrieval: ms.retrieval ?? 0 } } : {}),
          };
        }),
      rank: (dense, sparse, n) =>
        serial.run(async () => {
          if (!ranker || !readRanks) return null;
          ranker.setInputs(Nd > 0 ? dense.subarray(0, n * Nd) : null, sparse.subarray(0, n * S), n);
          timer.reset();
          gpu.run((pass) => ranker.encode(pass), timer.passTimestamps('ranking'));
          const heads = new Float32Array(await readRanks.read(ranker.acts.out, n * 3 * 4));
          const ms = timer.enabled ? (await timer.read()).ranking : undefined;
          return ms === undefined ? { heads } : { heads, gpu: ms };
        }),
      dispose: () => {
        void serial.run(async () => {
          user.destroy();
          topk.destroy();
          ranker?.destroy();
          readRanks?.destroy();
          weights.destroy();
          timer.destroy();
        });
      },
    };
  }

  dispose(): void {
    this.gpu.destroy();
  }
}

function passOf(timestampWrites: GPUComputePassTimestampWrites | undefined): GPUComputePassDescriptor | undefined {
  return timestampWrites ? { timestampWrites } : undefined;
}
