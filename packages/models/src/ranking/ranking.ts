// The DLRM ranker's forward pass on WebGPU: what the browser runs over the retrieved candidates
// and what the trainer runs before its backward. Pure WebGPU (no Node APIs); every buffer, bind
// group and params uniform is created once for a fixed maximum batch and reused per call.
//
// Legend: B samples (candidates), Nd dense inputs, F sparse features, L_f slots of feature f,
// S = Σ_f L_f slots per sample, D embedding dim, W interaction width, T heads present, P dense
// parameters, R_f rows of feature f's table.
//
//   dense (B, Nd) ─ bottom MLP (relu … relu) ─▶ z0 (B, D) ─┐
//   sparse (B, S) ─ embedding_bag per (sample, feature) ─▶ emb (B, F, D) ─┤ dlrm_interaction ─▶ (B, W)
//   ─ shared top MLP (relu) ─▶ h (B, H) ─ one tower per task (relu …, then 1 output) ─▶ heads (T, B)
//   ─ gather ─▶ out (B, 3) = [ctr, cvr, revenue]   (serving: pCtr, pCvr, log1p revenue; training: logits)
//
// Embeddings: one table per sparse feature, laid end to end in one global row space (feature f
// owns rows tableBase[f] .. tableBase[f] + R_f) and cut into shards of at most one storage
// binding each. Every (sample, feature) is one bag, bag b·F + f, so a single embedding_bag
// dispatch per shard writes emb in the (B, F, D) layout dlrm_interaction reads. Categorical
// slots always count (index 0, PAD, is the feature's learned "missing" row); multi-hot bags are
// the mean of their non-PAD slots (an all-PAD bag is zeros). With several shards each writes a
// partial sum (rows of other shards are skipped by the kernel) and a second embedding_bag over
// the partials sums them: emb = Σ_s partial_s.
//
// The towers write one column each, (T, B) task-major; the bce loss and callers want (B, 3),
// so a plain-lookup embedding_bag (D = 1) gathers heads[slot(t)·stride + b] into out[b, t]
// (tasks without a head read an index past the table and give 0).
//
// The wide term (config.wide: a first-order term per head, logistic regression over the same inputs, fitted by the
// trainer after training and stacked with the head's logit; docs/ARCHITECTURE.md §4) needs no kernel of its own. Its
// weights (T, Ww) sit in the heads buffer after the towers' outputs, the towers' last layers write logits, and one
// weighted embedding_bag (D = 1) sums per (head, sample) the tower's logit, the dense weights times the dense values,
// the rows of the sample's sparse slots (1/count each, as the bags pool) and the bias into `logits`; then a 1×1 linear
// per head applies the head's activation back into heads, which the gather reads as before.
import { FIRST_INDEX, OOV_INDEX, PAD_INDEX, readSafetensors, type Tensor } from '@vireo/core';
import {
  check,
  dlrmInteractionForward,
  dlrmInteractionWidth,
  dlrmInteractionWorkgroups,
  embeddingBagForward,
  embeddingBagWorkgroups,
  INTERACTION_MODES,
  type Activation,
  type InteractionMode,
  Readback,
  type BoundKernel,
  type BufferRegion,
  type Gpu,
  LinearOp,
  NO_ROW,
  rowGather,
  rowSum,
} from '@vireo/kernels';

/** The three tasks, in the column order of every (B, 3) output and label array. */
export type RankingTask = 'ctr' | 'cvr' | 'revenue';
export const RANKING_TASKS: readonly RankingTask[] = ['ctr', 'cvr', 'revenue'];

/** One sparse feature as the model sees it. */
export interface SparseFeatureShape {
  /** Feature name, e.g. `context:c1` or `item:genres`. */
  name: string;
  /** R_f: rows of its table (PAD + OOV + vocabulary or hash buckets). */
  rows: number;
  /** L_f: index slots per sample; 1 = categorical, more = multi-hot (mean of the non-PAD slots). */
  width: number;
  /**
   * A feature computed from others rather than read: each item of the user's history `sequence`
   * (item:id indices, PAD kept) mapped to its value of the categorical item feature `through`
   * (e.g. the categories of the recent clicks). The trainer and the engine fill it the same way;
   * the forward sees an ordinary bag.
   */
  derived?: { sequence: string; through: string };
}

/**
 * A derived feature's values (SparseFeatureShape.derived), as the trainer and the engine both
 * build them: each history slot (an item:id index, PAD kept) mapped to that item's value in
 * `column` (one per catalogue row, e.g. its category index); an item outside it maps to OOV.
 * @example historyThrough(recentItems, itemCategory) // the categories of the recent clicks
 */
export function historyThrough(
  history: ArrayLike<number>,
  column: ArrayLike<number>,
  out = new Int32Array(history.length),
): Int32Array {
  for (let k = 0; k < history.length; k++) {
    const v = Number(history[k]);
    const row = v - FIRST_INDEX;
    out[k] = v === PAD_INDEX ? PAD_INDEX : row >= 0 && row < column.length ? Number(column[row]) : OOV_INDEX;
  }
  return out;
}

