// The user tower's forward on the CPU, composed from the kernels' CPU references: the definition
// the GPU towers (towers.ts) are checked against, and what the engine's CPU backend serves with.
import {
  attentionPoolReference,
  attentionReference,
  embeddingBagReference,
  l2normReference,
  lastRowReference,
  layernormReference,
  like,
  linearReference,
  type FloatArray,
} from '@vireo/kernels';
import {
  BagBuilder,
  addFieldBag,
  addHistoryBags,
  addLastItemBag,
  attentionLayers,
  encoderBlocks,
  ffnHidden,
  fieldCounts,
  layerPrefix,
  inputSlots,
  historyWidth,
  retrievalParamLayout,
  type FieldValue,
  type HistoryItemEntries,
  type RetrievalConfig,
} from './retrieval.ts';
import { fieldsMaxNnz } from './towers.ts';

/**
 * The history encoder on the CPU (docs/ARCHITECTURE.md §4), op for op the GPU's (towers.ts): x (B·L, W) → h (B·L, W).
 * Without blocks: h = x + Attn(x)·Woᵀ + bo. With N blocks (pre-LN): h ← h + Attn(LN₁(h)), h ← h + FFN(LN₂(h)), then
 * h = LN(h). In float64 when `params` and `x` are (the gradient checks).
 */
export function historyEncoderReference<T extends FloatArray>(
  c: RetrievalConfig,
  params: FloatArray,
  x: T,
  lengths: ArrayLike<number>,
  B: number,
): T {
  const { fieldDim: W, historyLength: L, heads: H } = c;
  const layout = retrievalParamLayout(c);
  const p = (name: string) => {
    const e = layout.byName.get(name)!;
    return params.subarray(e.offset, e.offset + e.size);
  };
  const M = B * L;
  const blocks = encoderBlocks(c) > 0;
  const add = (a: T, b: FloatArray): T => {
    const y = like(a, a.length) as T;
    for (let i = 0; i < y.length; i++) y[i] = a[i] + b[i];
    return y;
  };
  let h = x;
  for (let i = 0; i < attentionLayers(c); i++) {
    const P = layerPrefix(i);
    const n1 = blocks ? layernormReference(h, p(`${P}.ln1.gamma`), p(`${P}.ln1.beta`), M, W).y : h;
    const q = linearReference(n1, p(`${P}.q.weight`), null, M, W, W);
    const k = linearReference(n1, p(`${P}.k.weight`), null, M, W, W);
    const v = linearReference(n1, p(`${P}.v.weight`), null, M, W, W);
    const a = attentionReference(q, k, v, lengths, B, L, W, H, c.causal === true);
    h = add(h, linearReference(a, p(`${P}.out.weight`), p(`${P}.out.bias`), M, W, W));
    if (!blocks) continue;
    const F = ffnHidden(c);
    const n2 = layernormReference(h, p(`${P}.ln2.gamma`), p(`${P}.ln2.beta`), M, W).y;
    const f1 = linearReference(n2, p(`${P}.ffn1.weight`), p(`${P}.ffn1.bias`), M, W, F, 'relu');
    h = add(h, linearReference(f1, p(`${P}.ffn2.weight`), p(`${P}.ffn2.bias`), M, F, W));
  }
  return blocks ? layernormReference(h, p('history.ln.gamma'), p('history.ln.beta'), M, W).y : h;
}

/**
 * The user tower's forward on the CPU, op for op the GPU's (towers.ts): history rows x, the history encoder
 * (historyEncoderReference), attention pooling, field bags, the last item (lastItem), h at the most recent position
 * (lastOutput), MLP, l2norm. In float64 when `params` and `table` are.
 * Returns the unit vector (D).
 */
