// One training step of the two-tower retrieval model on the GPU: the towers' own forward
// (runtime-web), the in-batch softmax loss, the backward walking the forward in reverse, then
// AdamW on the dense parameters and row-wise Adagrad on the table rows the batch touched. No
// autograd tape: each layer's backward is bound once to the mirror of its activations.
//
// Legend: B batch (fixed: every step is full), L history length, W field width, H heads,
// Fi / Fu item / user fields, D output dim, Hi / Hu hidden widths, R table rows, U unique table
// rows in a batch, P dense parameters.
//
// Both towers write their embedding rows into ONE buffer `rows` (and their gradients into its
// mirror `dRows`), item rows first:
//
//   rows  [ item fields (B·Fi) | x (B·L) | o (B·L) | f (B·Fu) | e (B, lastItem) | p (B) | z (B, lastOutput)
//         | t (B·L, nextItem) ]
//
// so that the gradients of every lookup into the shared table — item fields, history, user and
// context fields — come back through ONE sorted segment sum over the concatenated bags: one
// gradient per unique row, which is what row-wise Adagrad needs (the history and the item tower
// share the item:id rows).
//
//   forward   item tower → v (B,D);  user tower → u (B,D)
//   loss      S = u·vᵀ, softmax_xent (τ, logQ, accidental hits) → dU, dV
//             nextItem: t = the next item's rows at every position (the last one's is the batch's positive);
//             next_item_xent(h, t) over blocks of positions → dh (added after pooling's), dt
//   backward  user: l2norm⁻¹, fc2⁻¹, fc1⁻¹ → d[f|e|p|z] (input lookup⁻¹), pool⁻¹ → dkp, dh,
//                   poolKey⁻¹ (dh += dkp·Wpk), last_row⁻¹ (dh += dz at the newest position),
//                   residual lookup⁻¹ → dx, do, out⁻¹ → da,
//                   attention⁻¹ → dq, dk, dv, q/k/v⁻¹ (dx += …)
//                   blocks: the residual stream's gradient is dx itself: final LN⁻¹ writes it, then per block in
//                   reverse ffn2⁻¹, ffn1⁻¹, LN₂⁻¹ (dx += …), out⁻¹, attention⁻¹, q/k/v⁻¹ → dn1, LN₁⁻¹ (dx += …)
//             item: l2norm⁻¹, fc2⁻¹, fc1⁻¹ → d(item fields)
//             table: embedding_bag⁻¹ over all bags (t's included) → gradRows (U, W)
//   update    AdamW over the dense buffer (decay on weights only); row-wise Adagrad on U rows
//             (a second submission, after the loss was read and found finite).
import { FIRST_INDEX, OOV_INDEX, PAD_INDEX } from '@vireo/core';
import {
  AdamWOp,
  EmbeddingBagOp,
  LinearBackwardOp,
  NextItemXentOp,
  NO_NEXT_ITEM,
  RowwiseAdagradOp,
  SoftmaxXentOp,
  EmbeddingBagBackwardOp,
  L2normBackwardOp,
  LayernormBackwardOp,
  type LayernormOp,
  type Gpu,
} from '@vireo/kernels';
import {
  ItemTower,
  RetrievalWeights,
  UserTower,
  fieldsMaxNnz,
  floatRegion,
  itemRows,
  userNnzPerUser,
  userRows,
  type FloatRegion,
  type ItemTower as ItemTowerType,
  type UserInput,
} from './towers.ts';
import {
  BagBuilder,
  ItemEntryCache,
  encoderBlocks,
  ffnHidden,
  fieldCounts,
  layerPrefix,
  historyWidth,
  inputSlots,
  itemIdField,
  type FieldValue,
  type RetrievalConfig,
} from './retrieval.ts';

/**
 * Rows per block of the next-item loss: a position's negatives are the next items of the other positions in its block
 * (whole users, about 256 positions: the loss costs B·L·M·W multiply-adds).
 */
export function nextItemBlock(L: number, B: number): number {
  return L * Math.max(1, Math.min(B, Math.floor(256 / L)));
}

