// One training step of the DLRM ranker on the GPU: the model's own forward (logits), the heads'
// losses, the backward walking the forward in reverse, then AdamW on the dense parameters and
// row-wise Adagrad on the embedding rows the batch touched. No autograd tape: every layer's
// backward is bound once to the mirror of its activations.
//
// Legend: B batch, F sparse features, D embedding dim, W interaction width, T heads, U unique
// embedding rows in the batch, P dense parameters.
//
//   forward   bottom → embedding_bag → interaction → top → towers → gather (B,3) logits
//   loss      bce.forward / bce.backward → dOut (B,3)
//   backward  gather⁻¹ dOut → dHeads (T, stride)
//             towers, top (linear.backward, reverse order; towers accumulate into dShared)
//             dlrm_interaction.backward → dZ0 (B,D), dEmb (B,F,D)
//             bottom (linear.backward, reverse; the first layer skips dx)
//             embedding_bag.backward_rows → gradRows (U,D) (sorted segment sums, no atomics)
//   update    AdamW over every parameter entry (weight decay on weights only);
//             row-wise Adagrad per table shard on its U_s rows.
import {
  check,
  embeddingBagForward,
  embeddingBagWorkgroups,
  type HeadWeights,
  AdamWOp,
  HeadsLossOp,
  LinearBackwardOp,
  RowwiseAdagradOp,
  DlrmInteractionBackwardOp,
  EmbeddingBagBackwardOp,
  Readback,
  type BoundKernel,
  type Gpu,
  NO_ROW,
} from '@vireo/kernels';
import { RANKING_TASKS, sparseWidth, type RankingModel } from './ranking.ts';

/** Optimizer settings. */
export interface RankingHyper {
  /** AdamW learning rate of the dense layers. */
  lr: number;
  weightDecay: number;
  /** Row-wise Adagrad learning rate of the embedding tables. */
  embLr: number;
  /** Loss weight of the revenue regression (CTR weighs 1). */
  revenueWeight: number;
  /** Loss weight of the ESMM CTCVR loss (default 1). */
  ctcvrWeight?: number;
  /** Loss weight of a direct cvr BCE on the clicked rows beside ESMM's (default 0: ESMM alone). */
  cvrWeight?: number;
}

/** Per-shard optimizer state: Adagrad accumulators and, with several shards, staging buffers. */
interface ShardOptimizer {
  acc: GPUBuffer; //        (R_s)
  ids: GPUBuffer | null; // (maxNnz) shard-local rows of the batch (several shards only)
  grad: GPUBuffer | null; // (maxNnz, D)
  adagrad: RowwiseAdagradOp;
}

/**
 * The training step bound once to a RankingModel of batch size maxBatch.
 * @example
 * const step = await RankingStep.create(gpu, model, { lr: 1e-3, weightDecay: 0, embLr: 0.02, revenueWeight: 1 });
 * step.run(dense, sparse, labels, B); const loss = await step.readLoss(B);
 */
export class RankingStep {
  /** Adam's t: steps taken. */
  step = 0;
  /** The global embedding rows the last batch touched, ascending (U). */
  private lastRows: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  private readonly lossReadback: Readback;
  private constructor(
    private readonly gpu: Gpu,
    readonly model: RankingModel,
    readonly hyper: RankingHyper,
    readonly grads: GPUBuffer, // (P) same layout as model.params
    readonly moments: { m: GPUBuffer; v: GPUBuffer },
    private readonly io: { labels: GPUBuffer; loss: GPUBuffer; dOut: GPUBuffer },
    private readonly parts: {
      heads: HeadsLossOp;
      ungather: BoundKernel;
      linears: LinearBackwardOp[];
      accumulates: boolean[];
      cleared: GPUBuffer[];
      interaction: DlrmInteractionBackwardOp;
      embedding: EmbeddingBagBackwardOp;
      adam: AdamWOp;
      shards: ShardOptimizer[];
      owned: GPUBuffer[];
    },
  ) {
    this.lossReadback = new Readback(gpu, 'ranking.step:loss', model.maxBatch * 3 * 4);
  }

