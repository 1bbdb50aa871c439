// The two-tower retrieval model: its architecture, its parameter table and how features become
// the bags its embedding lookups read. Pure TypeScript (no GPU, no Node): the trainer, the
// browser engine and the tests share it, so training and serving encode features the same way.
// The GPU forward of both towers is in retrieval-towers.ts.
//
// Legend: B batch, L history length, W field width (every embedding row, and the attention
// width), H heads, Fi item fields, Fu user + context fields, D output dim, Hi / Hu hidden widths
// of the item / user MLP, R rows of the shared embedding table, N catalogue size.
//
//   item tower:  fields (B, Fi·W) = one bag per (item, field) ─ fc1 relu (B, Hi) ─ fc2 (B, D) ─ l2norm
//   user tower:  history: x (B, L, W) = item:id row + recency row per position (one 2-row bag each)
//                  q, k, v = x·Wqᵀ, x·Wkᵀ, x·Wvᵀ ─ self-attention (H heads, padding mask; causal: position
//                  i also masks every later position) ─ a (B, L, W)
//                  h = x + (a·Woᵀ + bo)            (residual)
//                  with blocks = N instead (pre-LN, docs/ARCHITECTURE.md §4): N × [h ← h + Attn(LN₁(h));
//                  h ← h + W₂·relu(W₁·LN₂(h) + b₁) + b₂], then h = LN(h)
//                  pooled (B, W) = attention pooling: learned query, keys h·Wpkᵀ, values h
//                fields (B, Fu·W) = one bag per (user, field): user:id (dropped out while
//                  training, so unseen users still work), user features, context features
//                last (B, W) = the most recent history item's rows (lastItem: the query from the most recent
//                  position, beside the pooled history, so that what the user just did reaches the MLP directly)
//                z (B, W) = h at the most recent valid position (lastOutput)
//                [fields | pooled | last | z] (B, S·W) ─ fc1 relu (B, Hu) ─ fc2 (B, D) ─ l2norm
//                  (S = Fu + 1, + 1 with lastItem, + 1 with lastOutput: inputSlots)
//   score(user, item) = u · v, both unit length; training divides by τ.
//
// Every embedding lives in ONE table (R, W): fields are row ranges of it (item:id rows are shared
// by the item tower and the history, which is what "shared item-id embeddings" means here).
// A bag's weights encode the field's pooling: 1 for a categorical value, 1/count for the values
// of a multi-hot feature (their mean), the value itself for a numeric feature (a learned row
// scaled by it: a linear map of the numeric inputs). PAD values add nothing; an empty bag is 0.
import { FIRST_INDEX, OOV_INDEX, PAD_INDEX } from '@vireo/core';
import { check } from '@vireo/kernels';

/** How a field's values become bag entries. */
export type RetrievalFieldKind = 'categorical' | 'multi_hot' | 'numeric' | 'bucket' | 'position' | 'label';

/** One field: a row range of the shared table and how a value indexes it. */
export interface RetrievalField {
  /** Feature name (`item:category`), `item:numeric` / `user:numeric` for numerics, `position` for recency. */
  name: string;
  kind: RetrievalFieldKind;
  /** First row of the field in the table. */
  offset: number;
  /** Rows it owns: PAD + OOV + vocabulary (or buckets); one per numeric feature; L positions. */
  rows: number;
  /** The most values one example puts in its bag: 1, a multi-hot's maxLength, numeric: rows. */
  width: number;
  /** numeric: the feature names, one row each, in order. */
  features?: string[];
  /** The vocabulary its rows follow (row j ↔ vocabulary[j − 2]), for warm starts. */
  vocabulary?: string;
}

