// embedding_bag: the kernel's declaration and its CPU reference (same argument order).
// Legend: R table rows, D embedding dim, B bags, nnz indices over all bags.
import source from './embedding_bag.wgsl?raw';
import { check, defineKernel } from '../kernel.ts';
import { like, type FloatArray } from '../testing.ts';

/** How a bag's rows are pooled: their (optionally weighted) sum, or their mean. */
export type BagMode = 'sum' | 'mean';
export const BAG_MODES: readonly BagMode[] = ['sum', 'mean'];

/**
 * out (B, D) = pooled table rows per bag; table (R, D), indices (nnz), offsets (B+1), weights (nnz).
 * Plain lookup: has_offsets = 0, bag b = {indices[b]}.
 */
export const embeddingBagForward = defineKernel({
  name: 'embedding_bag.forward',
  source,
  entryPoint: 'forward',
  bindings: [
    { name: 'table', kind: 'read' },
    { name: 'indices', kind: 'read' },
    { name: 'offsets', kind: 'read' },
    { name: 'weights', kind: 'read' },
    { name: 'out', kind: 'write' },
  ],
  params: [
    ['B', 'u32'],
    ['D', 'u32'],
    ['R', 'u32'],
    ['mean', 'u32'],
    ['has_offsets', 'u32'],
    ['has_weights', 'u32'],
  ],
  overrides: { WG: 64 },
});

/**
 * row_gather: out[i] = rows[indices[i]], rows of a row buffer (activations, head outputs) copied into a
 * new order — the user tower's concatenation [f | p] and the ranker's heads into (B, 3). embedding_bag's
 * WGSL as a plain lookup (has_offsets = 0), under its own name in errors and timings; NO_ROW gives zeros.
 */
export const rowGather = defineKernel({ ...embeddingBagForward, name: 'row_gather' });

/**
 * row_sum: out[i] = Σ rows[indices[offsets[i] .. offsets[i+1]]] — the residual h = x + o and the sum
 * of the ranker's per-shard partial bags. embedding_bag's WGSL in sum mode, under its own name.
 */
export const rowSum = defineKernel({ ...embeddingBagForward, name: 'row_sum' });

/** Workgroups for `threads` one-per-value threads of the embedding_bag kernels (WG = 64). */
export function embeddingBagWorkgroups(threads: number, wg = 64): number {
  return Math.ceil(threads / wg);
}

/** The number of bags: offsets.length − 1, or one bag per index for a plain lookup. */
export function bagCount(indices: ArrayLike<number>, offsets: ArrayLike<number> | null): number {
  return offsets ? offsets.length - 1 : indices.length;
}

/**
 * Checks an embedding_bag call; throws a ShapeError naming the argument. Every index is checked
 * against the table (an index outside it is the caller's bug, never a silent zero).
 */
export function checkEmbeddingBag(
  table: ArrayLike<number> | null,
  indices: Uint32Array,
  offsets: Uint32Array | null,
  weights: ArrayLike<number> | null,
  R: number,
  D: number,
  mode: BagMode,
): void {
  check(
    Number.isInteger(R) && R > 0 && Number.isInteger(D) && D > 0,
    `embedding_bag: R, D must be positive integers, got ${R}, ${D}.`,
  );
  check(BAG_MODES.includes(mode), `embedding_bag: mode '${mode}' is unknown: expected one of ${BAG_MODES.join(', ')}.`);
  check(
    table === null || table.length === R * D,
    `embedding_bag: table has ${table?.length} values, expected R·D = ${R}·${D} = ${R * D}.`,
  );
  check(indices instanceof Uint32Array, 'embedding_bag: indices must be a Uint32Array.');
  const nnz = indices.length;
  if (offsets) {
    check(offsets instanceof Uint32Array, 'embedding_bag: offsets must be a Uint32Array.');
    check(offsets.length >= 2, `embedding_bag: offsets has ${offsets.length} values, expected B+1 ≥ 2.`);
    check(offsets[0] === 0, `embedding_bag: offsets[0] is ${offsets[0]}, expected 0.`);
    for (let b = 1; b < offsets.length; b++) {
      check(
        offsets[b] >= offsets[b - 1],
        `embedding_bag: offsets[${b}] = ${offsets[b]} is less than ` +
          `offsets[${b - 1}] = ${offsets[b - 1]}: offsets must not decrease.`,
      );
    }
    check(
      offsets[offsets.length - 1] === nnz,
      `embedding_bag: offsets[B] is ${offsets[offsets.length - 1]}, expected nnz = indices.length = ${nnz}.`,
    );
  } else {
    check(nnz >= 1, 'embedding_bag: indices is empty: a plain lookup needs at least one index.');
  }
  check(
    weights === null || weights.length === nnz,
    `embedding_bag: weights has ${weights?.length} values, expected one per index (nnz = ${nnz}).`,
  );
  check(weights === null || mode === 'sum', `embedding_bag: per-sample weights need mode 'sum', got mode '${mode}'.`);
  for (let j = 0; j < nnz; j++) {
    if (indices[j] >= R)
      check(false, `embedding_bag: indices[${j}] = ${indices[j]} is outside the table (R = ${R} rows).`);
  }
}