/** The architecture: everything needed to lay out parameters and run the forward. */
export interface RankingConfig {
  /** Dense (numeric) feature names, in input column order; empty means one constant-1 input. */
  denseFeatures: string[];
  /** Sparse features in table order (F ≥ 1). */
  sparseFeatures: SparseFeatureShape[];
  /** D: embedding width, also the bottom MLP's output width. */
  embeddingDim: number;
  /** Bottom MLP widths, the last equal to D, e.g. [512, 256, 64]. */
  bottomMlp: number[];
  /** Shared top MLP hidden widths (relu), e.g. [512, 256]; may be empty. */
  topMlp: number[];
  /** Per-task tower hidden widths (relu) before the one output, e.g. [64]; may be empty. */
  towerMlp: number[];
  interaction: InteractionMode;
  /** The tasks with a head (a subset of RANKING_TASKS, in that order). */
  heads: RankingTask[];
  /**
   * A first-order (wide) term per head, added to its logit before the activation: the parameter `wide.weight`
   * (T, wideWidth) holds per head logistic-regression weights over the dense values, every sparse table row and a
   * bias. The trainer fits it after training (a head it does not help keeps zeros). Absent or false: no term.
   */
  wide?: boolean;
}

/** One dense parameter tensor carved out of the flat parameter buffer. */
export interface ParamEntry {
  /** e.g. `bottom.0.weight` (N, K) or `tower.ctr.1.bias` (N). */
  name: string;
  shape: number[];
  /** Offset in floats, a multiple of 64 (256 bytes, minStorageBufferOffsetAlignment). */
  offset: number;
  size: number;
}

/** One linear layer of the forward: y = act(x · wᵀ + b), x (B, K), w (N, K), y (B, N). */
export interface RankingLayer {
  /** `bottom.0`, `top.1`, `tower.cvr.0`, … */
  name: string;
  K: number;
  N: number;
  weight: ParamEntry;
  bias: ParamEntry;
  /** Activation while training (the last tower layer gives logits: 'none'). */
  act: Activation;
  /** Activation when serving: 'sigmoid' on the ctr / cvr outputs, else as `act`. */
  serveAct: Activation;
  /** The activation buffers it reads and writes, (maxBatch, K) and (maxBatch, N). */
  x: BufferRegion & { buffer: GPUBuffer };
  y: BufferRegion & { buffer: GPUBuffer };
}

/** A piece of the global embedding row space held by one buffer: rows first .. first + rows. */
export interface TableShard {
  buffer: GPUBuffer;
  first: number;
  rows: number;
}

const ALIGN = 64; // floats: 256 bytes
const align = (n: number, a = ALIGN) => Math.ceil(n / a) * a;
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Checks a config; throws a ShapeError naming the field. */
export function checkRankingConfig(c: RankingConfig): void {
  const D = c.embeddingDim;
  check(Number.isInteger(D) && D > 0, `ranking: embeddingDim must be a positive integer, got ${D}.`);
  check(c.sparseFeatures.length >= 1, 'ranking: the model needs at least one sparse (categorical) feature.');
  for (const f of c.sparseFeatures) {
    check(
      Number.isInteger(f.rows) && f.rows > 0 && Number.isInteger(f.width) && f.width > 0,
      `ranking: sparse feature ${f.name} needs positive integer rows and width, got ${f.rows}, ${f.width}.`,
    );
  }
  check(
    c.bottomMlp.length >= 1 && c.bottomMlp.at(-1) === D,
    `ranking: the bottom MLP must end at the embedding width ${D}, got [${c.bottomMlp.join(', ')}].`,
  );
  for (const n of [...c.bottomMlp, ...c.topMlp, ...c.towerMlp])
    check(Number.isInteger(n) && n > 0, `ranking: layer widths must be positive integers, got ${n}.`);
  check(
    c.interaction in INTERACTION_MODES,
    `ranking: interaction '${c.interaction}' is unknown: expected one of dot, cat.`,
  );
  check(
    c.heads.length >= 1 && c.heads.every((h, i) => RANKING_TASKS.includes(h) && c.heads.indexOf(h) === i),
    `ranking: heads must be distinct tasks from ${RANKING_TASKS.join(', ')}, got [${c.heads.join(', ')}].`,
  );
}

/** Dense inputs the bottom MLP reads: Nd, or 1 (a constant) when there are no dense features. */
export function denseWidth(c: RankingConfig): number {
  return Math.max(1, c.denseFeatures.length);
}

/** Values per head of the wide term: Nd dense weights, one weight per table row (Σ R_f), then a bias. */
export function wideWidth(c: RankingConfig): number {
  return c.denseFeatures.length + tableBases(c).totalRows + 1;
}

/** S: index slots per sample over all sparse features. */
export function sparseWidth(c: RankingConfig): number {
  return c.sparseFeatures.reduce((s, f) => s + f.width, 0);
}