/** The next-item objective's buffers and ops (see the file comment), bound once. */
interface NextItemState {
  weight: number;
  /** t's rows: the lookup of every position's next item. */
  lookup: EmbeddingBagOp;
  xent: NextItemXentOp;
  bags: BagBuilder;
  /** (B·L) u32 ids, NO_NEXT_ITEM where a position has none; (B·L) logQ; (B·L) losses. */
  ids: Uint32Array;
  logq: Float32Array;
  buffers: { ids: GPUBuffer; logq: GPUBuffer; loss: GPUBuffer };
  /** Per user of the last `setUsers`: its history's item:id indices in the window, oldest first. */
  windows: number[][];
  items: ItemEntryCache | null;
  itemLogQ: ArrayLike<number> | null;
  /** Positions with a next item in the last `run`. */
  count: number;
}

/** One transformer block's backward (blocks; see EncoderLayer in towers.ts), bound once. */
interface BlockBackward {
  ffn2: LinearBackwardOp;
  ffn1: LinearBackwardOp;
  ln2: LayernormBackwardOp;
  out: LinearBackwardOp;
  q: LinearBackwardOp;
  k: LinearBackwardOp;
  v: LinearBackwardOp;
  ln1: LayernormBackwardOp;
}

/** Optimizer settings. */
export interface RetrievalHyper {
  /** AdamW learning rate of the dense layers. */
  lr: number;
  weightDecay: number;
  /** Row-wise Adagrad learning rate of the embedding table. */
  tableLr: number;
  /** Softmax temperature τ. */
  temperature: number;
}

/**
 * The next-item loss's temperature: raw dot products of the encoder's output and the item's rows (SASRec), which are
 * not unit length (the two-tower τ is for cosines).
 */
const NEXT_ITEM_TAU = 1;

/** What one step needs on top of the towers' inputs. */
export interface StepBatch {
  /** (B) log sampling probability of each positive item (logQ correction). */
  logq: Float32Array;
  /** (B) item ids, for the accidental-hit mask. */
  ids: Uint32Array;
}

/**
 * The training state bound once for batch size B: weights, gradients, optimizer moments, both
 * towers over shared row buffers, and every backward op.
 * @example
 * const model = await RetrievalTraining.create(gpu, config, 256, hyper, (row, f) => reader.item(row, f));
 * model.item.set(B, itemValue); model.user.set(B, userInput);
 * model.run({ logq, ids }); const loss = await model.readLoss(); model.update();
 */
export class RetrievalTraining {
  /** Adam's t: steps taken. */
  step = 0;
  /** Unique table rows of the last `run`, for `update`. */
  private pendingRows = 0;
  private constructor(
    private readonly gpu: Gpu,
    readonly config: RetrievalConfig,
    readonly batch: number,
    readonly hyper: RetrievalHyper,
    readonly weights: RetrievalWeights,
    readonly item: ItemTowerType,
    readonly user: UserTower,
    /** (P) gradients, the dense layout. */
    readonly grads: GPUBuffer,
    /** (P) Adam moments. */
    readonly moments: { m: GPUBuffer; v: GPUBuffer },
    /** (R) row-wise Adagrad accumulators. */
    readonly tableAcc: GPUBuffer,
    private readonly io: { logq: GPUBuffer; ids: GPUBuffer; loss: GPUBuffer },
    private readonly back: {
      xent: SoftmaxXentOp;
      userNorm: L2normBackwardOp;
      userFc2: LinearBackwardOp;
      userFc1: LinearBackwardOp;
      input: EmbeddingBagBackwardOp;
      poolKey: LinearBackwardOp;
      /** Without blocks: the one attention layer's residual, out, q, k, v. */
      residual: EmbeddingBagBackwardOp | null;
      out: LinearBackwardOp | null;
      q: LinearBackwardOp | null;
      k: LinearBackwardOp | null;
      v: LinearBackwardOp | null;
      /** With blocks: the final LN, then every block (in forward order). */
      lnFinal: LayernormBackwardOp | null;
      blocks: BlockBackward[];
      itemNorm: L2normBackwardOp;
      itemFc2: LinearBackwardOp;
      itemFc1: LinearBackwardOp;
      table: EmbeddingBagBackwardOp;
      adam: AdamWOp;
      adagrad: RowwiseAdagradOp;
    },
    private readonly owned: GPUBuffer[],
    private readonly next: NextItemState | null,
  ) {}

