// The user tower's forward on the CPU, composed from the kernels' CPU references: the definition
// the GPU towers (towers.ts) are checked against, and what the engine's CPU backend serves with.
import {
  attentionPoolReference,
  attentionReference,
  embeddingBagReference,
  l2normReference,
  lastRowReference,
  linearReference,
} from '@vireo/kernels';
import {
  BagBuilder,
  addFieldBag,
  addHistoryBags,
  addLastItemBag,
  fieldCounts,
  inputSlots,
  historyWidth,
  retrievalParamLayout,
  type FieldValue,
  type HistoryItemEntries,
  type RetrievalConfig,
} from './retrieval.ts';
import { fieldsMaxNnz } from './towers.ts';

/**
 * The user tower's forward on the CPU, op for op the GPU's (towers.ts): history rows x, self-attention (causal with
 * `causal`), output projection, residual, attention pooling, field bags, the last item (lastItem), h at the most
 * recent position (lastOutput), MLP, l2norm.
 * Returns the unit vector (D).
 */
export function userTowerReference(
  c: RetrievalConfig,
  params: Float32Array,
  table: Float32Array,
  fields: readonly FieldValue[],
  history: ArrayLike<number>,
  itemEntries?: HistoryItemEntries,
): Float32Array {
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
  const q = linearReference(x, p('history.q.weight'), null, L, W, W);
  const k = linearReference(x, p('history.k.weight'), null, L, W, W);
  const v = linearReference(x, p('history.v.weight'), null, L, W, W);
  const lengths = Uint32Array.of(n);
  const a = attentionReference(q, k, v, lengths, 1, L, W, H, c.causal === true);
  const o = linearReference(a, p('history.out.weight'), p('history.out.bias'), L, W, W);
  const h = new Float32Array(L * W);
  for (let i = 0; i < h.length; i++) h[i] = x[i] + o[i];
  const kp = linearReference(h, p('history.pool.key.weight'), null, L, W, W);
  const pooled = attentionPoolReference(Float32Array.from(p('history.pool.query')), kp, h, lengths, 1, L, W, H); // (W)
  const bags = new BagBuilder(Fu, Math.max(1, fieldsMaxNnz(c.userFields)));
  c.userFields.forEach((f, j) => addFieldBag(bags, f, fields[j]));
  const bv = bags.view();
  const f =
    Fu > 0 && bv.indices.length > 0
      ? embeddingBagReference(table, bv.indices, bv.offsets, bv.weights, R, W, 'sum')
      : new Float32Array(Fu * W);
  const S = inputSlots(c);
  const input = new Float32Array(S * W);
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
export function itemTowerReference(
  c: RetrievalConfig,
  params: Float32Array,
  table: Float32Array,
  fields: readonly FieldValue[],
): Float32Array {
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
      : new Float32Array(Fi * W); // (Fi, W)
  const fc1 = linearReference(x, p('item.fc1.weight'), p('item.fc1.bias'), 1, Fi * W, Hi, 'relu');
  const fc2 = linearReference(fc1, p('item.fc2.weight'), p('item.fc2.bias'), 1, Hi, D);
  return l2normReference(fc2, 1, D).y;
}