/** The architecture: everything needed to lay out parameters and run the forward. */
export interface RetrievalConfig {
  /** W: width of every embedding row and of the history attention. A multiple of H. */
  fieldDim: number;
  /** D: output width of both towers. */
  embeddingDim: number;
  /** L: history positions the user tower attends over (the most recent L). */
  historyLength: number;
  /** H: attention heads. */
  heads: number;
  /** Hi, Hu: hidden widths of the item and user MLPs. */
  itemHidden: number;
  userHidden: number;
  /** τ used in training (scores are cosine similarities; τ only matters for calibration). */
  temperature: number;
  /** R: rows of the shared table. */
  tableRows: number;
  /** Item tower bags per item, in order; the first is `item:id`. */
  itemFields: RetrievalField[];
  /** User tower bags per user, in order; the first is `user:id` when the model has user ids. */
  userFields: RetrievalField[];
  /** The recency rows of the history (L rows). */
  position: RetrievalField;
  /** The history's event label rows: row 0 any event, row 1 a positive (click, liked rating). */
  label: RetrievalField;
  /**
   * How a history position embeds its item: false, its item:id row alone; true, the sum of all
   * its item-tower field rows (id, category, attributes, title tokens, numerics) — the same rows
   * the item tower reads, so that what is learnt about categories carries into the history.
   */
  historyItemFields: boolean;
  /**
   * The history's own item:id rows (one per item:id row, same vocabulary): what the history positions and the last
   * item read, apart from the rows the item tower reads, so that an item's input row can learn what follows it and
   * its output row what it is (docs/ARCHITECTURE.md §4, "Order-aware options"). With `historyItemFields` a position
   * reads it in place of item:id beside the item's other field rows, which stay shared with the item tower.
   * Absent (bundles from before it existed, and the default): the history reads the item tower's item:id rows.
   */
  historyId?: RetrievalField;
  /**
   * Whether the user MLP also reads the most recent history item (its item rows, as a history position embeds it,
   * without recency or label). Absent in bundles from before it existed: false.
   */
  lastItem?: boolean;
  /**
   * Whether the history's self-attention is causal: position i (oldest first) attends to positions 0..i only, so
   * each position's output summarises the history up to it. Absent in bundles from before it existed: false.
   */
  causal?: boolean;
  /**
   * Whether the user MLP also reads the history encoder's output h at the most recent position (the query from the
   * most recent position; with `causal`, a summary of the history up to the newest event). Absent: false.
   */
  lastOutput?: boolean;
  /**
   * Training only: the weight of the next-item objective (SASRec-style: the encoder's output at every history
   * position scores the item that came next, in-batch softmax over blocks of positions with logQ), added to the
   * two-tower loss; 0 or absent (bundles from before it existed): off. Needs `causal` (else a position sees the item
   * it is asked for). Serving ignores it: the user tower is the same with or without it.
   */
  nextItem?: number;
  /**
   * N: pre-LN transformer blocks of the history encoder (docs/ARCHITECTURE.md §4): each block is
   * h ← h + Attn(LN₁(h)), then h ← h + W₂·relu(W₁·LN₂(h) + b₁) + b₂, and a final LN follows the last. 0 or absent
   * (bundles from before it existed): one attention block without layer norm or feed-forward layer, h = x + Attn(x).
   */
  blocks?: number;
  /** F: the hidden width of the blocks' feed-forward layers (with `blocks`; absent: W). */
  ffnHidden?: number;
  /**
   * The training data's time span (unix seconds), for the `context:time` feature: where an event
   * falls in it, (ts − min) / (max − min); serving asks about "now", at most the span's end
   * (servingTimeFeature: YouTube's example age).
   */
  timeRange?: { min: number; max: number };
}

/** The derived numeric context feature `context:time` (see RetrievalConfig.timeRange). */
export const TIME_FEATURE = 'context:time';

/** The `context:time` value of an event at `ts`: its place in the training span (1 = the end; later is > 1). */
export function timeFeature(c: Pick<RetrievalConfig, 'timeRange'>, ts: number): number {
  const r = c.timeRange;
  if (!r || !(r.max > r.min)) return 0;
  return (ts - r.min) / (r.max - r.min);
}

/**
 * `context:time` at serving, for a request at `ts` (unix seconds): its place in the training span,
 * capped at the span's end. A bundle serves long after its data ends (a model trained on 2024's
 * events and asked in 2026 would see ~70 spans on, far outside anything learnt), so "now" is the
 * end of what the model knows — YouTube's example age of zero at serving.
 */
export function servingTimeFeature(c: Pick<RetrievalConfig, 'timeRange'>, ts: number): number {
  return Math.min(1, timeFeature(c, ts));
}

/** One dense parameter carved out of the flat parameter buffer. */
export interface RetrievalParamEntry {
  /** e.g. `user.fc1.weight` (N, K). */
  name: string;
  shape: number[];
  /** Offset in floats, a multiple of 64 (256 bytes: minStorageBufferOffsetAlignment). */
  offset: number;
  size: number;
}