  static async create(
    gpu: Gpu,
    config: RetrievalConfig,
    batch: number,
    hyper: RetrievalHyper,
    itemFeatures: (itemRow: number, field: number) => FieldValue,
    weights?: RetrievalWeights,
    /** nextItem: log sampling probability of each item row (its logQ as a next item); absent: uniform. */
    itemLogQ?: ArrayLike<number>,
  ): Promise<RetrievalTraining> {
    const B = batch;
    const { fieldDim: W, historyLength: L, embeddingDim: D, itemHidden: Hi, userHidden: Hu } = config;
    const { Fi, Fu } = fieldCounts(config);
    const S = inputSlots(config);
    const BL = B * L;
    const iRows = itemRows(config, B);
    const uLay = userRows(config, B);
    // The backward's row bookkeeping needs every region exactly B·(count) rows (no padding).
    if (
      iRows !== B * Fi ||
      uLay.o !== BL ||
      uLay.e - uLay.f !== B * Fu ||
      uLay.p - uLay.e !== (config.lastItem ? B : 0) ||
      uLay.total - uLay.p !== (config.lastOutput ? 2 * B : B)
    ) {
      throw new Error(
        `retrieval training: batch ${B} and field width ${W} leave padding between row ` +
          `regions; use a batch that is a multiple of 8 and a width that is a multiple of 8.`,
      );
    }
    const nextWeight = config.nextItem ?? 0;
    const nextRows = nextWeight > 0 ? BL : 0;
    const owned: GPUBuffer[] = [];
    const buf = (label: string, floats: number) => {
      const b = gpu.buffer(`retrieval.train:${label}`, Math.max(1, floats) * 4);
      owned.push(b);
      return b;
    };
    const all = (b: GPUBuffer) => floatRegion(b, 0, b.size / 4);
    const w = weights ?? RetrievalWeights.create(gpu, config);
    const P = w.layout.length;
    const totalRows = iRows + uLay.total + nextRows;
    const tBase = iRows + uLay.total; // the next items' rows t
    const rows = buf('rows', totalRows * W);
    const dRows = buf('d_rows', totalRows * W);
    const rowsAt = (b: GPUBuffer, first: number, count: number) => floatRegion(b, first * W, count * W);
    const uBase = iRows; // the user tower's rows start after the item fields
    const d = {
      p: rowsAt(dRows, uBase + uLay.p, B),
      x: rowsAt(dRows, uBase + uLay.x, BL),
      o: rowsAt(dRows, uBase + uLay.o, BL),
      items: rowsAt(dRows, 0, B * Fi),
      kp: all(buf('d_kp', BL * W)),
      h: all(buf('d_h', BL * W)),
      a: all(buf('d_a', BL * W)),
      q: all(buf('d_q', BL * W)),
      k: all(buf('d_k', BL * W)),
      v: all(buf('d_v', BL * W)),
      input: all(buf('d_input', B * S * W)),
      userFc1: all(buf('d_user_fc1', B * Hu)),
      userFc2: all(buf('d_user_fc2', B * D)),
      itemFc1: all(buf('d_item_fc1', B * Hi)),
      itemFc2: all(buf('d_item_fc2', B * D)),
      u: all(buf('d_u', B * D)),
      i: all(buf('d_i', B * D)),
    };
    const grads = buf('grads', P);
    const g = (name: string): FloatRegion => {
      const e = w.layout.byName.get(name)!;
      return floatRegion(grads, e.offset, e.size);
    };
    const item = await ItemTower.create(gpu, w, { maxBatch: B, rows: rowsAt(rows, 0, iRows) });
    const user = await UserTower.create(gpu, w, {
      maxBatch: B,
      itemFeatures,
      rows: rowsAt(rows, uBase, uLay.total),
      grads: {
        attention: { dout: d.a, dq: d.q, dk: d.k, dv: d.v },
        pool: { dpooled: d.p, dquery: g('history.pool.query'), dk: d.kp, dv: d.h },
        ...(config.lastOutput ? { lastOutput: { dy: rowsAt(dRows, uBase + uLay.z, B), dx: d.h } } : {}),
      },
    });
    const io = { logq: buf('logq', B), ids: buf('ids', B), loss: buf('loss', B) };
    const lse = buf('lse', B);
    const p = (name: string): FloatRegion => {
      const e = w.layout.byName.get(name)!;
      return floatRegion(w.params, e.offset, e.size);
    };
    const lin = (
      x: FloatRegion,
      name: string,
      y: FloatRegion | undefined,
      dy: FloatRegion,
      dx: FloatRegion | undefined,
      bias: boolean,
      M: number,
      K: number,
      N: number,
    ) =>
      LinearBackwardOp.create(
        gpu,
        { x, w: p(`${name}.weight`), y, dy, dx, dw: g(`${name}.weight`), db: bias ? g(`${name}.bias`) : undefined },
        { M, K, N },
      );
    const ua = user.act;
    const ia = item.act;
    const xent = await SoftmaxXentOp.create(
      gpu,
      { u: ua.out, v: ia.out, logq: io.logq, ids: io.ids, loss: io.loss, lse, du: d.u, dv: d.i },
      { B, D },
    );
    const userNorm = await L2normBackwardOp.create(gpu, {
      x: ua.fc2,
      norm: ua.norm,
      dy: d.u,
      dx: d.userFc2,
      maxRows: B,
      D,
    });
    const userFc2 = await lin(ua.fc1, 'user.fc2', ua.fc2, d.userFc2, d.userFc1, true, B, Hu, D);
    const userFc1 = await lin(ua.input, 'user.fc1', ua.fc1, d.userFc1, d.input, true, B, S * W, Hu);
    // d[f | e | p]: the input lookup touches every row of [f | e | p] once, so its gradient rows, sorted
    // by row, are exactly d[f | e | p] in place.
    const gi = user.gathers.input;
    const input = await EmbeddingBagBackwardOp.create(gpu, {
      dy: d.input,
      R: gi.rows,
      D: W,
      maxBags: gi.indices.length,
      maxNnz: gi.indices.length,
      gradRows: rowsAt(dRows, uBase + uLay.f, uLay.total - uLay.f),
    });
    input.set(gi.indices, null, null);
    const poolKey = await lin(ua.h, 'history.pool.key', undefined, d.kp, d.h, false, BL, W, W);
    const N = encoderBlocks(config);
    const F = ffnHidden(config);
    let residual: EmbeddingBagBackwardOp | null = null;
    let out: LinearBackwardOp | null = null;
    let q: LinearBackwardOp | null = null;
    let k: LinearBackwardOp | null = null;
    let v: LinearBackwardOp | null = null;
    let lnFinal: LayernormBackwardOp | null = null;
    const blocks: BlockBackward[] = [];
    if (N === 0) {
      const gr = user.gathers.residual;
      residual = await EmbeddingBagBackwardOp.create(gpu, {
        dy: d.h,
        R: gr.rows,
        D: W,
        maxBags: BL,
        maxNnz: 2 * BL,
        gradRows: rowsAt(dRows, uBase + uLay.x, 2 * BL),
      });
      residual.set(gr.indices, gr.offsets, null);
      out = await lin(ua.a, 'history.out', undefined, d.o, d.a, true, BL, W, W);
      q = await lin(ua.x, 'history.q', undefined, d.q, d.x, false, BL, W, W);
      k = await lin(ua.x, 'history.k', undefined, d.k, d.x, false, BL, W, W);
      v = await lin(ua.x, 'history.v', undefined, d.v, d.x, false, BL, W, W);
    } else {
      // The residual stream's gradient lives in d(x): the final LN writes it, each block's sublayers add theirs
      // (accumulate), and what is left after the first block is d(x), in place for the table's backward.
      const stream = d.x;
      const dn1 = all(buf('d_n1', BL * W));
      const dn2 = all(buf('d_n2', BL * W));
      const df1 = all(buf('d_f1', BL * F));
      const enc = user.encoderOps;
      const lnBack = (x: FloatRegion, name: string, stats: LayernormOp, dy: FloatRegion) =>
        LayernormBackwardOp.create(gpu, {
          x,
          gamma: p(`${name}.gamma`),
          mean: stats.mean,
          rstd: stats.rstd,
          dy,
          dx: stream,
          dgamma: g(`${name}.gamma`),
          dbeta: g(`${name}.beta`),
          maxRows: BL,
          D: W,
        });
      lnFinal = await lnBack(ua.last!, 'history.ln', enc.lnFinal!, d.h);
      for (let i = 0; i < enc.layers.length; i++) {
        const P = layerPrefix(i);
        const l = ua.layers[i];
        const ops = enc.layers[i];
        blocks.push({
          ffn2: await lin(l.f1!, `${P}.ffn2`, undefined, stream, df1, true, BL, F, W),
          ffn1: await lin(l.n2!, `${P}.ffn1`, l.f1!, df1, dn2, true, BL, W, F),
          ln2: await lnBack(l.mid, `${P}.ln2`, ops.ln2!, dn2),
          out: await lin(l.a, `${P}.out`, undefined, stream, d.a, true, BL, W, W),
          q: await lin(l.n1!, `${P}.q`, undefined, d.q, dn1, false, BL, W, W),
          k: await lin(l.n1!, `${P}.k`, undefined, d.k, dn1, false, BL, W, W),
          v: await lin(l.n1!, `${P}.v`, undefined, d.v, dn1, false, BL, W, W),
          ln1: await lnBack(l.input, `${P}.ln1`, ops.ln1!, dn1),
        });
      }
    }
    const itemNorm = await L2normBackwardOp.create(gpu, {
      x: ia.fc2,
      norm: ia.norm,
      dy: d.i,
      dx: d.itemFc2,
      maxRows: B,
      D,
    });
    const itemFc2 = await lin(ia.fc1, 'item.fc2', ia.fc2, d.itemFc2, d.itemFc1, true, B, Hi, D);
    const itemFc1 = await lin(ia.fields, 'item.fc1', ia.fc1, d.itemFc1, d.items, true, B, Fi * W, Hi);
    const itemWidth = historyWidth(config) - 2; // a history position's entries without recency and label
    const tableNnz = B * (fieldsMaxNnz(config.itemFields) + userNnzPerUser(config)) + nextRows * itemWidth;
    // The bags the table's backward sums: item fields, the user's sparse rows, and with nextItem (after empty bags for
    // p and z, which no lookup wrote) the next items' rows t.
    const sparseRows = nextRows > 0 ? totalRows : iRows + uLay.sparse;
    const table = await EmbeddingBagBackwardOp.create(gpu, {
      dy: rowsAt(dRows, 0, sparseRows),
      R: config.tableRows,
      D: W,
      maxBags: sparseRows,
      maxNnz: Math.max(1, tableNnz),
      mode: 'sum',
      weighted: true,
      table: w.table,
    });
    const groups = w.layout.entries.map((e) => ({
      offset: e.offset,
      count: e.size,
      weightDecay: e.name.endsWith('.weight') ? hyper.weightDecay : 0,
    }));
    const moments = { m: buf('adam_m', P), v: buf('adam_v', P) };
    const adam = await AdamWOp.create(gpu, { grad: grads, param: w.params, ...moments }, P, groups);
    const tableAcc = buf('table_acc', config.tableRows);
    const adagrad = await RowwiseAdagradOp.create(
      gpu,
      { ids: table.rows, grad: table.gradRows, table: w.table, acc: tableAcc },
      { maxU: Math.max(1, tableNnz), D: W, R: config.tableRows },
    );
    let next: NextItemState | null = null;
    if (nextWeight > 0) {
      const tRows = rowsAt(rows, tBase, BL);
      const bags = new BagBuilder(BL, Math.max(1, BL * itemWidth));
      const buffers = { ids: buf('next_ids', BL), logq: buf('next_logq', BL), loss: buf('next_loss', BL) };
      const lookup = await EmbeddingBagOp.create(gpu, {
        table: w.table,
        R: config.tableRows,
        D: W,
        maxBags: BL,
        maxNnz: Math.max(1, BL * itemWidth),
        mode: 'sum',
        out: tRows,
      });
      const xent = await NextItemXentOp.create(
        gpu,
        { N: BL, W, M: nextItemBlock(L, B) },
        {
          q: ua.h,
          t: tRows,
          logq: buffers.logq,
          ids: buffers.ids,
          loss: buffers.loss,
          lse: all(buf('next_lse', BL)),
          dq: d.h,
          dt: rowsAt(dRows, tBase, BL),
        },
      );
      next = {
        weight: nextWeight,
        lookup,
        xent,
        bags,
        ids: new Uint32Array(BL),
        logq: new Float32Array(BL),
        buffers,
        windows: [],
        items: config.historyItemFields ? new ItemEntryCache(config, itemFeatures) : null,
        itemLogQ: itemLogQ ?? null,
        count: 0,
      };
    }
    return new RetrievalTraining(
      gpu,
      config,
      B,
      hyper,
      w,
      item,
      user,
      grads,
      moments,
      tableAcc,
      io,
      {
        xent,
        userNorm,
        userFc2,
        userFc1,
        input,
        poolKey,
        residual,
        out,
        q,
        k,
        v,
        lnFinal,
        blocks,
        itemNorm,
        itemFc2,
        itemFc1,
        table,
        adam,
        adagrad,
      },
      owned,
      next,
    );
  }