/**
 * CPU reference: out (B, D), out[b] = Σ_{j in bag b} s_j · table[indices[j]] with s_j = weights[j],
 * 1, or 1/|bag| for 'mean'; an empty bag gives zeros. Accumulated in float64.
 * @example embeddingBagReference(table, new Uint32Array([3, 1, 4]), new Uint32Array([0, 2, 3]), null, R, D, 'mean')
 */
export function embeddingBagReference<T extends FloatArray>(
  table: T,
  indices: Uint32Array,
  offsets: Uint32Array | null,
  weights: FloatArray | null,
  R: number,
  D: number,
  mode: BagMode = 'sum',
): T {
  checkEmbeddingBag(table, indices, offsets, weights, R, D, mode);
  const B = bagCount(indices, offsets);
  const out = like(table, B * D) as T;
  const acc = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    const start = offsets ? offsets[b] : b;
    const end = offsets ? offsets[b + 1] : b + 1;
    acc.fill(0);
    for (let j = start; j < end; j++) {
      const s = weights ? weights[j] : 1;
      const row = indices[j] * D;
      for (let d = 0; d < D; d++) acc[d] += s * table[row + d];
    }
    const n = mode === 'mean' && end > start ? end - start : 1;
    for (let d = 0; d < D; d++) out[b * D + d] = acc[d] / n;
  }
  return out;
}

// ------------------------------------------------------------------------------------ backward

/**
 * dRows (U, D): the table's gradient for the U rows the batch touched, one thread per (u, d)
 * summing its row's segment of the sorted positions in order (see embeddingBagPlan).
 */
export const embeddingBagBackwardRows = defineKernel({
  name: 'embedding_bag.backward_rows',
  source,
  entryPoint: 'backward_rows',
  bindings: [
    { name: 'offsets', kind: 'read' },
    { name: 'weights', kind: 'read' },
    { name: 'sorted_pos', kind: 'read' },
    { name: 'sorted_bag', kind: 'read' },
    { name: 'segments', kind: 'read' },
    { name: 'dy', kind: 'read' },
    { name: 'grad_rows', kind: 'write' },
  ],
  params: [
    ['U', 'u32'],
    ['D', 'u32'],
    ['mean', 'u32'],
    ['has_offsets', 'u32'],
    ['has_weights', 'u32'],
  ],
  overrides: { WG: 64 },
});

/** dWeights (nnz): dWeights[j] = table[indices[j]] · dy[bag of j] (weighted sum mode). */
export const embeddingBagBackwardWeights = defineKernel({
  name: 'embedding_bag.backward_weights',
  source,
  entryPoint: 'backward_weights',
  bindings: [
    { name: 'table', kind: 'read' },
    { name: 'indices', kind: 'read' },
    { name: 'offsets', kind: 'read' },
    { name: 'dy', kind: 'read' },
    { name: 'grad_weights', kind: 'write' },
  ],
  params: [
    ['nnz', 'u32'],
    ['B', 'u32'],
    ['D', 'u32'],
    ['R', 'u32'],
    ['has_offsets', 'u32'],
  ],
  overrides: { WG: 64 },
});

/** What the backward needs to know about a batch's indices: who hits which row, in order. */
export interface EmbeddingBagPlan {
  /** (U) the table rows the batch touched, ascending: the rows an optimizer updates. */
  rows: Uint32Array;
  /** (U+1) positions sortedPos[segments[u] .. segments[u+1]) all hit rows[u]. */
  segments: Uint32Array;
  /** (nnz) positions j sorted by (indices[j], j). */
  sortedPos: Uint32Array;
  /** (nnz) the bag of sortedPos[k]. */
  sortedBag: Uint32Array;
}

/**
 * Sorts a batch's (index, position) pairs into one segment per unique row, for the
 * deterministic backward. It runs on the CPU: the indices are there already (the loader uploads
 * them), a batch holds few of them (≤ ~10⁵), and an LSD radix sort (8-bit digits, only as
 * many passes as the largest index needs) is O(nnz) — well under a millisecond. The CPU also
 * needs U, the unique count, to size the backward and the optimizer's dispatch, which a GPU
 * sort would have to read back anyway.
 * @example const { rows, segments } = embeddingBagPlan(new Uint32Array([5, 2, 5]), null); // rows [2, 5], segments [0,
 * 1, 3]
 */