/** The flat parameter buffer's table: every dense tensor at an aligned offset. */
export interface RetrievalParamLayout {
  entries: RetrievalParamEntry[];
  byName: Map<string, RetrievalParamEntry>;
  /** Floats in the buffer, padding included. */
  length: number;
}

export const PARAM_ALIGN = 64; // floats: 256 bytes
const align = (n: number, a = PARAM_ALIGN) => Math.ceil(n / a) * a;

/** Item tower fields Fi and user fields Fu (without the pooled history). */
export function fieldCounts(c: RetrievalConfig): { Fi: number; Fu: number } {
  return { Fi: c.itemFields.length, Fu: c.userFields.length };
}

/**
 * S: rows of W the user MLP reads per user: Fu fields, the pooled history, the last item with lastItem, the
 * encoder's output at the most recent position with lastOutput.
 */
export function inputSlots(c: RetrievalConfig): number {
  return c.userFields.length + 1 + (c.lastItem ? 1 : 0) + (c.lastOutput ? 1 : 0);
}

/** N: the history encoder's transformer blocks (0: today's single attention block without LN or FFN). */
export function encoderBlocks(c: Pick<RetrievalConfig, 'blocks'>): number {
  return c.blocks ?? 0;
}

/** Attention layers of the history encoder: one per block, and the one of the block-less encoder. */
export function attentionLayers(c: Pick<RetrievalConfig, 'blocks'>): number {
  return Math.max(1, encoderBlocks(c));
}

/** F: the feed-forward hidden width of the blocks. */
export function ffnHidden(c: Pick<RetrievalConfig, 'ffnHidden' | 'fieldDim'>): number {
  return c.ffnHidden ?? c.fieldDim;
}

/** Parameter names of attention layer i: `history.q.weight` for the first (old bundles' names), then `history.1.…`. */
export function layerPrefix(i: number): string {
  return i === 0 ? 'history' : `history.${i}`;
}

/** The dense tensors, in forward order: (name, shape). Weights are PyTorch's (out, in). */
export function retrievalParamShapes(c: RetrievalConfig): { name: string; shape: number[] }[] {
  const { fieldDim: W, embeddingDim: D, itemHidden: Hi, userHidden: Hu } = c;
  const { Fi } = fieldCounts(c);
  const blocks = encoderBlocks(c) > 0;
  const F = ffnHidden(c);
  const encoder: { name: string; shape: number[] }[] = [];
  for (let i = 0; i < attentionLayers(c); i++) {
    const P = layerPrefix(i);
    if (blocks) encoder.push({ name: `${P}.ln1.gamma`, shape: [W] }, { name: `${P}.ln1.beta`, shape: [W] });
    encoder.push(
      { name: `${P}.q.weight`, shape: [W, W] },
      { name: `${P}.k.weight`, shape: [W, W] },
      { name: `${P}.v.weight`, shape: [W, W] },
      { name: `${P}.out.weight`, shape: [W, W] },
      { name: `${P}.out.bias`, shape: [W] },
    );
    if (blocks)
      encoder.push(
        { name: `${P}.ln2.gamma`, shape: [W] },
        { name: `${P}.ln2.beta`, shape: [W] },
        { name: `${P}.ffn1.weight`, shape: [F, W] },
        { name: `${P}.ffn1.bias`, shape: [F] },
        { name: `${P}.ffn2.weight`, shape: [W, F] },
        { name: `${P}.ffn2.bias`, shape: [W] },
      );
  }
  if (blocks) encoder.push({ name: 'history.ln.gamma', shape: [W] }, { name: 'history.ln.beta', shape: [W] });
  return [
    { name: 'item.fc1.weight', shape: [Hi, Fi * W] }, // (Hi, Fi·W)
    { name: 'item.fc1.bias', shape: [Hi] },
    { name: 'item.fc2.weight', shape: [D, Hi] }, //     (D, Hi)
    { name: 'item.fc2.bias', shape: [D] },
    ...encoder,
    { name: 'history.pool.key.weight', shape: [W, W] },
    { name: 'history.pool.query', shape: [W] }, //      (H, W/H)
    { name: 'user.fc1.weight', shape: [Hu, inputSlots(c) * W] }, // (Hu, S·W)
    { name: 'user.fc1.bias', shape: [Hu] },
    { name: 'user.fc2.weight', shape: [D, Hu] },
    { name: 'user.fc2.bias', shape: [D] },
  ];
}