  /**
   * Sets the user tower's batch (UserTower.set) and, with nextItem, keeps each user's history window: the next
   * items every position is asked for. The trainer sets users through this, never `user.set` directly.
   */
  setUsers(B: number, user: (b: number) => UserInput): void {
    const inputs = Array.from({ length: B }, (_, b) => user(b));
    this.user.set(B, (b) => inputs[b]);
    const next = this.next;
    if (!next) return;
    const L = this.config.historyLength;
    // The same window as addHistoryBags: the last L non-PAD entries of history[start, end).
    next.windows = inputs.map((u) => {
      const end = u.historyEnd ?? u.history.length;
      const from = Math.max(u.historyStart ?? 0, end - L);
      const items: number[] = [];
      for (let j = from; j < end; j++) if (u.history[j] !== PAD_INDEX) items.push(u.history[j]);
      return items;
    });
  }

  /** Builds and uploads the next items of every position: history[l + 1], and the batch's positive after the last. */
  private setNextItems(next: NextItemState, batch: StepBatch): void {
    const c = this.config;
    const L = c.historyLength;
    const item = itemIdField(c)!;
    const bags = next.bags.reset();
    next.ids.fill(NO_NEXT_ITEM);
    next.logq.fill(0);
    let count = 0;
    const add = (r: number, row: number, logq: number) => {
      const v = row + FIRST_INDEX;
      if (next.items && v < item.rows && row >= 0) next.items.append(bags, row);
      else bags.add(item.offset + (v < item.rows ? v : OOV_INDEX), 1);
      next.ids[r] = row;
      next.logq[r] = logq;
      count++;
    };
    for (let b = 0; b < this.batch; b++) {
      const w = next.windows[b] ?? [];
      for (let l = 0; l < L; l++) {
        if (l + 1 < w.length) {
          const row = w[l + 1] - FIRST_INDEX;
          add(b * L + l, row, next.itemLogQ?.[row] ?? 0);
        } else if (l + 1 === w.length) add(b * L + l, batch.ids[b], batch.logq[b]);
        bags.close();
      }
    }
    const v = bags.view();
    next.lookup.set(v.indices, v.offsets, v.weights);
    this.gpu.write(next.buffers.ids, next.ids);
    this.gpu.write(next.buffers.logq, next.logq);
    next.count = count;
  }