/** The linear layers in forward order, as (name, K, N, act, serveAct); towers in head order. */
export function rankingLayerShapes(
  c: RankingConfig,
): { name: string; K: number; N: number; act: Activation; serveAct: Activation }[] {
  const out: { name: string; K: number; N: number; act: Activation; serveAct: Activation }[] = [];
  let K = denseWidth(c);
  c.bottomMlp.forEach((N, i) => {
    out.push({ name: `bottom.${i}`, K, N, act: 'relu', serveAct: 'relu' });
    K = N;
  });
  K = dlrmInteractionWidth(c.sparseFeatures.length, c.embeddingDim, c.interaction);
  c.topMlp.forEach((N, i) => {
    out.push({ name: `top.${i}`, K, N, act: 'relu', serveAct: 'relu' });
    K = N;
  });
  const shared = K;
  for (const task of c.heads) {
    K = shared;
    c.towerMlp.forEach((N, i) => {
      out.push({ name: `tower.${task}.${i}`, K, N, act: 'relu', serveAct: 'relu' });
      K = N;
    });
    out.push({
      name: `tower.${task}.${c.towerMlp.length}`,
      K,
      N: 1,
      act: 'none',
      serveAct: task === 'revenue' ? 'none' : 'sigmoid',
    });
  }
  return out;
}

/**
 * The flat parameter table: every layer's weight (N, K) then bias (N), each at a 256-byte aligned
 * offset. Gradients and Adam moments use the same layout.
 * @example const { entries, total } = rankingParameters(config); // entries[0].name === 'bottom.0.weight'
 */
export function rankingParameters(c: RankingConfig): { entries: ParamEntry[]; total: number } {
  const entries: ParamEntry[] = [];
  let offset = 0;
  const add = (name: string, shape: number[]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    entries.push({ name, shape, offset, size });
    offset = align(offset + size);
  };
  for (const l of rankingLayerShapes(c)) {
    add(`${l.name}.weight`, [l.N, l.K]);
    add(`${l.name}.bias`, [l.N]);
  }
  // Last, so that a model's layers keep their offsets when the trainer adds the term after training.
  if (c.wide) add(WIDE_WEIGHT, [c.heads.length, wideWidth(c)]);
  return { entries, total: offset };
}

/** The wide term's parameter (RankingConfig.wide). */
export const WIDE_WEIGHT = 'wide.weight';

/** Each sparse feature's first row in the global embedding row space, and the total rows. */
export function tableBases(c: RankingConfig): { bases: number[]; totalRows: number } {
  const bases: number[] = [];
  let total = 0;
  for (const f of c.sparseFeatures) {
    bases.push(total);
    total += f.rows;
  }
  return { bases, totalRows: total };
}

/** The name of feature f's table in ranking.safetensors. */
export function tableTensorName(feature: string): string {
  return `embedding.${feature}`;
}

/**
 * Turns a batch's sparse slots (B, S) of per-feature indices into embedding bags: bag b·F + f,
 * global rows (tableBase[f] + index). Categorical slots always count; multi-hot slots skip PAD (0).
 * Throws a ShapeError for an index outside its feature's table.
 */
export function buildBags(
  c: RankingConfig,
  bases: number[],
  sparse: ArrayLike<number>,
  B: number,
  indices: Uint32Array,
  offsets: Uint32Array,
): number {
  const S = sparseWidth(c);
  const F = c.sparseFeatures.length;
  let nnz = 0;
  for (let b = 0; b < B; b++) {
    let slot = b * S;
    for (let f = 0; f < F; f++) {
      const { width, rows, name } = c.sparseFeatures[f];
      offsets[b * F + f] = nnz;
      for (let l = 0; l < width; l++, slot++) {
        const v = sparse[slot];
        if (width > 1 && v === 0) continue;
        if (!(v >= 0 && v < rows && Number.isInteger(v))) {
          check(false, `ranking: sample ${b} feature ${name} has index ${v}, outside its table of ${rows} rows.`);
        }
        indices[nnz++] = bases[f] + v;
      }
    }
  }
  offsets[B * F] = nnz;
  return nnz;
}

export interface RankingModelOptions {
  /** The most samples one call scores (the serving shape is 1,000 candidates). */
  maxBatch: number;
  /** Rows per embedding shard; default: as many as one storage binding holds. */
  maxShardRows?: number;
}

/** The wide term's bag over the heads buffer, its per-head activations and the CPU scratch of its bags. */
interface WideParts {
  bag: BoundKernel;
  acts: LinearOp[];
  indices: GPUBuffer;
  offsets: GPUBuffer;
  weights: GPUBuffer;
  scratch: { indices: Uint32Array; offsets: Uint32Array; weights: Float32Array };
}

/** The activation buffers of the forward, each sized for maxBatch. */
export interface RankingActivations {
  dense: GPUBuffer; //  (maxB, Nd)
  emb: GPUBuffer; //    (maxB, F, D)
  inter: GPUBuffer; //  (maxB, W)
  heads: GPUBuffer; //  (T, stride): tower t's output at t·stride; then the wide weights (T, Ww) if any
  out: GPUBuffer; //    (maxB, 3)
}