/** Lays the dense tensors out in one buffer at 256-byte aligned offsets. */
export function retrievalParamLayout(c: RetrievalConfig): RetrievalParamLayout {
  let offset = 0;
  const entries = retrievalParamShapes(c).map(({ name, shape }) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const e = { name, shape, offset, size };
    offset = align(offset + size);
    return e;
  });
  return { entries, byName: new Map(entries.map((e) => [e.name, e])), length: Math.max(offset, PARAM_ALIGN) };
}

/** Checks a config; throws a ShapeError naming the field. */
export function checkRetrievalConfig(c: RetrievalConfig): void {
  const ints: [string, number][] = [
    ['fieldDim', c.fieldDim],
    ['embeddingDim', c.embeddingDim],
    ['historyLength', c.historyLength],
    ['heads', c.heads],
    ['itemHidden', c.itemHidden],
    ['userHidden', c.userHidden],
    ['tableRows', c.tableRows],
  ];
  for (const [name, n] of ints)
    check(Number.isInteger(n) && n > 0, `retrieval: ${name} must be a positive integer, got ${n}.`);
  check(c.fieldDim % c.heads === 0, `retrieval: fieldDim ${c.fieldDim} is not a multiple of ${c.heads} heads.`);
  check(c.itemFields.length >= 1, 'retrieval: the item tower needs at least one field.');
  check(c.temperature > 0, `retrieval: temperature must be positive, got ${c.temperature}.`);
  for (const f of allFields(c)) {
    check(
      Number.isInteger(f.offset) &&
        f.offset >= 0 &&
        Number.isInteger(f.rows) &&
        f.rows > 0 &&
        f.offset + f.rows <= c.tableRows,
      `retrieval: field ${f.name} (rows ` +
        `${f.offset}..${f.offset + f.rows}) is outside the table of ${c.tableRows} rows.`,
    );
  }
  check(
    c.position.rows === c.historyLength,
    `retrieval: the position field has ${c.position.rows} rows, expected historyLength ${c.historyLength}.`,
  );
  const N = encoderBlocks(c);
  check(Number.isInteger(N) && N >= 0 && N <= 16, `retrieval: blocks must be an integer in 0..16, got ${N}.`);
  const F = ffnHidden(c);
  check(Number.isInteger(F) && F > 0, `retrieval: ffnHidden must be a positive integer, got ${F}.`);
  const next = c.nextItem ?? 0;
  check(Number.isFinite(next) && next >= 0, `retrieval: nextItem must be a weight ≥ 0, got ${next}.`);
  check(
    next === 0 || c.causal === true,
    'retrieval: the next-item objective needs causal attention (--causal): without it every position sees the item ' +
      'it is asked to predict.',
  );
  check(c.label.rows === 2, `retrieval: the history label field has ${c.label.rows} rows, expected 2.`);
  check(
    itemIdField(c) !== null,
    'retrieval: the item tower has no categorical item:id field, which the history needs.',
  );
  if (c.historyId) {
    check(
      c.historyId.rows === itemIdField(c)!.rows,
      `retrieval: the history's own item:id rows (${c.historyId.rows}) must match item:id's ${itemIdField(c)!.rows}.`,
    );
  }
}

/** Every field the config names, with the history's own item:id rows when it has them (fields may repeat). */
export function allFields(c: RetrievalConfig): RetrievalField[] {
  return [...c.itemFields, ...c.userFields, c.position, c.label, ...(c.historyId ? [c.historyId] : [])];
}

/** The item:id rows the history and the last item read: the history's own (historyId), else the item tower's. */
export function historyIdField(c: Pick<RetrievalConfig, 'itemFields' | 'historyId'>): RetrievalField | null {
  return c.historyId ?? itemIdField(c);
}

/** The item:id field (shared by the item tower and the history), or null. */
export function itemIdField(c: Pick<RetrievalConfig, 'itemFields'>): RetrievalField | null {
  return c.itemFields.find((f) => f.name === 'item:id' && f.kind === 'categorical') ?? null;
}

// ------------------------------------------------------------------------------------ encoding

/**
 * A field's value for one example, as @vireo/core's transforms give it: an index (categorical,
 * bucketized numeric), indices (multi-hot, PAD = 0 for empty slots), or numbers (numeric: one per
 * feature of the field). `null` means missing (no contribution).
 */
export type FieldValue = number | ArrayLike<number> | null;

/** Bags being built: CSR indices / offsets with per-index weights. */
export class BagBuilder {
  indices: Uint32Array;
  weights: Float32Array;
  offsets: Uint32Array;
  nnz = 0;
  bags = 0;

