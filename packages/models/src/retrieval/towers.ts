// The two towers' forward on WebGPU: what the browser runs for the user vector and what the
// trainer runs before its backward. Pure WebGPU (no Node APIs). Each tower is created once for a
// fixed maximum batch; its buffers, bind groups and params uniforms are made then and reused.
// Architecture and legend: see retrieval.ts.
//
// Concatenation and the residual sum are row_gather and row_sum (embedding_bag's WGSL under their
// own names) over activation rows. The user tower keeps its embedding outputs in one region of
// rows of width W, in this order (each part padded to 256-byte boundaries):
//
//   x (B·L)      history inputs: item:id row + recency row, per position
//   o (B·L)      attention output projection a·Woᵀ + bo        (empty bags in the sparse lookup)
//   f (B·Fu)     user and context field embeddings
//   e (B)        the most recent history item (lastItem; none without it)
//   p (B)        pooled history
//   z (B)        h at the most recent valid position (lastOutput; none without it), written by last_row
//
// With blocks, the first block's attention residual is the same row_sum over [x | o]; every other residual sum is a
// row_sum over the two halves of one buffer of its own (EncoderLayer).
//
// so that one embedding_bag writes x, o (zeros), f and e; h = x + o is a row_sum of two rows per
// position over [x | o]; and the MLP input [f_1 … f_Fu | p | e | z] (B, S·W) is a row_gather over
// [f | e | p | z]. The trainer reuses the same lookups backwards (sorted segment sums) and the same row
// layout for the gradients.
import type { Tensor } from '@vireo/core';
import {
  check,
  AttentionPoolOp,
  SelfAttentionOp,
  EmbeddingBagOp,
  L2normOp,
  LastRowOp,
  LayernormOp,
  LinearOp,
  rowGather,
  rowSum,
} from '@vireo/kernels';
import type { BufferRegion, Gpu } from '@vireo/kernels';
import {
  BagBuilder,
  allFields,
  addFieldBag,
  addHistoryBags,
  addLastItemBag,
  attentionLayers,
  encoderBlocks,
  ffnHidden,
  inputSlots,
  layerPrefix,
  checkRetrievalConfig,
  historyWidth,
  ItemEntryCache,
  fieldCounts,
  retrievalParamLayout,
  type FieldValue,
  type RetrievalParamLayout,
  type RetrievalConfig,
  type RetrievalField,
} from './retrieval.ts';

/** A region of a buffer with the buffer always present (what bound ops take). */
export type FloatRegion = BufferRegion & { buffer: GPUBuffer; offset: number; size: number };

/** A region of `count` floats at float offset `offset` of `buffer`. */
export function floatRegion(buffer: GPUBuffer, offset: number, count: number): FloatRegion {
  return { buffer, offset: offset * 4, size: Math.max(4, count * 4) };
}

/** Rows of width W per 256-byte step: region sizes in rows are rounded up to this. */
export function retrievalRowAlign(W: number): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  return 256 / gcd(256, W * 4);
}

const roundUp = (n: number, a: number) => Math.ceil(n / a) * a;

/** The user tower's embedding rows: where x, o, f, e and p start (in rows) and how many there are. */
export interface UserRows {
  x: number;
  o: number;
  f: number;
  e: number;
  p: number;
  z: number;
  /** Rows the sparse lookup writes (x, o, f, e: everything before p). */
  sparse: number;
  total: number;
}

/** The row layout of a user tower for `maxBatch` (see the file comment). */
export function userRows(c: RetrievalConfig, maxBatch: number): UserRows {
  const a = retrievalRowAlign(c.fieldDim);
  const { Fu } = fieldCounts(c);
  const rx = roundUp(maxBatch * c.historyLength, a);
  const rf = roundUp(maxBatch * Fu, a);
  const rp = roundUp(maxBatch, a);
  const re = c.lastItem ? rp : 0;
  const p = 2 * rx + rf + re;
  const rz = c.lastOutput ? rp : 0;
  return { x: 0, o: rx, f: 2 * rx, e: 2 * rx + rf, p, z: p + rp, sparse: p, total: p + rp + rz };
}

/** The item tower's embedding rows for `maxBatch`: B·Fi rows, rounded up. */
export function itemRows(c: RetrievalConfig, maxBatch: number): number {
  return roundUp(maxBatch * fieldCounts(c).Fi, retrievalRowAlign(c.fieldDim));
}

// ------------------------------------------------------------------------------------ weights

/**
 * The model's parameters on the GPU: the flat dense buffer (laid out by retrievalParamLayout)
 * and the shared embedding table (R, W). Create once; the towers bind regions of them.
 * @example
 * const weights = RetrievalWeights.fromTensors(gpu, config, readSafetensors(bytes).tensors);
 * const user = await UserTower.create(gpu, weights, { maxBatch: 1 });
 */