/**
 * The DLRM ranker on the GPU, created once with a fixed maximum batch.
 * @example
 * const model = await RankingModel.create(gpu, config, { maxBatch: 1000 });
 * model.writeWeights(params, tables);
 * const scores = await model.score(dense, sparse, 1000); // (1000, 3): pCtr, pCvr, log1p revenue
 */
export class RankingModel {
  /** Rows of the heads buffer per task (maxBatch rounded up to 64). */
  readonly stride: number;
  readonly layers: RankingLayer[];
  /** Values per interaction row (W). */
  readonly width: number;
  /** Batch size of the inputs last `setInputs` (0 before). */
  batch = 0;

  private constructor(
    private readonly gpu: Gpu,
    readonly config: RankingConfig,
    readonly maxBatch: number,
    readonly params: GPUBuffer,
    readonly paramTable: { entries: ParamEntry[]; total: number },
    readonly shards: TableShard[],
    readonly bases: number[],
    readonly totalRows: number,
    readonly acts: RankingActivations,
    private readonly parts: {
      linears: LinearOp[];
      bags: BoundKernel[];
      combine: BoundKernel | null;
      combineRows: number;
      interaction: BoundKernel;
      gather: BoundKernel;
      shardIndices: GPUBuffer[];
      offsets: GPUBuffer;
      owned: GPUBuffer[];
      readback: Readback;
      /** CPU scratch for a batch's bags: global indices (maxB·S), offsets (maxB·F + 1), shard-local indices. */
      scratch: { indices: Uint32Array; offsets: Uint32Array; local: Uint32Array };
      /** The towers' last layers (their outputs are logits when the wide term is added after them). */
      lastLayers: Set<number>;
      wide: WideParts | null;
    },
    layers: RankingLayer[],
    stride: number,
    width: number,
  ) {
    this.layers = layers;
    this.stride = stride;
    this.width = width;
  }

  static async create(gpu: Gpu, config: RankingConfig, options: RankingModelOptions): Promise<RankingModel> {
    checkRankingConfig(config);
    const { maxBatch } = options;
    check(
      Number.isInteger(maxBatch) && maxBatch > 0,
      `RankingModel: maxBatch must be a positive integer, got ${maxBatch}.`,
    );
    const D = config.embeddingDim;
    const F = config.sparseFeatures.length;
    const S = sparseWidth(config);
    const T = config.heads.length;
    const owned: GPUBuffer[] = [];
    const buf = (label: string, floats: number) => {
      const b = gpu.buffer(`ranking:${label}`, floats * 4);
      owned.push(b);
      return b;
    };

    const paramTable = rankingParameters(config);
    const params = buf('params', paramTable.total);
    const { bases, totalRows } = tableBases(config);
    const bindingRows = Math.floor(
      Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize) / (D * 4),
    );
    const shardRows = Math.max(1, Math.min(bindingRows, options.maxShardRows ?? Infinity));
    const shards: TableShard[] = [];
    for (let first = 0; first < totalRows; first += shardRows) {
      const rows = Math.min(shardRows, totalRows - first);
      shards.push({ buffer: buf(`table.${shards.length}`, rows * D), first, rows });
    }