  /**
   * Records and submits the forward, the loss and the backward of the batch the towers were last
   * `set` with. Read the loss with `readLoss`, then `update`.
   */
  run(batch: StepBatch): void {
    const { gpu, config: c, back: bk } = this;
    const B = this.batch;
    const { fieldDim: W, historyLength: L, embeddingDim: D, itemHidden: Hi, userHidden: Hu } = c;
    const { Fi } = fieldCounts(c);
    const BL = B * L;
    gpu.write(this.io.logq, batch.logq);
    gpu.write(this.io.ids, batch.ids);
    // One sorted segment sum over the item bags then the user bags, in row order.
    const next = this.next;
    if (next) this.setNextItems(next, batch);
    const parts = [this.item.bags.view(), this.user.bags.view()];
    if (next) {
      // p and z: rows no lookup wrote (empty bags), then the next items' bags.
      const gap = this.user.layout.total - this.user.layout.sparse;
      parts.push({ indices: new Uint32Array(0), offsets: new Uint32Array(gap + 1), weights: new Float32Array(0) });
      parts.push(next.bags.view());
    }
    const nnz = parts.reduce((s, p) => s + p.indices.length, 0);
    const indices = new Uint32Array(nnz);
    const weights = new Float32Array(nnz);
    const offsets = new Uint32Array(parts.reduce((s, p) => s + p.offsets.length - 1, 0) + 1);
    let base = 0;
    let bag = 0;
    for (const p of parts) {
      indices.set(p.indices, base);
      weights.set(p.weights, base);
      for (let j = 1; j < p.offsets.length; j++) offsets[bag + j] = p.offsets[j] + base;
      base += p.indices.length;
      bag += p.offsets.length - 1;
    }
    const U = bk.table.set(indices, offsets, weights).rows.length;
    this.step++;
    const _t = this.step;
    const encoder = gpu.device.createCommandEncoder();
    encoder.clearBuffer(this.grads);
    const pass = encoder.beginComputePass();
    this.item.encode(pass);
    this.user.encode(pass);
    if (next) {
      next.lookup.encode(pass);
      next.xent.encodeForward(pass, { tau: NEXT_ITEM_TAU });
    }
    bk.xent.encodeForward(pass, { B, tau: this.hyper.temperature });
    bk.xent.encodeBackward(pass, { B, tau: this.hyper.temperature });
    // user tower, in reverse
    bk.userNorm.encode(pass, B);
    bk.userFc2.encode(pass, { M: B, K: Hu, N: D, act: 'none' });
    bk.userFc1.encode(pass, { M: B, K: inputSlots(c) * W, N: Hu, act: 'relu' });
    bk.input.encode(pass);
    const { attention, pool, lastRow } = this.user.attentionOps;
    pool.encodeBackward(pass, B); // writes dh (its values' gradient); the next two add into it
    bk.poolKey.encode(pass, { M: BL, K: W, N: W, act: 'none', hasBias: false, needDx: true, accumulate: true });
    lastRow?.encodeBackward(pass, B);
    // dh += the next-item loss's gradient at every position; dt (the next items' rows) is its own region.
    if (next)
      next.xent.encodeBackward(pass, {
        tau: NEXT_ITEM_TAU,
        scale: next.weight / Math.max(1, next.count),
        accumulateQ: true,
      });
    if (bk.residual) {
      bk.residual.encode(pass);
      bk.out!.encode(pass, { M: BL, K: W, N: W, act: 'none', hasBias: true, needDx: true });
      attention.encodeBackward(pass, B);
      for (const lin of [bk.q!, bk.k!, bk.v!])
        lin.encode(pass, { M: BL, K: W, N: W, act: 'none', hasBias: false, needDx: true, accumulate: true });
    } else {
      // blocks, in reverse: d(stream) = LN⁻¹(dh); per block d(stream) += LN₂⁻¹(FFN⁻¹(d(stream))), then
      // d(stream) += LN₁⁻¹(qkv⁻¹(Attn⁻¹(out⁻¹(d(stream))))).
      const F = ffnHidden(c);
      const layers = this.user.encoderOps.layers;
      bk.lnFinal!.encode(pass, BL);
      for (let i = bk.blocks.length - 1; i >= 0; i--) {
        const b = bk.blocks[i];
        b.ffn2.encode(pass, { M: BL, K: F, N: W, act: 'none', hasBias: true, needDx: true });
        b.ffn1.encode(pass, { M: BL, K: W, N: F, act: 'relu', hasBias: true, needDx: true });
        b.ln2.encode(pass, BL, true);
        b.out.encode(pass, { M: BL, K: W, N: W, act: 'none', hasBias: true, needDx: true });
        layers[i].attention.encodeBackward(pass, B);
        b.q.encode(pass, { M: BL, K: W, N: W, act: 'none', hasBias: false, needDx: true });
        for (const lin of [b.k, b.v])
          lin.encode(pass, { M: BL, K: W, N: W, act: 'none', hasBias: false, needDx: true, accumulate: true });
        b.ln1.encode(pass, BL, true);
      }
    }
    // item tower, in reverse
    bk.itemNorm.encode(pass, B);
    bk.itemFc2.encode(pass, { M: B, K: Hi, N: D, act: 'none' });
    bk.itemFc1.encode(pass, { M: B, K: Fi * W, N: Hi, act: 'relu' });
    // the table's gradient rows
    bk.table.encode(pass);
    pass.end();
    gpu.device.queue.submit([encoder.finish()]);
    this.pendingRows = U;
  }