  static async create(gpu: Gpu, model: RankingModel, hyper: RankingHyper): Promise<RankingStep> {
    const c = model.config;
    check(
      !c.wide,
      'RankingStep: the model has a wide term, which is fitted after training (logistic regression, stacked on the ' +
        'calibration rows), not by this step.',
    );
    const maxB = model.maxBatch;
    const F = c.sparseFeatures.length;
    const D = c.embeddingDim;
    const P = model.paramTable.total;
    const owned: GPUBuffer[] = [];
    const buf = (label: string, floats: number) => {
      const b = gpu.buffer(`ranking.step:${label}`, floats * 4);
      owned.push(b);
      return b;
    };
    const grads = buf('grads', P);
    const m = buf('adam.m', P);
    const v = buf('adam.v', P);
    const labels = buf('labels', maxB * 3);
    const loss = buf('loss', maxB * 3);
    const dOut = buf('dOut', maxB * 3);

    // Gradient mirrors of the activations (same size, same offsets).
    const mirror = new Map<GPUBuffer, GPUBuffer>();
    const gradOf = (a: GPUBuffer) => {
      let g = mirror.get(a);
      if (!g) mirror.set(a, (g = buf(`d:${a.label}`, a.size / 4)));
      return g;
    };
    const heads = await HeadsLossOp.create(gpu, { outputs: model.acts.out, labels, loss, grad: dOut }, maxB);

    // dHeads[slot·stride + b] = dOut[b, task(slot)]: the inverse of the model's gather.
    const T = c.heads.length;
    const idx = new Uint32Array(T * model.stride).fill(NO_ROW);
    c.heads.forEach((task, slot) => {
      for (let b = 0; b < maxB; b++) idx[slot * model.stride + b] = b * 3 + RANKING_TASKS.indexOf(task);
    });
    const ungatherIdx = buf('ungather.indices', idx.length);
    gpu.write(ungatherIdx, idx);
    const unused = buf('unused', 1);
    const ungather = await gpu.bind(embeddingBagForward, {
      table: dOut,
      indices: ungatherIdx,
      offsets: unused,
      weights: unused,
      out: gradOf(model.acts.heads),
    });

    // Layers whose input feeds several layers (the towers' shared input) accumulate into its gradient.
    const readers = new Map<GPUBuffer, number>();
    for (const l of model.layers) readers.set(l.x.buffer, (readers.get(l.x.buffer) ?? 0) + 1);
    const cleared = [...readers].filter(([, n]) => n > 1).map(([b]) => gradOf(b));
    const region = (b: GPUBuffer, e: { offset: number; size: number }) => ({
      buffer: b,
      offset: e.offset * 4,
      size: e.size * 4,
    });
    const linears: LinearBackwardOp[] = [];
    const accumulates: boolean[] = [];
    for (const l of model.layers) {
      const first = l.x.buffer === model.acts.dense;
      const dy = { ...l.y, buffer: gradOf(l.y.buffer) };
      linears.push(
        await LinearBackwardOp.create(
          gpu,
          {
            x: l.x,
            w: region(model.params, l.weight),
            y: l.act === 'none' ? undefined : l.y,
            dy,
            dx: first ? undefined : { ...l.x, buffer: gradOf(l.x.buffer) },
            dw: region(grads, l.weight),
            db: region(grads, l.bias),
          },
          { M: maxB, K: l.K, N: l.N },
        ),
      );
      accumulates.push((readers.get(l.x.buffer) ?? 0) > 1);
    }

    const bottomOut = model.layers[c.bottomMlp.length - 1].y.buffer;
    const interaction = await DlrmInteractionBackwardOp.create(gpu, {
      dense: bottomOut,
      emb: model.acts.emb,
      dy: gradOf(model.acts.inter),
      maxBatch: maxB,
      F,
      D,
      mode: c.interaction,
      dDense: gradOf(bottomOut),
      dEmb: gradOf(model.acts.emb),
    });
    const maxNnz = Math.max(1, maxB * sparseWidth(c));
    const embedding = await EmbeddingBagBackwardOp.create(gpu, {
      dy: gradOf(model.acts.emb),
      R: model.totalRows,
      D,
      maxBags: maxB * F,
      maxNnz,
      mode: 'mean',
    });

    const groups = model.paramTable.entries.map((e) => ({
      offset: e.offset,
      count: e.size,
      weightDecay: e.name.endsWith('.weight') ? hyper.weightDecay : 0,
    }));
    const adam = await AdamWOp.create(gpu, { grad: grads, param: model.params, m, v }, P, groups);

    const shards: ShardOptimizer[] = [];
    for (const [s, shard] of model.shards.entries()) {
      const acc = buf(`adagrad.acc.${s}`, shard.rows);
      if (model.shards.length === 1) {
        const adagrad = await RowwiseAdagradOp.create(
          gpu,
          { ids: embedding.rows, grad: embedding.gradRows, table: shard.buffer, acc },
          { maxU: maxNnz, D, R: shard.rows },
        );
        shards.push({ acc, ids: null, grad: null, adagrad });
      } else {
        const ids = buf(`adagrad.ids.${s}`, maxNnz);
        const grad = buf(`adagrad.grad.${s}`, maxNnz * D);
        const adagrad = await RowwiseAdagradOp.create(
          gpu,
          { ids, grad, table: shard.buffer, acc },
          { maxU: maxNnz, D, R: shard.rows },
        );
        shards.push({ acc, ids, grad, adagrad });
      }
    }
    return new RankingStep(
      gpu,
      model,
      hyper,
      grads,
      { m, v },
      { labels, loss, dOut },
      { heads, ungather, linears, accumulates, cleared, interaction, embedding, adam, shards, owned },
    );
  }