    const W = dlrmInteractionWidth(F, D, config.interaction);
    const stride = align(maxBatch);
    const Ww = config.wide ? wideWidth(config) : 0;
    const headsBytes = (T * stride + T * Ww) * 4;
    check(
      headsBytes <= Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize),
      `RankingModel: the wide term's ${T}·${Ww} weights do not fit one storage binding of this device ` +
        `(${gpu.limits.maxStorageBufferBindingSize} bytes); train with --wide off or fewer hash buckets.`,
    );
    const acts: RankingActivations = {
      dense: buf('dense', maxBatch * denseWidth(config)),
      emb: buf('emb', maxBatch * F * D),
      inter: buf('inter', maxBatch * W),
      heads: buf('heads', headsBytes / 4),
      out: buf('out', maxBatch * 3),
    };

    // Linear layers: activation buffers chained bottom → top → towers (rankingLayerShapes' order).
    const layers: RankingLayer[] = [];
    const entry = new Map(paramTable.entries.map((e) => [e.name, e]));
    const shapes = rankingLayerShapes(config);
    const whole = (buffer: GPUBuffer) => ({ buffer });
    const push = (x: BufferRegion & { buffer: GPUBuffer }, y: BufferRegion & { buffer: GPUBuffer }) => {
      const s = shapes[layers.length];
      layers.push({ ...s, weight: entry.get(`${s.name}.weight`)!, bias: entry.get(`${s.name}.bias`)!, x, y });
      return y;
    };
    let x = whole(acts.dense);
    for (const N of config.bottomMlp) x = push(x, whole(buf(`${shapes[layers.length].name}.out`, maxBatch * N)));
    const bottomOut = x.buffer; // z0 (maxB, D)
    x = whole(acts.inter);
    for (const N of config.topMlp) x = push(x, whole(buf(`${shapes[layers.length].name}.out`, maxBatch * N)));
    const shared = x;
    const lastLayers = new Set<number>();
    config.heads.forEach((_, t) => {
      let h = shared;
      for (const N of config.towerMlp) h = push(h, whole(buf(`${shapes[layers.length].name}.out`, maxBatch * N)));
      lastLayers.add(layers.length);
      push(h, { buffer: acts.heads, offset: t * stride * 4, size: maxBatch * 4 });
    });
    const region = (e: ParamEntry) => ({ buffer: params, offset: e.offset * 4, size: e.size * 4 });
    const linears: LinearOp[] = [];
    for (const l of layers) {
      linears.push(
        await LinearOp.create(
          gpu,
          { x: l.x, w: region(l.weight), b: region(l.bias), y: l.y },
          { M: maxBatch, K: l.K, N: l.N },
        ),
      );
    }

    // Embedding bags: one dispatch per shard, into emb directly or into aligned partials.
    const maxNnz = maxBatch * S;
    const offsets = buf('bag.offsets', maxBatch * F + 1);
    const unusedWeights = buf('bag.weights', 1);
    const shardIndices = shards.map((_, s) => buf(`bag.indices.${s}`, Math.max(1, maxNnz)));
    const bags: BoundKernel[] = [];
    let combine: BoundKernel | null = null;
    let combineRows = 0;
    if (shards.length === 1) {
      bags.push(
        await gpu.bind(embeddingBagForward, {
          table: shards[0].buffer,
          indices: shardIndices[0],
          offsets,
          weights: unusedWeights,
          out: acts.emb,
        }),
      );
    } else {
      // Partial s starts at row s·partRows of one buffer; rows·D·4 bytes must stay 256-aligned.
      const partRows = align(maxBatch * F, ALIGN / gcd(ALIGN, D));
      const partials = buf('bag.partials', shards.length * partRows * D);
      for (let s = 0; s < shards.length; s++) {
        const out = { buffer: partials, offset: s * partRows * D * 4, size: maxBatch * F * D * 4 };
        bags.push(
          await gpu.bind(embeddingBagForward, {
            table: shards[s].buffer,
            indices: shardIndices[s],
            offsets,
            weights: unusedWeights,
            out,
          }),
        );
      }
      // Bag k sums row k of every partial: indices s·partRows + k, in shard order.
      const n = maxBatch * F;
      const idx = new Uint32Array(n * shards.length);
      const off = new Uint32Array(n + 1);
      for (let k = 0; k < n; k++) {
        off[k] = k * shards.length;
        for (let s = 0; s < shards.length; s++) idx[k * shards.length + s] = s * partRows + k;
      }
      off[n] = idx.length;
      const combineIndices = buf('bag.combine.indices', idx.length);
      const combineOffsets = buf('bag.combine.offsets', off.length);
      gpu.write(combineIndices, idx);
      gpu.write(combineOffsets, off);
      combine = await gpu.bind(rowSum, {
        table: partials,
        indices: combineIndices,
        offsets: combineOffsets,
        weights: unusedWeights,
        out: acts.emb,
      });
      combineRows = shards.length * partRows;
    }

    const interaction = await gpu.bind(dlrmInteractionForward, { dense: bottomOut, emb: acts.emb, out: acts.inter });

    let wide: WideParts | null = null;
    if (config.wide) {
      // Per (head, sample): the tower's logit, Nd dense values, at most S sparse slots and the bias.
      const maxNnzWide = T * maxBatch * (2 + config.denseFeatures.length + S);
      const logits = buf('wide.logits', T * stride);
      const indices = buf('wide.indices', maxNnzWide);
      const offsetsWide = buf('wide.offsets', T * stride + 1);
      const weights = buf('wide.weights', maxNnzWide);
      const one = buf('wide.one', 1);
      gpu.write(one, new Float32Array([1]));
      const bag = await gpu.bind(embeddingBagForward, {
        table: acts.heads,
        indices,
        offsets: offsetsWide,
        weights,
        out: logits,
      });
      const headActs: LinearOp[] = [];
      for (let t = 0; t < T; t++) {
        const region = { offset: t * stride * 4, size: maxBatch * 4 };
        headActs.push(
          await LinearOp.create(
            gpu,
            {
              x: { buffer: logits, ...region },
              w: { buffer: one },
              b: { buffer: one },
              y: { buffer: acts.heads, ...region },
            },
            { M: maxBatch, K: 1, N: 1 },
          ),
        );
      }
      wide = {
        bag,
        acts: headActs,
        indices,
        offsets: offsetsWide,
        weights,
        scratch: {
          indices: new Uint32Array(maxNnzWide),
          offsets: new Uint32Array(T * stride + 1),
          weights: new Float32Array(maxNnzWide),
        },
      };
    }

    // out[b, task] = heads[slot(task)·stride + b] (a missing head reads past the table: 0).
    const gatherIndices = new Uint32Array(maxBatch * 3);
    for (let b = 0; b < maxBatch; b++) {
      RANKING_TASKS.forEach((task, t) => {
        const slot = config.heads.indexOf(task);
        gatherIndices[b * 3 + t] = slot < 0 ? NO_ROW : slot * stride + b;
      });
    }
    const gatherIdx = buf('gather.indices', gatherIndices.length);
    gpu.write(gatherIdx, gatherIndices);
    const gather = await gpu.bind(rowGather, {
      table: acts.heads,
      indices: gatherIdx,
      offsets: unusedWeights,
      weights: unusedWeights,
      out: acts.out,
    });

    return new RankingModel(
      gpu,
      config,
      maxBatch,
      params,
      paramTable,
      shards,
      bases,
      totalRows,
      acts,
      {
        linears,
        bags,
        combine,
        combineRows,
        interaction,
        gather,
        shardIndices,
        offsets,
        owned,
        readback: new Readback(gpu, 'ranking:out', maxBatch * 3 * 4),
        scratch: {
          indices: new Uint32Array(Math.max(1, maxNnz)),
          offsets: new Uint32Array(maxBatch * F + 1),
          local: new Uint32Array(shards.length > 1 ? Math.max(1, maxNnz) : 0),
        },
        lastLayers,
        wide,
      },
      layers,
      stride,
      W,
    );
  }

  /**
   * Checks and uploads a batch: dense (B, Nd) transformed values (ignored when the model has no
   * dense features) and sparse (B, S) per-feature indices. Returns the batch's global bag
   * indices and offsets (the trainer's embedding backward sorts them), views of scratch arrays
   * valid until the next call.
   */
  setInputs(
    dense: Float32Array | null,
    sparse: ArrayLike<number>,
    B: number,
  ): { indices: Uint32Array; offsets: Uint32Array } {
    const c = this.config;
    const F = c.sparseFeatures.length;
    const D = c.embeddingDim;
    check(
      Number.isInteger(B) && B >= 1 && B <= this.maxBatch,
      `RankingModel: batch of ${B} samples, expected 1..${this.maxBatch}.`,
    );
    check(
      sparse.length === B * sparseWidth(c),
      `RankingModel: sparse has ${sparse.length} values, expected B·S = ${B}·${sparseWidth(c)}.`,
    );
    if (c.denseFeatures.length > 0) {
      check(
        dense !== null && dense.length === B * c.denseFeatures.length,
        `RankingModel: dense has ${dense?.length} values, expected B·Nd = ${B}·${c.denseFeatures.length}.`,
      );
      this.gpu.write(this.acts.dense, dense!);
    } else {
      // The constant input of a model without dense features.
      this.gpu.write(this.acts.dense, new Float32Array(B).fill(1));
    }
    const { scratch } = this.parts;
    const nnz = buildBags(c, this.bases, sparse, B, scratch.indices, scratch.offsets);
    const indices = scratch.indices.subarray(0, nnz);
    const offsets = scratch.offsets.subarray(0, B * F + 1);
    this.gpu.write(this.parts.offsets, offsets);
    if (this.shards.length === 1) {
      if (nnz > 0) this.gpu.write(this.parts.shardIndices[0], indices);
    } else {
      const local = scratch.local.subarray(0, Math.max(1, nnz));
      this.shards.forEach((shard, s) => {
        for (let j = 0; j < nnz; j++) {
          const r = indices[j] - shard.first;
          local[j] = r >= 0 && r < shard.rows ? r : NO_ROW;
        }
        this.gpu.write(this.parts.shardIndices[s], local);
      });
    }
    this.shards.forEach((shard, s) =>
      this.parts.bags[s].setParams({ B: B * F, D, R: shard.rows, mean: 1, has_offsets: 1, has_weights: 0 }),
    );
    if (this.parts.wide) this.setWideInputs(this.parts.wide, dense, indices, offsets, B);
    this.batch = B;
    return { indices, offsets };
  }

  /**
   * The wide bags of a batch: bag t·stride + b sums, in the heads buffer, head t's logit of sample b (weight 1), its
   * dense weights (the sample's values), the rows of its sparse slots (1/count per feature, as the embedding bags
   * pool; global row r is weight Nd + r) and the bias. Bags of b ≥ B are empty.
   */
  private setWideInputs(
    wide: WideParts,
    dense: Float32Array | null,
    indices: Uint32Array,
    offsets: Uint32Array,
    B: number,
  ): void {
    const c = this.config;
    const F = c.sparseFeatures.length;
    const Nd = c.denseFeatures.length;
    const T = c.heads.length;
    const Ww = wideWidth(c);
    const { indices: idx, offsets: off, weights: w } = wide.scratch;
    let n = 0;
    for (let t = 0; t < T; t++) {
      const base = T * this.stride + t * Ww;
      for (let b = 0; b < this.stride; b++) {
        off[t * this.stride + b] = n;
        if (b >= B) continue;
        idx[n] = t * this.stride + b;
        w[n++] = 1;
        for (let j = 0; j < Nd; j++) {
          idx[n] = base + j;
          w[n++] = dense![b * Nd + j];
        }
        for (let f = 0; f < F; f++) {
          const from = offsets[b * F + f];
          const to = offsets[b * F + f + 1];
          for (let k = from; k < to; k++) {
            idx[n] = base + Nd + indices[k];
            w[n++] = 1 / (to - from);
          }
        }
        idx[n] = base + Ww - 1;
        w[n++] = 1;
      }
    }
    off[T * this.stride] = n;
    this.gpu.write(wide.indices, idx.subarray(0, n));
    this.gpu.write(wide.weights, w.subarray(0, n));
    this.gpu.write(wide.offsets, off);
    wide.bag.setParams({
      B: T * this.stride,
      D: 1,
      R: T * (this.stride + Ww),
      mean: 0,
      has_offsets: 1,
      has_weights: 1,
    });
  }

  /**
   * Records the forward of the batch last `setInputs` into `pass`. `logits`: the last tower
   * layers give raw logits (training); otherwise pCtr and pCvr are probabilities.
   */
  encode(pass: GPUComputePassEncoder, options: { logits?: boolean } = {}): void {
    const B = this.batch;
    check(B > 0, 'RankingModel: encode() before setInputs(): no batch.');
    const c = this.config;
    const F = c.sparseFeatures.length;
    const D = c.embeddingDim;
    const { linears, bags, combine, interaction, gather } = this.parts;
    const nb = c.bottomMlp.length;
    for (let i = 0; i < nb; i++) this.encodeLinear(pass, i, options);
    for (const bag of bags) bag.dispatch(pass, embeddingBagWorkgroups(B * F * D));
    combine?.dispatch(pass, embeddingBagWorkgroups(B * F * D), {
      B: B * F,
      D,
      R: this.parts.combineRows,
      mean: 0,
      has_offsets: 1,
      has_weights: 0,
    });
    interaction.dispatch(pass, dlrmInteractionWorkgroups(B, F, D, c.interaction), {
      B,
      F,
      D,
      mode: INTERACTION_MODES[c.interaction],
    });
    for (let i = nb; i < linears.length; i++) this.encodeLinear(pass, i, options);
    const { wide } = this.parts;
    if (wide) {
      wide.bag.dispatch(pass, embeddingBagWorkgroups(c.heads.length * this.stride));
      // The heads in order, each with its last layer's serving activation (the sets keep insertion order).
      [...this.parts.lastLayers].forEach((i, t) => {
        const act = options.logits ? 'none' : this.layers[i].serveAct;
        wide.acts[t].encode(pass, { M: B, K: 1, N: 1, act, hasBias: false });
      });
    }
    gather.dispatch(pass, embeddingBagWorkgroups(B * 3), {
      B: B * 3,
      D: 1,
      R: c.heads.length * this.stride,
      mean: 0,
      has_offsets: 0,
      has_weights: 0,
    });
  }

  private encodeLinear(pass: GPUComputePassEncoder, i: number, options: { logits?: boolean }): void {
    const l = this.layers[i];
    // With the wide term the towers' last layers give logits; the head's activation comes after the sum.
    const logits = options.logits || (this.parts.wide !== null && this.parts.lastLayers.has(i));
    this.parts.linears[i].encode(pass, { M: this.batch, K: l.K, N: l.N, act: logits ? l.act : l.serveAct });
  }

  /**
   * Scores any number of samples (in chunks of maxBatch): dense (n, Nd), sparse (n, S) →
   * (n, 3) = [pCtr, pCvr, log1p revenue]; tasks without a head give 0.
   */
  async score(
    dense: Float32Array | null,
    sparse: Int32Array | Uint32Array,
    n: number,
    options: { logits?: boolean } = {},
  ): Promise<Float32Array> {
    const Nd = this.config.denseFeatures.length;
    const S = sparseWidth(this.config);
    const out = new Float32Array(n * 3);
    for (let start = 0; start < n; start += this.maxBatch) {
      const B = Math.min(this.maxBatch, n - start);
      this.setInputs(
        Nd > 0 ? dense!.subarray(start * Nd, (start + B) * Nd) : null,
        sparse.subarray(start * S, (start + B) * S),
        B,
      );
      this.gpu.run((pass) => this.encode(pass, options));
      out.set(new Float32Array(await this.parts.readback.read(this.acts.out, B * 3 * 4)), start * 3);
    }
    return out;
  }

  /** Uploads weights: the flat dense parameters (P) and one table (R_f, D) per sparse feature. */
  writeWeights(params: Float32Array, tables: Float32Array[]): void {
    const c = this.config;
    const D = c.embeddingDim;
    check(
      params.length === this.paramTable.total,
      `RankingModel: params has ${params.length} values, expected ${this.paramTable.total}.`,
    );
    check(
      tables.length === c.sparseFeatures.length,
      `RankingModel: ${tables.length} tables given, expected ${c.sparseFeatures.length}.`,
    );
    this.gpu.write(this.params, params);
    if (c.wide) {
      const e = this.paramTable.entries.find((x) => x.name === WIDE_WEIGHT)!;
      this.gpu.write(this.acts.heads, params.subarray(e.offset, e.offset + e.size), c.heads.length * this.stride * 4);
    }
    tables.forEach((t, f) => {
      check(
        t.length === c.sparseFeatures[f].rows * D,
        `RankingModel: table ${c.sparseFeatures[f].name} has ` +
          `${t.length} values, expected R·D = ${c.sparseFeatures[f].rows}·${D}.`,
      );
      this.forEachShardPiece(f, (shard, rowInTable, rowInShard, rows) => {
        this.gpu.write(shard.buffer, t.subarray(rowInTable * D, (rowInTable + rows) * D), rowInShard * D * 4);
      });
    });
  }

  /** Reads the weights back: the flat parameters and one table per sparse feature. */
  async readWeights(): Promise<{ params: Float32Array; tables: Float32Array[] }> {
    const c = this.config;
    const D = c.embeddingDim;
    const params = await this.gpu.readF32(this.params, this.paramTable.total);
    const tables: Float32Array[] = [];
    for (let f = 0; f < c.sparseFeatures.length; f++) {
      const t = new Float32Array(c.sparseFeatures[f].rows * D);
      const pieces: Promise<void>[] = [];
      this.forEachShardPiece(f, (shard, rowInTable, rowInShard, rows) => {
        pieces.push(this.gpu.readF32(shard.buffer, rows * D, rowInShard * D * 4).then((v) => t.set(v, rowInTable * D)));
      });
      await Promise.all(pieces);
      tables.push(t);
    }
    return { params, tables };
  }

  /** Calls `fn` for each shard piece of feature f's table: rows [rowInTable, +rows) at rowInShard. */
  forEachShardPiece(
    f: number,
    fn: (shard: TableShard, rowInTable: number, rowInShard: number, rows: number) => void,
  ): void {
    const start = this.bases[f];
    const end = start + this.config.sparseFeatures[f].rows;
    for (const shard of this.shards) {
      const a = Math.max(start, shard.first);
      const b = Math.min(end, shard.first + shard.rows);
      if (a < b) fn(shard, a - start, a - shard.first, b - a);
    }
  }

  destroy(): void {
    for (const l of [...this.parts.linears, ...(this.parts.wide?.acts ?? [])]) l.destroy();
    const kernels = [
      ...this.parts.bags,
      this.parts.combine,
      this.parts.interaction,
      this.parts.gather,
      this.parts.wide?.bag,
    ];
    for (const k of kernels) k?.destroy();
    for (const b of this.parts.owned) b.destroy();
    this.parts.readback.destroy();
  }
}