  /**
   * Applies the gradients of the last `run`: AdamW on the dense buffer, row-wise Adagrad on the
   * rows the batch touched. Separate from `run` so that a non-finite loss can stop training
   * before it reaches the weights.
   */
  update(): void {
    const bk = this.back;
    this.gpu.run((pass) => {
      bk.adam.encode(pass, { lr: this.hyper.lr, step: this.step });
      bk.adagrad.encode(pass, { U: this.pendingRows, lr: this.hyper.tableLr });
    });
  }

  /**
   * The loss of the last step (awaits the GPU): the two-tower loss's mean over the batch, plus with nextItem its
   * weight times the next-item loss's mean over the positions that have a next item — what the gradients are of.
   */
  async readLoss(): Promise<number> {
    const parts = await this.readLosses();
    return parts.twoTower + (this.next ? this.next.weight * parts.nextItem : 0);
  }

  /** The last step's two losses apart: the two-tower mean, and the next-item mean (0 without nextItem). */
  async readLosses(): Promise<{ twoTower: number; nextItem: number }> {
    const mean = (a: Float32Array, n: number) => a.reduce((s, x) => s + x, 0) / Math.max(1, n);
    const twoTower = mean(await this.gpu.readF32(this.io.loss, this.batch), this.batch);
    const next = this.next;
    if (!next) return { twoTower, nextItem: 0 };
    return { twoTower, nextItem: mean(await this.gpu.readF32(next.buffers.loss, next.ids.length), next.count) };
  }