  /** The heads' loss weights for a batch of B: means over the batch; absent tasks weigh 0. */
  weights(B: number): HeadWeights {
    const has = (t: (typeof RANKING_TASKS)[number]) => this.model.config.heads.includes(t);
    const ctcvr = this.hyper.ctcvrWeight ?? 1;
    return {
      ctr: 1 / B,
      ctcvr: has('cvr') ? ctcvr / B : 0,
      cvr: has('cvr') ? (this.hyper.cvrWeight ?? 0) / B : 0,
      revenue: has('revenue') ? this.hyper.revenueWeight / B : 0,
    };
  }

  /**
   * Trains on one batch: dense (B, Nd), sparse (B, S), labels (B, 3) = click, conversion, revenue.
   * Submits the work and returns without waiting.
   */
  run(dense: Float32Array | null, sparse: Int32Array, labels: Float32Array, B: number, lrScale = 1): void {
    const { model, gpu, parts } = this;
    const c = model.config;
    const D = c.embeddingDim;
    const { indices, offsets } = model.setInputs(dense, sparse, B);
    gpu.write(this.io.labels, labels.subarray(0, B * 3));
    const plan = parts.embedding.set(indices, offsets, null);
    this.lastRows = plan.rows;
    this.step++;

    const encoder = gpu.device.createCommandEncoder({ label: 'ranking.step' });
    encoder.clearBuffer(this.grads);
    for (const b of parts.cleared) encoder.clearBuffer(b);
    const pass = encoder.beginComputePass();
    model.encode(pass, { logits: true });
    parts.heads.encodeForward(pass, B);
    parts.heads.encodeBackward(pass, B, this.weights(B));
    parts.ungather.dispatch(pass, embeddingBagWorkgroups(c.heads.length * model.stride), {
      B: c.heads.length * model.stride,
      D: 1,
      R: model.maxBatch * 3,
      mean: 0,
      has_offsets: 0,
      has_weights: 0,
    });
    const nb = c.bottomMlp.length;
    const backLinear = (i: number) => {
      const l = model.layers[i];
      parts.linears[i].encode(pass, { M: B, K: l.K, N: l.N, act: l.act, accumulate: parts.accumulates[i] });
    };
    for (let i = model.layers.length - 1; i >= nb; i--) backLinear(i);
    parts.interaction.encode(pass, B);
    for (let i = nb - 1; i >= 0; i--) backLinear(i);
    parts.embedding.encode(pass);
    let update = pass;
    const shardRows = model.shards.map(() => 0);
    if (model.shards.length === 1) shardRows[0] = plan.rows.length;
    else {
      // Stage each shard's slice of the sorted rows: local ids and their gradient rows.
      pass.end();
      let u = 0;
      model.shards.forEach((shard, s) => {
        const u0 = u;
        while (u < plan.rows.length && plan.rows[u] < shard.first + shard.rows) u++;
        shardRows[s] = u - u0;
        if (u === u0) return;
        const opt = parts.shards[s];
        gpu.write(
          opt.ids!,
          plan.rows.slice(u0, u).map((r) => r - shard.first),
        );
        encoder.copyBufferToBuffer(parts.embedding.gradRows as GPUBuffer, u0 * D * 4, opt.grad!, 0, (u - u0) * D * 4);
      });
      update = encoder.beginComputePass();
    }
    parts.adam.encode(update, { lr: this.hyper.lr * lrScale, step: this.step });
    parts.shards.forEach((opt, s) => opt.adagrad.encode(update, { U: shardRows[s], lr: this.hyper.embLr * lrScale }));
    update.end();
    gpu.device.queue.submit([encoder.finish()]);
  }