  constructor(maxBags: number, maxNnz = maxBags) {
    this.indices = new Uint32Array(Math.max(1, maxNnz));
    this.weights = new Float32Array(Math.max(1, maxNnz));
    this.offsets = new Uint32Array(maxBags + 1);
  }

  reset(): this {
    this.nnz = 0;
    this.bags = 0;
    return this;
  }

  /** Adds one index to the open bag. */
  add(index: number, weight: number): void {
    if (this.nnz === this.indices.length) {
      const grow = (a: Uint32Array | Float32Array) => {
        const b = new (a.constructor as Uint32ArrayConstructor | Float32ArrayConstructor)(a.length * 2);
        b.set(a);
        return b;
      };
      this.indices = grow(this.indices) as Uint32Array;
      this.weights = grow(this.weights) as Float32Array;
    }
    this.indices[this.nnz] = index;
    this.weights[this.nnz++] = weight;
  }

  /** Closes the open bag. */
  close(): void {
    this.offsets[++this.bags] = this.nnz;
  }

  /** Closes `n` empty bags. */
  empty(n: number): void {
    for (let i = 0; i < n; i++) this.close();
  }

  /** The bags so far (views, valid until the next reset). */
  view(): { indices: Uint32Array; offsets: Uint32Array; weights: Float32Array } {
    return {
      indices: this.indices.subarray(0, this.nnz),
      offsets: this.offsets.subarray(0, this.bags + 1),
      weights: this.weights.subarray(0, this.nnz),
    };
  }
}

/** Appends one field's entries for one example to the open bag (closes nothing). */
export function addFieldEntries(bags: BagBuilder, field: RetrievalField, value: FieldValue): void {
  if (value === null) return;
  switch (field.kind) {
    case 'categorical': {
      const v = value as number;
      if (v !== PAD_INDEX) bags.add(field.offset + (v < field.rows ? v : OOV_INDEX), 1);
      return;
    }
    case 'bucket': {
      const v = value as number;
      bags.add(field.offset + Math.min(Math.max(0, v), field.rows - 1), 1);
      return;
    }
    case 'multi_hot': {
      const vs = value as ArrayLike<number>;
      let n = 0;
      for (let j = 0; j < vs.length; j++) if (vs[j] !== PAD_INDEX) n++;
      for (let j = 0; j < vs.length; j++) {
        const v = vs[j];
        if (v !== PAD_INDEX) bags.add(field.offset + (v < field.rows ? v : OOV_INDEX), 1 / n);
      }
      return;
    }
    case 'numeric': {
      const vs = typeof value === 'number' ? [value] : value;
      for (let j = 0; j < field.rows; j++) {
        const v = vs[j];
        if (Number.isFinite(v) && v !== 0) bags.add(field.offset + j, v);
      }
      return;
    }
    case 'position':
    case 'label':
      throw new Error(`addFieldEntries: ${field.kind} is not a per-example field.`);
  }
}

/** Appends one field's bag for one example. `drop` leaves it empty (user-id dropout). */
export function addFieldBag(bags: BagBuilder, field: RetrievalField, value: FieldValue, drop = false): void {
  if (!drop) addFieldEntries(bags, field, value);
  bags.close();
}

/** Appends an item's entries to the open bag: what one history position holds besides its recency. */
export type HistoryItemEntries = (bags: BagBuilder, itemRow: number) => void;

/**
 * The item-tower entries of items, built once per item from their field values and kept (up to
 * `capacity` items, then started afresh): what history positions add with `historyItemFields`.
 * @example const items = new ItemEntryCache(config, (row, f) => featureOf(row, config.itemFields[f]));
 * addHistoryBags(bags, config, history, 0, n, items.append);
 */
export class ItemEntryCache {
  private readonly cache = new Map<number, { indices: Uint32Array; weights: Float32Array }>();
  private readonly scratch = new BagBuilder(1, 64);

  constructor(
    private readonly c: RetrievalConfig,
    private readonly value: (itemRow: number, field: number) => FieldValue,
    private readonly capacity = 1 << 16,
  ) {}