export function userTowerReference<T extends FloatArray>(
  c: RetrievalConfig,
  params: T,
  table: T,
  fields: readonly FieldValue[],
  history: ArrayLike<number>,
  itemEntries?: HistoryItemEntries,
): T {
  const { fieldDim: W, historyLength: L, heads: H, userHidden: Hu, embeddingDim: D, tableRows: R } = c;
  const { Fu } = fieldCounts(c);
  const layout = retrievalParamLayout(c);
  const p = (name: string) => {
    const e = layout.byName.get(name)!;
    return params.subarray(e.offset, e.offset + e.size);
  };
  const hist = new BagBuilder(L, Math.max(1, historyWidth(c) * L));
  const n = addHistoryBags(hist, c, history, 0, history.length, itemEntries);
  const hv = hist.view();
  const x = embeddingBagReference(table, hv.indices, hv.offsets, hv.weights, R, W, 'sum'); // (L, W)
  const lengths = Uint32Array.of(n);
  const h = historyEncoderReference(c, params, x, lengths, 1);
  const kp = linearReference(h, p('history.pool.key.weight'), null, L, W, W);
  const pooled = attentionPoolReference(p('history.pool.query').slice() as T, kp, h, lengths, 1, L, W, H); // (W)
  const bags = new BagBuilder(Fu, Math.max(1, fieldsMaxNnz(c.userFields)));
  c.userFields.forEach((f, j) => addFieldBag(bags, f, fields[j]));
  const bv = bags.view();
  const f =
    Fu > 0 && bv.indices.length > 0
      ? embeddingBagReference(table, bv.indices, bv.offsets, bv.weights, R, W, 'sum')
      : (like(table, Fu * W) as T);
  const S = inputSlots(c);
  const input = like(table, S * W) as T;
  input.set(f.subarray(0, Fu * W));
  input.set(pooled, Fu * W);
  if (c.lastItem) {
    const last = new BagBuilder(1, Math.max(1, historyWidth(c)));
    addLastItemBag(last, c, history, 0, history.length, itemEntries);
    const lv = last.view();
    if (lv.indices.length > 0)
      input.set(embeddingBagReference(table, lv.indices, lv.offsets, lv.weights, R, W, 'sum'), (Fu + 1) * W);
  }
  if (c.lastOutput) input.set(lastRowReference(h, lengths, 1, L, W), (S - 1) * W);
  const fc1 = linearReference(input, p('user.fc1.weight'), p('user.fc1.bias'), 1, S * W, Hu, 'relu');
  const fc2 = linearReference(fc1, p('user.fc2.weight'), p('user.fc2.bias'), 1, Hu, D);
  return l2normReference(fc2, 1, D).y;
}

/**
 * The item tower's forward on the CPU, op for op the GPU's (ItemTower in towers.ts): one bag per
 * item field (Fi, W), fc1 relu (Hi), fc2 (D), l2norm. `fields[j]` is the value of
 * `c.itemFields[j]`; an index past a field's rows takes its OOV row, as on the GPU.
 * Returns the unit vector (D).
 * @example const v = itemTowerReference(config, params, table, config.itemFields.map((_, j) => value(row, j)));
 */
export function itemTowerReference<T extends FloatArray>(
  c: RetrievalConfig,
  params: T,
  table: T,
  fields: readonly FieldValue[],
): T {
  const { fieldDim: W, itemHidden: Hi, embeddingDim: D, tableRows: R } = c;
  const { Fi } = fieldCounts(c);
  const layout = retrievalParamLayout(c);
  const p = (name: string) => {
    const e = layout.byName.get(name)!;
    return params.subarray(e.offset, e.offset + e.size);
  };
  const bags = new BagBuilder(Fi, Math.max(1, fieldsMaxNnz(c.itemFields)));
  c.itemFields.forEach((f, j) => addFieldBag(bags, f, fields[j]));
  const bv = bags.view();
  const x =
    bv.indices.length > 0
      ? embeddingBagReference(table, bv.indices, bv.offsets, bv.weights, R, W, 'sum')
      : (like(table, Fi * W) as T); // (Fi, W)
  const fc1 = linearReference(x, p('item.fc1.weight'), p('item.fc1.bias'), 1, Fi * W, Hi, 'relu');
  const fc2 = linearReference(fc1, p('item.fc2.weight'), p('item.fc2.bias'), 1, Hi, D);
  return l2normReference(fc2, 1, D).y;
}