export class RetrievalWeights {
  readonly layout: RetrievalParamLayout;
  private constructor(
    private readonly gpu: Gpu,
    readonly config: RetrievalConfig,
    /** (P) f32: every dense tensor at its layout offset. */
    readonly params: GPUBuffer,
    /** (R, W) f32: the shared embedding table. */
    readonly table: GPUBuffer,
  ) {
    this.layout = retrievalParamLayout(config);
  }

  /** Zeroed buffers for `config` (the trainer initialises them). */
  static create(gpu: Gpu, config: RetrievalConfig): RetrievalWeights {
    checkRetrievalConfig(config);
    const layout = retrievalParamLayout(config);
    const tableBytes = config.tableRows * config.fieldDim * 4;
    check(
      tableBytes <= gpu.limits.maxStorageBufferBindingSize,
      `retrieval: the embedding table is ${tableBytes} bytes, over this adapter's ` +
        `maxStorageBufferBindingSize ` +
        `${gpu.limits.maxStorageBufferBindingSize}: lower --field-dim or the vocabulary sizes.`,
    );
    return new RetrievalWeights(
      gpu,
      config,
      gpu.buffer('retrieval:params', layout.length * 4),
      gpu.buffer('retrieval:table', tableBytes),
    );
  }

  /**
   * Uploads tensors named as `toTensors` writes them: every dense tensor by its name, and each
   * field's rows as `embeddings.<field name>` (rows, W).
   */
  static fromTensors(gpu: Gpu, config: RetrievalConfig, tensors: ReadonlyMap<string, Tensor>): RetrievalWeights {
    const w = RetrievalWeights.create(gpu, config);
    const { params, table } = tensorsToArrays(config, tensors);
    gpu.write(w.params, params);
    gpu.write(w.table, table);
    return w;
  }

  /** Reads the weights back as flat arrays (params in layout order, table (R, W)). */
  async read(): Promise<{ params: Float32Array; table: Float32Array }> {
    const params = await this.gpu.readF32(this.params, this.layout.length);
    const table = await this.gpu.readF32(this.table, this.config.tableRows * this.config.fieldDim);
    return { params, table };
  }

  /** Reads the weights back as named tensors (the retrieval.safetensors contents). */
  async toTensors(): Promise<Map<string, Tensor>> {
    const { params, table } = await this.read();
    return arraysToTensors(this.config, params, table);
  }

  destroy(): void {
    this.params.destroy();
    this.table.destroy();
  }
}

/** Every field of the table, each once, in table order. */
export function tableFields(c: RetrievalConfig): RetrievalField[] {
  const seen = new Map<string, RetrievalField>();
  for (const f of allFields(c)) seen.set(`${f.name}@${f.offset}`, f);
  return [...seen.values()].sort((a, b) => a.offset - b.offset);
}

/** Flat arrays → named tensors: dense tensors by name, the table per field. */
export function arraysToTensors(c: RetrievalConfig, params: Float32Array, table: Float32Array): Map<string, Tensor> {
  const layout = retrievalParamLayout(c);
  const W = c.fieldDim;
  const out = new Map<string, Tensor>();
  for (const e of layout.entries)
    out.set(e.name, { dtype: 'F32', shape: e.shape, data: params.slice(e.offset, e.offset + e.size) });
  for (const f of tableFields(c))
    out.set(`embeddings.${f.name}`, {
      dtype: 'F32',
      shape: [f.rows, W],
      data: table.slice(f.offset * W, (f.offset + f.rows) * W),
    });
  return out;
}

/** Named tensors → flat arrays; a missing tensor or a wrong shape is an error naming it. */
export function tensorsToArrays(
  c: RetrievalConfig,
  tensors: ReadonlyMap<string, Tensor>,
): { params: Float32Array; table: Float32Array } {
  const layout = retrievalParamLayout(c);
  const W = c.fieldDim;
  const params = new Float32Array(layout.length);
  const table = new Float32Array(c.tableRows * W);
  const take = (name: string, shape: number[]): Float32Array => {
    const t = tensors.get(name);
    check(t !== undefined, `retrieval weights: tensor '${name}' is missing.`);
    check(
      t.dtype === 'F32' && t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]),
      `retrieval weights: tensor '${name}' is ${t.dtype} [${t.shape}], expected F32 [${shape}].`,
    );
    return t.data as Float32Array;
  };
  for (const e of layout.entries) params.set(take(e.name, e.shape), e.offset);
  for (const f of tableFields(c)) table.set(take(`embeddings.${f.name}`, [f.rows, W]), f.offset * W);
  return { params, table };
}