  /** Appends item `row`'s entries to the open bag of `bags`. */
  readonly append: HistoryItemEntries = (bags, row) => {
    let e = this.cache.get(row);
    if (!e) {
      const s = this.scratch.reset();
      // A history with its own item:id rows reads them in place of the item tower's (same rows, same vocabulary).
      const id = this.c.historyId ? itemIdField(this.c) : null;
      this.c.itemFields.forEach((f, j) => addFieldEntries(s, f === id ? this.c.historyId! : f, this.value(row, j)));
      e = { indices: s.indices.slice(0, s.nnz), weights: s.weights.slice(0, s.nnz) };
      if (this.cache.size >= this.capacity) this.cache.clear();
      this.cache.set(row, e);
    }
    for (let j = 0; j < e.indices.length; j++) bags.add(e.indices[j], e.weights[j]);
  };
}

/** Entries per history position at most: the item's (all its fields, or its id), the recency and the label row. */
export function historyWidth(c: RetrievalConfig): number {
  return 2 + (c.historyItemFields ? c.itemFields.reduce((s, f) => s + f.width, 0) : 1);
}

/**
 * Appends one user's history bags (L of them): position l < n holds the item of history[l] —
 * its item:id row, or with `historyItemFields` all its item-tower field rows (from
 * `itemEntries`) — plus the recency row n−1−l (0 = the most recent) and the label row
 * (labels[l] ≠ 0: a positive; no labels: all positives); positions ≥ n are empty.
 * `history` holds item:id indices (FIRST_INDEX-based), oldest first; only the last L count.
 * Returns n, the user's history length for the attention mask.
 */
export function addHistoryBags(
  bags: BagBuilder,
  c: RetrievalConfig,
  history: ArrayLike<number>,
  start = 0,
  end = history.length,
  itemEntries?: HistoryItemEntries,
  labels?: ArrayLike<number>,
): number {
  const L = c.historyLength;
  const item = historyIdField(c)!;
  const from = Math.max(start, end - L);
  let n = 0;
  for (let j = from; j < end; j++) if (history[j] !== PAD_INDEX) n++;
  let l = 0;
  for (let j = from; j < end; j++) {
    const v = history[j];
    if (v === PAD_INDEX) continue;
    const row = v - FIRST_INDEX;
    if (c.historyItemFields && itemEntries && v < item.rows && row >= 0) itemEntries(bags, row);
    else bags.add(item.offset + (v < item.rows ? v : OOV_INDEX), 1);
    bags.add(c.position.offset + (n - 1 - l), 1);
    bags.add(c.label.offset + (labels && !labels[j] ? 0 : 1), 1);
    bags.close();
    l++;
  }
  bags.empty(L - n);
  return n;
}

/**
 * Appends one bag: the most recent non-PAD item of history[start, end) as a history position embeds it (its item:id
 * row, or with `historyItemFields` all its item-tower rows), without recency or label; empty without history.
 */
export function addLastItemBag(
  bags: BagBuilder,
  c: RetrievalConfig,
  history: ArrayLike<number>,
  start = 0,
  end = history.length,
  itemEntries?: HistoryItemEntries,
): void {
  const item = historyIdField(c)!;
  for (let j = end - 1; j >= start; j--) {
    const v = history[j];
    if (v === PAD_INDEX) continue;
    const row = v - FIRST_INDEX;
    if (c.historyItemFields && itemEntries && v < item.rows && row >= 0) itemEntries(bags, row);
    else bags.add(item.offset + (v < item.rows ? v : OOV_INDEX), 1);
    break;
  }
  bags.close();
}

/** Rows of the item:id field for a catalogue of N items (PAD, OOV, then one per item). */
export function itemIdIndex(row: number): number {
  return row + FIRST_INDEX;
}

// ----------------------------------------------------------------------------- int8 catalogue

/**
 * Quantises item embeddings (N, D) to int8 with one scale per row: q = round(x / s),
 * s = max|x| / 127, so x ≈ s·q and u·x ≈ s·(u·q).
 * @example const { values, scales } = quantizeRows(itemEmbeddings, N, D);
 */
export function quantizeRows(x: Float32Array, N: number, D: number): { values: Int8Array; scales: Float32Array } {
  const values = new Int8Array(N * D);
  const scales = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    let m = 0;
    for (let d = 0; d < D; d++) m = Math.max(m, Math.abs(x[i * D + d]));
    const s = m > 0 ? m / 127 : 1;
    scales[i] = s;
    for (let d = 0; d < D; d++) values[i * D + d] = Math.max(-127, Math.min(127, Math.round(x[i * D + d] / s)));
  }
  return { values, scales };
}
