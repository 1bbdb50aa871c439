// The WebGPU backend: the user tower, the catalogue search (BoundTopk, seen items excluded on
// the GPU) and the DLRM ranker, each bound once per bundle version; per request only their
// inputs are written. GPU timestamps per stage where the adapter has `timestamp-query`.
import { exclusionsFromLists } from '@vireo/shaders';
import { Gpu, GpuTimer, type GpuOptions } from '../gpu/index.ts';
import { RankingModel } from '../model/ranking.ts';
import type { FieldValue } from '../model/retrieval.ts';
import { RetrievalWeights, UserTower } from '../model/retrieval-towers.ts';
import { BoundTopk } from '../ops/topk.ts';
import { Serial, type AdapterSummary, type Backend, type LoadOptions, type LoadedModel } from '../engine/backend.ts';
import type { ModelData } from '../engine/model.ts';

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
    const user = await UserTower.create(gpu, weights, { maxBatch: 1 });
    const maxK = Math.min(N, options.candidates);
    const catalogue = options.catalogue === 'int8' && m.itemsInt8 ? m.itemsInt8 : m.items;
    const topk = await BoundTopk.create(gpu, catalogue, { N, D: m.D, maxK, maxExclusions: options.maxExclusions });
    let ranker: RankingModel | null = null;
    if (m.ranking) {
      ranker = await RankingModel.create(gpu, m.ranking.config, { maxBatch: maxK });
      ranker.writeWeights(m.ranking.params, m.ranking.tables);
    }
    await gpu.idle();
    const timer = new GpuTimer(gpu, 4);
    const serial = new Serial();
    const D = m.D;
    const Nd = m.ranking?.config.denseFeatures.length ?? 0;
    return {
      userVector: (fields: readonly FieldValue[], history: Uint32Array) =>
        serial.run(async () => {
          user.set(1, () => ({ fields, history }));
          timer.reset();
          gpu.run((pass) => user.encode(pass), timer.passTimestamps('userTower'));
          const u = await gpu.readF32(user.act.out.buffer, D, user.act.out.offset);
          const ms = timer.enabled ? (await timer.read()).userTower : undefined;
          return { u, ms };
        }),
      retrieve: (u, k, exclude) =>
        serial.run(async () => {
          timer.reset();
          const r = await topk.search(u, k, exclude.length > 0 ? exclusionsFromLists([exclude]) : null, timer.passTimestamps('retrieval'));
          const ms = timer.enabled ? (await timer.read()).retrieval : undefined;
          return { ids: r.ids, scores: r.scores as Float32Array, ms };
        }),
      rank: (dense, sparse, n) => serial.run(async () => (ranker ? ranker.score(Nd > 0 ? dense : null, sparse, n) : null)),
      dispose: () => {
        void serial.run(async () => {
          user.destroy();
          topk.destroy();
          ranker?.destroy();
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