function paramRegion(w: RetrievalWeights, name: string): FloatRegion {
  const e = w.layout.byName.get(name);
  check(e !== undefined, `retrieval: no parameter '${name}'.`);
  return floatRegion(w.params, e.offset, e.size);
}

// ------------------------------------------------------------------------------------ item tower

/** Buffers of the item tower's activations (all (maxBatch, ·) f32). */
export interface ItemTowerActivations {
  /** (B, Fi·W): field embeddings, one row of W per (item, field). */
  fields: FloatRegion;
  fc1: FloatRegion; // (B, Hi), after relu
  fc2: FloatRegion; // (B, D)
  out: FloatRegion; // (B, D), unit rows
  norm: FloatRegion; // (B) ‖fc2‖
}

export interface TowerOptions {
  maxBatch: number;
  /** Where the embedding rows go (the trainer lays both towers' rows in one buffer); allocated when not given. */
  rows?: FloatRegion;
}

/** Gradient buffers of the attention layers, for a user tower the trainer runs backwards. */
export interface AttentionGrads {
  /** Self-attention: d(out) (B·L, W) in; dq, dk, dv (B·L, W) out. */
  attention: { dout: FloatRegion; dq: FloatRegion; dk: FloatRegion; dv: FloatRegion };
  /** Pooling: d(pooled) (B, W) in; d(query) (W), d(keys), d(values) (B·L, W) out. */
  pool: { dpooled: FloatRegion; dquery: FloatRegion; dk: FloatRegion; dv: FloatRegion };
  /** lastOutput: d(z) (B, W) in; added into d(h) (B·L, W), which pooling's backward wrote first. */
  lastOutput?: { dy: FloatRegion; dx: FloatRegion };
}

/**
 * The item tower bound once for up to `maxBatch` items: `set` takes the items' field values and
 * uploads their bags; `encode` records the forward; `act.out` then holds (B, D) unit vectors.
 * @example
 * const items = await ItemTower.create(gpu, weights, { maxBatch: 256 });
 * items.set(B, (b, f) => featureOf(ids[b], items.fields[f]));
 * gpu.run((pass) => items.encode(pass));
 */
export class ItemTower {
  /** Items in the batch last `set`. */
  batch = 0;
  /** The bags last set: maxBatch·Fi of them, item-major (empty past `batch`). */
  readonly bags: BagBuilder;
  private constructor(
    readonly config: RetrievalConfig,
    readonly maxBatch: number,
    readonly act: ItemTowerActivations,
    private readonly sparse: EmbeddingBagOp,
    private readonly fc1: LinearOp,
    private readonly fc2: LinearOp,
    private readonly l2: L2normOp,
    private readonly owned: GPUBuffer[],
  ) {
    this.bags = new BagBuilder(itemRows(config, maxBatch), maxBatch * fieldsMaxNnz(config.itemFields));
  }

  get fields(): RetrievalField[] {
    return this.config.itemFields;
  }

  static async create(gpu: Gpu, weights: RetrievalWeights, opts: TowerOptions): Promise<ItemTower> {
    const c = weights.config;
    const B = opts.maxBatch;
    check(Number.isInteger(B) && B > 0, `ItemTower: maxBatch must be a positive integer, got ${B}.`);
    const { Fi } = fieldCounts(c);
    const W = c.fieldDim;
    const rows = itemRows(c, B);
    const owned: GPUBuffer[] = [];
    const own = (label: string, floats: number): FloatRegion => {
      const b = gpu.buffer(`item_tower:${label}`, floats * 4);
      owned.push(b);
      return floatRegion(b, 0, floats);
    };
    if (opts.rows)
      check(
        opts.rows.size >= rows * W * 4,
        `ItemTower: the rows region holds ${opts.rows.size} bytes, needs ${rows * W * 4}.`,
      );
    const act: ItemTowerActivations = {
      fields: opts.rows ?? own('fields', rows * W),
      fc1: own('fc1', B * c.itemHidden),
      fc2: own('fc2', B * c.embeddingDim),
      out: own('out', B * c.embeddingDim),
      norm: own('norm', B),
    };
    const sparse = await EmbeddingBagOp.create(gpu, {
      table: weights.table,
      R: c.tableRows,
      D: W,
      maxBags: rows,
      maxNnz: Math.max(1, B * fieldsMaxNnz(c.itemFields)),
      mode: 'sum',
      out: act.fields,
    });
    const fc1 = await LinearOp.create(
      gpu,
      {
        x: act.fields,
        w: paramRegion(weights, 'item.fc1.weight'),
        b: paramRegion(weights, 'item.fc1.bias'),
        y: act.fc1,
      },
      { M: B, K: Fi * W, N: c.itemHidden },
    );
    const fc2 = await LinearOp.create(
      gpu,
      { x: act.fc1, w: paramRegion(weights, 'item.fc2.weight'), b: paramRegion(weights, 'item.fc2.bias'), y: act.fc2 },
      { M: B, K: c.itemHidden, N: c.embeddingDim },
    );
    const l2 = await L2normOp.create(gpu, { x: act.fc2, maxRows: B, D: c.embeddingDim, y: act.out, norm: act.norm });
    return new ItemTower(c, B, act, sparse, fc1, fc2, l2, owned);
  }