export function embeddingBagPlan(indices: Uint32Array, offsets: Uint32Array | null): EmbeddingBagPlan {
  const nnz = indices.length;
  let maxIndex = 0;
  for (let j = 0; j < nnz; j++) maxIndex = Math.max(maxIndex, indices[j]);
  let src = new Uint32Array(nnz);
  for (let j = 0; j < nnz; j++) src[j] = j;
  let dst = new Uint32Array(nnz);
  const count = new Uint32Array(256);
  // Stable passes from the lowest byte up: ties keep position order, so pairs sort by (index, j).
  for (let shift = 0; shift < 32 && maxIndex >>> shift > 0; shift += 8) {
    count.fill(0);
    for (let k = 0; k < nnz; k++) count[(indices[src[k]] >>> shift) & 255]++;
    for (let digit = 0, start = 0; digit < 256; digit++) {
      const c = count[digit];
      count[digit] = start;
      start += c;
    }
    for (let k = 0; k < nnz; k++) dst[count[(indices[src[k]] >>> shift) & 255]++] = src[k];
    [src, dst] = [dst, src];
  }
  const sortedPos = src;
  const bagOf = dst; // free scratch now: the bag of every position
  if (offsets) {
    for (let b = 0; b + 1 < offsets.length; b++) bagOf.fill(b, offsets[b], offsets[b + 1]);
  } else {
    for (let j = 0; j < nnz; j++) bagOf[j] = j;
  }
  const sortedBag = new Uint32Array(nnz);
  const starts: number[] = [];
  for (let k = 0; k < nnz; k++) {
    sortedBag[k] = bagOf[sortedPos[k]];
    if (k === 0 || indices[sortedPos[k]] !== indices[sortedPos[k - 1]]) starts.push(k);
  }
  const U = starts.length;
  const rows = new Uint32Array(U);
  const segments = new Uint32Array(U + 1);
  for (let u = 0; u < U; u++) {
    segments[u] = starts[u];
    rows[u] = indices[sortedPos[starts[u]]];
  }
  segments[U] = nnz;
  return { rows, segments, sortedPos, sortedBag };
}

/**
 * CPU reference of the backward: the forward's inputs, then dy (B, D) → the rows the batch
 * touched (ascending), the table's gradient for them dRows (U, D), and for weighted bags
 * dWeights (nnz). `table` is needed only for dWeights. Returns dy's array type. Accumulated in
 * float64, independently of embeddingBagPlan.
 * @example const { rows, dRows } = embeddingBagBackwardReference(null, indices, offsets, null, dy, R, D, 'mean');
 */
export function embeddingBagBackwardReference<T extends FloatArray>(
  table: FloatArray | null,
  indices: Uint32Array,
  offsets: Uint32Array | null,
  weights: FloatArray | null,
  dy: T,
  R: number,
  D: number,
  mode: BagMode = 'sum',
): { rows: Uint32Array; dRows: T; dWeights: T | null } {
  checkEmbeddingBag(table, indices, offsets, weights, R, D, mode);
  const B = bagCount(indices, offsets);
  check(dy.length === B * D, `embedding_bag: dy has ${dy.length} values, expected B·D = ${B}·${D} = ${B * D}.`);
  check(weights === null || table !== null, 'embedding_bag: the gradient of weights needs the table.');
  const grads = new Map<number, Float64Array>();
  const dWeights = weights ? (like(dy, indices.length) as T) : null;
  for (let b = 0; b < B; b++) {
    const start = offsets ? offsets[b] : b;
    const end = offsets ? offsets[b + 1] : b + 1;
    const n = mode === 'mean' ? end - start : 1;
    for (let j = start; j < end; j++) {
      const row = indices[j];
      let g = grads.get(row);
      if (!g) grads.set(row, (g = new Float64Array(D)));
      const s = (weights ? weights[j] : 1) / n;
      let dot = 0;
      for (let d = 0; d < D; d++) {
        g[d] += s * dy[b * D + d];
        if (dWeights) dot += table![row * D + d] * dy[b * D + d];
      }
      if (dWeights) dWeights[j] = dot;
    }
  }
  const rows = Uint32Array.from(grads.keys()).sort();
  const dRows = like(dy, rows.length * D) as T;
  rows.forEach((row, u) => dRows.set(grads.get(row)!, u * D));
  return { rows, dRows, dWeights };
}