// ------------------------------------------------------------------------------------ weights file

/** The architecture as stored in ranking.safetensors' metadata (`vireo.ranking.config`). */
export const RANKING_CONFIG_KEY = 'vireo.ranking.config';

/**
 * Splits ranking.safetensors into the config, the flat parameters and the tables, checking every
 * tensor's shape against the config. Takes the file's bytes, or the file already parsed by
 * readSafetensors when the caller reads other tensors from it too.
 * @example const { config, params, tables } = rankingWeightsFromSafetensors(bytes);
 */
export function rankingWeightsFromSafetensors(file: Uint8Array | ReturnType<typeof readSafetensors>): {
  config: RankingConfig;
  params: Float32Array;
  tables: Float32Array[];
} {
  const { tensors, metadata } = file instanceof Uint8Array ? readSafetensors(file) : file;
  const raw = metadata[RANKING_CONFIG_KEY];
  check(
    raw !== undefined,
    `ranking.safetensors has no '${RANKING_CONFIG_KEY}' metadata: it was not written by vireo train ranking.`,
  );
  const config = JSON.parse(raw) as RankingConfig;
  checkRankingConfig(config);
  const table = rankingParameters(config);
  const params = new Float32Array(table.total);
  const get = (name: string, shape: number[]): Float32Array => {
    const t = tensors.get(name) as Tensor | undefined;
    check(t !== undefined, `ranking.safetensors has no tensor '${name}'.`);
    check(
      t.dtype === 'F32' && t.shape.join(',') === shape.join(','),
      `ranking.safetensors: '${name}' is ${t.dtype} [${t.shape}], expected F32 [${shape}].`,
    );
    return t.data as Float32Array;
  };
  for (const e of table.entries) params.set(get(e.name, e.shape), e.offset);
  const tables = config.sparseFeatures.map((f) => get(tableTensorName(f.name), [f.rows, config.embeddingDim]));
  return { config, params, tables };
}

/** The tensors of ranking.safetensors (the inverse of rankingWeightsFromSafetensors). */
export function rankingTensors(
  config: RankingConfig,
  params: Float32Array,
  tables: Float32Array[],
): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const tensors = new Map<string, Tensor>();
  for (const e of rankingParameters(config).entries)
    tensors.set(e.name, { dtype: 'F32', shape: e.shape, data: params.slice(e.offset, e.offset + e.size) });
  config.sparseFeatures.forEach((f, i) =>
    tensors.set(tableTensorName(f.name), { dtype: 'F32', shape: [f.rows, config.embeddingDim], data: tables[i] }),
  );
  return { tensors, metadata: { [RANKING_CONFIG_KEY]: JSON.stringify(config) } };
}