  /** Builds and uploads the bags of `B` items: `value(b, f)` is item b's value of field f. */
  set(B: number, value: (b: number, f: number) => FieldValue): void {
    check(Number.isInteger(B) && B >= 1 && B <= this.maxBatch, `ItemTower: batch ${B} is outside 1..${this.maxBatch}.`);
    const fields = this.config.itemFields;
    const bags = this.bags.reset();
    for (let b = 0; b < B; b++) for (let f = 0; f < fields.length; f++) addFieldBag(bags, fields[f], value(b, f));
    bags.empty(itemRows(this.config, this.maxBatch) - B * fields.length);
    const v = bags.view();
    this.sparse.set(v.indices, v.offsets, v.weights);
    this.batch = B;
  }

  /** Records the forward of the batch last `set`. */
  encode(pass: GPUComputePassEncoder): void {
    const c = this.config;
    const B = this.batch;
    check(B > 0, 'ItemTower: encode() before set().');
    this.sparse.encode(pass);
    this.fc1.encode(pass, { M: B, K: fieldCounts(c).Fi * c.fieldDim, N: c.itemHidden, act: 'relu' });
    this.fc2.encode(pass, { M: B, K: c.itemHidden, N: c.embeddingDim });
    this.l2.encode(pass, B);
  }

  destroy(): void {
    for (const op of [this.sparse, this.fc1, this.fc2, this.l2]) op.destroy();
    for (const b of this.owned) b.destroy();
  }
}

/** The most bag entries one example puts into `fields`. */
export function fieldsMaxNnz(fields: RetrievalField[]): number {
  return fields.reduce((s, f) => s + f.width, 0);
}

/** The most bag entries one user puts in the sparse lookup: L history positions, its fields, its last item. */
export function userNnzPerUser(c: RetrievalConfig): number {
  return historyWidth(c) * (c.historyLength + (c.lastItem ? 1 : 0)) + fieldsMaxNnz(c.userFields);
}

// ------------------------------------------------------------------------------------ user tower

/** A user tower's options: with `historyItemFields`, where history items' field values come from. */
export interface UserTowerOptions extends TowerOptions {
  grads?: AttentionGrads;
  /** Item `itemRow`'s value of item field `field` (the catalogue's features, e.g. items.safetensors). */
  itemFeatures?: (itemRow: number, field: number) => FieldValue;
}

/** One user's input: field values (config.userFields order) and item:id history, oldest first. */
export interface UserInput {
  fields: readonly FieldValue[];
  history: ArrayLike<number>;
  /** Per history entry: non-zero for a positive (click, liked rating); default all positives. */
  historyLabels?: ArrayLike<number>;
  /** The history is history[historyStart .. historyEnd) (default: all of it); the last L count. */
  historyStart?: number;
  historyEnd?: number;
  /** Leave the user:id bag empty (dropout while training; unknown users). */
  dropUserId?: boolean;
}

/** Buffers of the user tower's activations. Row regions of `rows` are (·, W). */
export interface UserTowerActivations {
  rows: FloatRegion; //  the embedding rows x | o | f | p (see userRows)
  x: FloatRegion; //     (B·L, W) history inputs
  o: FloatRegion; //     (B·L, W) attention output projection
  f: FloatRegion; //     (B·Fu, W) user field embeddings
  p: FloatRegion; //     (B, W) pooled history
  z: FloatRegion; //     (B, W) h at the most recent position (lastOutput; empty without)
  q: FloatRegion; //     (B·L, W)
  k: FloatRegion; //     (B·L, W)
  v: FloatRegion; //     (B·L, W)
  a: FloatRegion; //     (B·L, W) attention output
  h: FloatRegion; //     (B·L, W) x + o
  kp: FloatRegion; //    (B·L, W) pooling keys h·Wpkᵀ
  /** The encoder's attention layers, in order (the first reads x; see EncoderLayer). */
  layers: EncoderLayer[];
  /** With blocks: (B·L, W) the last block's output, before the final LN writes h. */
  last: FloatRegion | null;
  input: FloatRegion; // (B, (Fu+1)·W) the MLP input [f | p]
  fc1: FloatRegion; //   (B, Hu) after relu
  fc2: FloatRegion; //   (B, D)
  out: FloatRegion; //   (B, D) unit rows
  norm: FloatRegion; //  (B) ‖fc2‖
  lengths: GPUBuffer; // (B) u32 history length per user
}