  /**
   * Mean per-task loss of the last batch (B rows): [ctr BCE, ctcvr BCE, revenue squared error];
   * 0 for a task without a head.
   */
  async readLoss(B: number): Promise<[number, number, number]> {
    const loss = new Float32Array(await this.lossReadback.read(this.io.loss, B * 3 * 4));
    const has = [true, this.model.config.heads.includes('cvr'), this.model.config.heads.includes('revenue')];
    const sums: [number, number, number] = [0, 0, 0];
    for (let i = 0; i < B; i++) for (let t = 0; t < 3; t++) if (has[t]) sums[t] += loss[i * 3 + t];
    return [sums[0] / B, sums[1] / B, sums[2] / B];
  }

  /** dL/d(rows) of the last batch: its rows (U) ascending and their gradient (U, D). */
  async readEmbeddingGrads(): Promise<{ rows: Uint32Array<ArrayBufferLike>; grad: Float32Array }> {
    const U = this.lastRows.length;
    const grad =
      U > 0
        ? await this.gpu.readF32(this.parts.embedding.gradRows as GPUBuffer, U * this.model.config.embeddingDim)
        : new Float32Array(0);
    return { rows: this.lastRows, grad };
  }

  /** Optimizer state for checkpoints: Adam moments and each shard's Adagrad accumulators. */
  async readState(): Promise<{ m: Float32Array; v: Float32Array; acc: Float32Array[] }> {
    const P = this.model.paramTable.total;
    return {
      m: await this.gpu.readF32(this.moments.m, P),
      v: await this.gpu.readF32(this.moments.v, P),
      acc: await Promise.all(this.parts.shards.map((s, i) => this.gpu.readF32(s.acc, this.model.shards[i].rows))),
    };
  }

  writeState(state: { m: Float32Array; v: Float32Array; acc: Float32Array[]; step: number }): void {
    this.gpu.write(this.moments.m, state.m);
    this.gpu.write(this.moments.v, state.v);
    state.acc.forEach((a, i) => this.gpu.write(this.parts.shards[i].acc, a));
    this.step = state.step;
  }

  destroy(): void {
    const p = this.parts;
    p.heads.destroy();
    p.ungather.destroy();
    for (const l of p.linears) l.destroy();
    p.interaction.destroy();
    p.embedding.destroy();
    p.adam.destroy();
    for (const s of p.shards) s.adagrad.destroy();
    for (const b of p.owned) b.destroy();
    this.lossReadback.destroy();
  }
}