  /** Reads the dense gradients of the last step (for checks). */
  readGrads(): Promise<Float32Array> {
    return this.gpu.readF32(this.grads, this.weights.layout.length);
  }

  /** The table's gradient of the last step: `count` rows (ascending ids in `rows`) of W in `gradRows`. */
  tableGradients(): { rows: GPUBuffer; gradRows: GPUBuffer; count: number } {
    const t = this.back.table;
    return { rows: t.rows, gradRows: t.gradRows as GPUBuffer, count: t.uniqueRows };
  }

  /** Optimizer state, for checkpoints. */
  async readState(): Promise<{ m: Float32Array; v: Float32Array; tableAcc: Float32Array }> {
    const P = this.weights.layout.length;
    return {
      m: await this.gpu.readF32(this.moments.m, P),
      v: await this.gpu.readF32(this.moments.v, P),
      tableAcc: await this.gpu.readF32(this.tableAcc, this.config.tableRows),
    };
  }

  /** Restores optimizer state and the step count (resume). */
  writeState(s: { m: Float32Array; v: Float32Array; tableAcc: Float32Array; step: number }): void {
    this.gpu.write(this.moments.m, s.m);
    this.gpu.write(this.moments.v, s.v);
    this.gpu.write(this.tableAcc, s.tableAcc);
    this.step = s.step;
  }

  destroy(): void {
    this.item.destroy();
    this.user.destroy();
    const { blocks, ...rest } = this.back;
    for (const op of Object.values(rest)) op?.destroy();
    for (const b of blocks) for (const op of Object.values(b)) op.destroy();
    this.next?.lookup.destroy();
    this.next?.xent.destroy();
    for (const b of this.owned) b.destroy();
  }
}