/**
 * One attention layer of the history encoder (docs/ARCHITECTURE.md §4). Without blocks: the one layer, input x,
 * q/k/v from x, mid = h = x + o. With blocks: n1 = LN₁(input), q/k/v from n1, mid = input + o, n2 = LN₂(mid),
 * f1 = relu(n2·W₁ᵀ + b₁), f = f1·W₂ᵀ + b₂, output = mid + f (the next layer's input, or `last`).
 */
export interface EncoderLayer {
  input: FloatRegion; // (B·L, W)
  n1: FloatRegion | null;
  q: FloatRegion;
  k: FloatRegion;
  v: FloatRegion;
  a: FloatRegion;
  o: FloatRegion;
  mid: FloatRegion;
  n2: FloatRegion | null;
  f1: FloatRegion | null; // (B·L, F)
  f: FloatRegion | null;
  output: FloatRegion;
}

/** The ops of one encoder layer (blocks only: ln1, ln2, ffn1, ffn2, ffnResidual). */
export interface EncoderLayerOps {
  ln1: LayernormOp | null;
  q: LinearOp;
  k: LinearOp;
  v: LinearOp;
  attention: SelfAttentionOp;
  out: LinearOp;
  residual: EmbeddingBagOp;
  ln2: LayernormOp | null;
  ffn1: LinearOp | null;
  ffn2: LinearOp | null;
  ffnResidual: EmbeddingBagOp | null;
}

/** The fixed lookups of a user tower (their indices, for the trainer's backward). */
export interface UserGathers {
  /** h = x + o: offsets (B·L+1) and indices (2·B·L) into the rows [x | o]. */
  residual: { indices: Uint32Array; offsets: Uint32Array; rows: number };
  /** [f | p] → input: one index per output row into the rows [f | p]. */
  input: { indices: Uint32Array; rows: number };
}

/**
 * The user tower bound once for up to `maxBatch` users (the browser: 1): `set` builds the bags of
 * a batch of users and uploads them, `encode` records the forward, `act.out` then holds (B, D)
 * unit vectors.
 * @example
 * const user = await UserTower.create(gpu, weights, { maxBatch: 1 });
 * user.set(1, () => ({ fields: [userId, hour, device], history: recentItemIds }));
 * gpu.run((pass) => user.encode(pass));
 * const u = await gpu.readF32(user.act.out.buffer, D);
 */
export class UserTower {
  /** Users in the batch last `set`. */
  batch = 0;
  /** The sparse bags last set, one per row of x | o | f (empty past `batch`). */
  readonly bags: BagBuilder;
  private readonly lengthsHost: Uint32Array;
  private constructor(
    private readonly gpu: Gpu,
    readonly config: RetrievalConfig,
    readonly maxBatch: number,
    readonly layout: UserRows,
    readonly act: UserTowerActivations,
    readonly gathers: UserGathers,
    private readonly ops: {
      sparse: EmbeddingBagOp;
      layers: EncoderLayerOps[];
      /** With blocks: the final LN, `last` → h. */
      lnFinal: LayernormOp | null;
      poolKey: LinearOp;
      pool: AttentionPoolOp;
      lastRow: LastRowOp | null;
      input: EmbeddingBagOp;
      fc1: LinearOp;
      fc2: LinearOp;
      l2: L2normOp;
    },
    private readonly owned: GPUBuffer[],
    private readonly items: ItemEntryCache | null,
  ) {
    this.bags = new BagBuilder(layout.sparse, Math.max(1, maxBatch * userNnzPerUser(config)));
    this.lengthsHost = new Uint32Array(maxBatch);
  }

  static async create(gpu: Gpu, weights: RetrievalWeights, opts: UserTowerOptions): Promise<UserTower> {
    const c = weights.config;
    const B = opts.maxBatch;
    check(Number.isInteger(B) && B > 0, `UserTower: maxBatch must be a positive integer, got ${B}.`);
    check(
      !c.historyItemFields || opts.itemFeatures !== undefined,
      'UserTower: this model embeds history items by their ' +
        'features: give `itemFeatures` (item row, item field → value).',
    );
    const { Fu } = fieldCounts(c);
    const S = inputSlots(c);
    const { fieldDim: W, historyLength: L, heads: H, userHidden: Hu, embeddingDim: D } = c;
    const lay = userRows(c, B);
    const owned: GPUBuffer[] = [];
    const own = (label: string, floats: number): FloatRegion => {
      const b = gpu.buffer(`user_tower:${label}`, floats * 4);
      owned.push(b);
      return floatRegion(b, 0, floats);
    };
    if (opts.rows)
      check(
        opts.rows.size >= lay.total * W * 4,
        `UserTower: the rows region holds ${opts.rows.size} bytes, needs ${lay.total * W * 4}.`,
      );
    const rows = opts.rows ?? own('rows', lay.total * W);
    const sub = (row: number, count: number): FloatRegion => ({
      buffer: rows.buffer,
      offset: rows.offset + row * W * 4,
      size: Math.max(4, count * W * 4),
    });
    const BL = B * L;
    const lengths = gpu.buffer('user_tower:lengths', B * 4);
    owned.push(lengths);
    const act: UserTowerActivations = {
      rows,
      x: sub(lay.x, BL),
      o: sub(lay.o, BL),
      f: sub(lay.f, B * Fu),
      p: sub(lay.p, B),
      z: sub(lay.z, c.lastOutput ? B : 0),
      q: own('q', BL * W),
      k: own('k', BL * W),
      v: own('v', BL * W),
      a: own('a', BL * W),
      h: own('h', BL * W),
      kp: own('kp', BL * W),
      layers: [],
      last: encoderBlocks(c) > 0 ? own('last', BL * W) : null,
      input: own('input', B * S * W),
      fc1: own('fc1', B * Hu),
      fc2: own('fc2', B * D),
      out: own('out', B * D),
      norm: own('norm', B),
      lengths,
    };
    const noBias = own('no_bias', 1);
    const p = (name: string) => paramRegion(weights, name);
    const sparse = await EmbeddingBagOp.create(gpu, {
      table: weights.table,
      R: c.tableRows,
      D: W,
      maxBags: lay.sparse,
      maxNnz: Math.max(1, B * userNnzPerUser(c)),
      mode: 'sum',
      out: sub(0, lay.sparse),
    });
    const lin = (x: FloatRegion, w: string, b: FloatRegion, y: FloatRegion, M: number, K: number, N: number) =>
      LinearOp.create(gpu, { x, w: p(w), b, y }, { M, K, N });
    // The encoder's layers (see EncoderLayer). Each residual sum is a row_sum over a pair of row regions of one buffer:
    // [x | o] of the embedding rows for the first layer's attention, [input | o] and [mid | f] of its own buffers for
    // the others; each half is `half` rows, so that the second starts 256-byte aligned.
    const N = encoderBlocks(c);
    const F = ffnHidden(c);
    const nl = attentionLayers(c);
    const half = roundUp(BL, retrievalRowAlign(W));
    const pairIdx = new Uint32Array(2 * BL);
    const pairOff = new Uint32Array(BL + 1);
    for (let r = 0; r < BL; r++) {
      pairIdx[2 * r] = r;
      pairIdx[2 * r + 1] = half + r;
      pairOff[r + 1] = 2 * r + 2;
    }
    const pair = (label: string) => {
      const all = own(label, 2 * half * W);
      return { all, first: floatRegion(all.buffer, 0, BL * W), second: floatRegion(all.buffer, half * W, BL * W) };
    };
    const rowSumOp = async (table: FloatRegion, R: number, out: FloatRegion, idx: Uint32Array, off: Uint32Array) => {
      const op = await EmbeddingBagOp.create(gpu, {
        table,
        R,
        D: W,
        maxBags: BL,
        maxNnz: 2 * BL,
        mode: 'sum',
        out,
        kernel: rowSum,
      });
      op.set(idx, off, null);
      return op;
    };
    // h = x + o (the first layer): bag (b, l) = rows {x + bl, o + bl} of the [x | o] rows.
    const resIdx = new Uint32Array(2 * BL);
    const resOff = new Uint32Array(BL + 1);
    for (let r = 0; r < BL; r++) {
      resIdx[2 * r] = lay.x + r;
      resIdx[2 * r + 1] = lay.o + r;
      resOff[r + 1] = 2 * r + 2;
    }
    const inputs = Array.from({ length: nl }, (_, i) => (i === 0 ? null : pair(`layer${i}.in`)));
    const layerOps: EncoderLayerOps[] = [];
    for (let i = 0; i < nl; i++) {
      const P = layerPrefix(i);
      const ap = inputs[i];
      const fp = N > 0 ? pair(`layer${i}.mid`) : null;
      const l: EncoderLayer = {
        input: ap ? ap.first : act.x,
        n1: N > 0 ? own(`layer${i}.n1`, BL * W) : null,
        q: i === 0 ? act.q : own(`layer${i}.q`, BL * W),
        k: i === 0 ? act.k : own(`layer${i}.k`, BL * W),
        v: i === 0 ? act.v : own(`layer${i}.v`, BL * W),
        a: i === 0 ? act.a : own(`layer${i}.a`, BL * W),
        o: ap ? ap.second : act.o,
        mid: fp ? fp.first : act.h,
        n2: N > 0 ? own(`layer${i}.n2`, BL * W) : null,
        f1: N > 0 ? own(`layer${i}.f1`, BL * F) : null,
        f: fp ? fp.second : null,
        output: N === 0 ? act.h : i + 1 < nl ? inputs[i + 1]!.first : act.last!,
      };
      act.layers.push(l);
      const src = l.n1 ?? l.input;
      const ln = (x: FloatRegion, name: string, y: FloatRegion) =>
        LayernormOp.create(gpu, { x, gamma: p(`${name}.gamma`), beta: p(`${name}.beta`), maxRows: BL, D: W, y });
      layerOps.push({
        ln1: l.n1 ? await ln(l.input, `${P}.ln1`, l.n1) : null,
        q: await lin(src, `${P}.q.weight`, noBias, l.q, BL, W, W),
        k: await lin(src, `${P}.k.weight`, noBias, l.k, BL, W, W),
        v: await lin(src, `${P}.v.weight`, noBias, l.v, BL, W, W),
        attention: await SelfAttentionOp.create(
          gpu,
          { B, L, D: W, H, causal: c.causal === true },
          { q: l.q, k: l.k, v: l.v, lengths, out: l.a, ...opts.grads?.attention },
        ),
        out: await lin(l.a, `${P}.out.weight`, p(`${P}.out.bias`), l.o, BL, W, W),
        residual: ap
          ? await rowSumOp(ap.all, 2 * half, l.mid, pairIdx, pairOff)
          : await rowSumOp(sub(lay.x, lay.f - lay.x), lay.f - lay.x, l.mid, resIdx, resOff),
        ln2: l.n2 ? await ln(l.mid, `${P}.ln2`, l.n2) : null,
        ffn1: l.f1 ? await lin(l.n2!, `${P}.ffn1.weight`, p(`${P}.ffn1.bias`), l.f1, BL, W, F) : null,
        ffn2: l.f ? await lin(l.f1!, `${P}.ffn2.weight`, p(`${P}.ffn2.bias`), l.f, BL, F, W) : null,
        ffnResidual: fp ? await rowSumOp(fp.all, 2 * half, l.output, pairIdx, pairOff) : null,
      });
    }
    const lnFinal = act.last
      ? await LayernormOp.create(gpu, {
          x: act.last,
          gamma: p('history.ln.gamma'),
          beta: p('history.ln.beta'),
          maxRows: BL,
          D: W,
          y: act.h,
        })
      : null;
    const poolKey = await lin(act.h, 'history.pool.key.weight', noBias, act.kp, BL, W, W);
    const pool = await AttentionPoolOp.create(
      gpu,
      { B, L, D: W, H },
      { query: p('history.pool.query'), k: act.kp, v: act.h, lengths, pooled: act.p, ...opts.grads?.pool },
    );
    const lastRow = c.lastOutput
      ? await LastRowOp.create(gpu, { B, L, W }, { x: act.h, lengths, y: act.z, ...opts.grads?.lastOutput })
      : null;
    // input row (b, j) = f row b·Fu + j for j < Fu, then p row b, then (lastItem) e row b, then (lastOutput) z row
    // b: rows of [f | e | p | z].
    const inIdx = new Uint32Array(B * S);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < Fu; j++) inIdx[b * S + j] = b * Fu + j;
      inIdx[b * S + Fu] = lay.p - lay.f + b;
      if (c.lastItem) inIdx[b * S + Fu + 1] = lay.e - lay.f + b;
      if (c.lastOutput) inIdx[b * S + S - 1] = lay.z - lay.f + b;
    }
    const inputRows = lay.total - lay.f;
    const input = await EmbeddingBagOp.create(gpu, {
      table: sub(lay.f, inputRows),
      R: inputRows,
      D: W,
      maxBags: inIdx.length,
      maxNnz: inIdx.length,
      mode: 'sum',
      out: act.input,
      kernel: rowGather,
    });
    input.set(inIdx, null, null);
    const fc1 = await lin(act.input, 'user.fc1.weight', p('user.fc1.bias'), act.fc1, B, S * W, Hu);
    const fc2 = await lin(act.fc1, 'user.fc2.weight', p('user.fc2.bias'), act.fc2, B, Hu, D);
    const l2 = await L2normOp.create(gpu, { x: act.fc2, maxRows: B, D, y: act.out, norm: act.norm });
    const gathers: UserGathers = {
      residual: { indices: resIdx, offsets: resOff, rows: lay.f - lay.x },
      input: { indices: inIdx, rows: inputRows },
    };
    const items = opts.itemFeatures ? new ItemEntryCache(c, opts.itemFeatures) : null;
    return new UserTower(
      gpu,
      c,
      B,
      lay,
      act,
      gathers,
      { sparse, layers: layerOps, lnFinal, poolKey, pool, lastRow, input, fc1, fc2, l2 },
      owned,
      items,
    );
  }

  /** Builds and uploads the bags and history lengths of `B` users: `user(b)` is user b's input. */
  set(B: number, user: (b: number) => UserInput): void {
    check(Number.isInteger(B) && B >= 1 && B <= this.maxBatch, `UserTower: batch ${B} is outside 1..${this.maxBatch}.`);
    const c = this.config;
    const L = c.historyLength;
    const lay = this.layout;
    const bags = this.bags.reset();
    const inputs = Array.from({ length: B }, (_, b) => user(b));
    const fields = c.userFields;
    this.lengthsHost.fill(0);
    inputs.forEach((u, b) => {
      check(
        u.fields.length === fields.length,
        `UserTower: user ${b} has ${u.fields.length} field values, ` +
          `expected ${fields.length} (${fields.map((f) => f.name).join(', ')}).`,
      );
      this.lengthsHost[b] = addHistoryBags(
        bags,
        c,
        u.history,
        u.historyStart ?? 0,
        u.historyEnd ?? u.history.length,
        this.items?.append,
        u.historyLabels,
      );
    });
    bags.empty(lay.o - B * L); // the rest of x, and o (written by the attention)
    bags.empty(lay.f - lay.o);
    for (const u of inputs) {
      for (let j = 0; j < fields.length; j++)
        addFieldBag(bags, fields[j], u.fields[j], j === 0 && fields[j].name === 'user:id' && u.dropUserId === true);
    }
    if (c.lastItem) {
      bags.empty(lay.e - bags.bags);
      for (const u of inputs)
        addLastItemBag(bags, c, u.history, u.historyStart ?? 0, u.historyEnd ?? u.history.length, this.items?.append);
    }
    bags.empty(lay.sparse - bags.bags);
    const v = bags.view();
    this.ops.sparse.set(v.indices, v.offsets, v.weights);
    this.gpu.write(this.act.lengths, this.lengthsHost);
    this.batch = B;
  }

  /** The history lengths of the batch last set. */
  get lengths(): Uint32Array {
    return this.lengthsHost.subarray(0, this.batch);
  }

  /** Records the forward of the batch last `set`. */
  encode(pass: GPUComputePassEncoder): void {
    const B = this.batch;
    check(B > 0, 'UserTower: encode() before set().');
    const c = this.config;
    const { fieldDim: W, historyLength: L } = c;
    const BL = B * L;
    const o = this.ops;
    const F = ffnHidden(c);
    o.sparse.encode(pass);
    for (const l of o.layers) {
      l.ln1?.encode(pass, BL);
      l.q.encode(pass, { M: BL, K: W, N: W, hasBias: false });
      l.k.encode(pass, { M: BL, K: W, N: W, hasBias: false });
      l.v.encode(pass, { M: BL, K: W, N: W, hasBias: false });
      l.attention.encodeForward(pass, B);
      l.out.encode(pass, { M: BL, K: W, N: W });
      l.residual.encode(pass);
      l.ln2?.encode(pass, BL);
      l.ffn1?.encode(pass, { M: BL, K: W, N: F, act: 'relu' });
      l.ffn2?.encode(pass, { M: BL, K: F, N: W });
      l.ffnResidual?.encode(pass);
    }
    o.lnFinal?.encode(pass, BL);
    o.poolKey.encode(pass, { M: BL, K: W, N: W, hasBias: false });
    o.pool.encodeForward(pass, B);
    o.lastRow?.encodeForward(pass, B);
    o.input.encode(pass);
    o.fc1.encode(pass, { M: B, K: inputSlots(c) * W, N: c.userHidden, act: 'relu' });
    o.fc2.encode(pass, { M: B, K: c.userHidden, N: c.embeddingDim });
    o.l2.encode(pass, B);
  }

  /** The ops whose backward the trainer records: self-attention and pooling (with their saved stats), last_row. */
  get attentionOps(): { attention: SelfAttentionOp; pool: AttentionPoolOp; lastRow: LastRowOp | null } {
    return { attention: this.ops.layers[0].attention, pool: this.ops.pool, lastRow: this.ops.lastRow };
  }

  /** The encoder's ops, for the trainer's backward: every layer's (their layer norms' saved stats) and the final LN. */
  get encoderOps(): { layers: EncoderLayerOps[]; lnFinal: LayernormOp | null } {
    return { layers: this.ops.layers, lnFinal: this.ops.lnFinal };
  }

  destroy(): void {
    const { layers, ...rest } = this.ops;
    for (const l of layers) for (const op of Object.values(l)) op?.destroy();
    for (const op of Object.values(rest)) op?.destroy();
    for (const b of this.owned) b.destroy();
  }
}
