// embedding_bag: the kernel's declaration and its CPU reference (same argument order).
// Legend: R table rows, D embedding dim, B bags, nnz indices over all bags.
import source from './embedding_bag.wgsl?raw';
import { check, defineKernel } from './kernel.ts';
import { like, type FloatArray } from './testing.ts';

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
  params: [['B', 'u32'], ['D', 'u32'], ['R', 'u32'], ['mean', 'u32'], ['has_offsets', 'u32'], ['has_weights', 'u32']],
  overrides: { WG: 64 },
});

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
  check(Number.isInteger(R) && R > 0 && Number.isInteger(D) && D > 0, `embedding_bag: R, D must be positive integers, got ${R}, ${D}.`);
  check(BAG_MODES.includes(mode), `embedding_bag: mode '${mode}' is unknown: expected one of ${BAG_MODES.join(', ')}.`);
  check(table === null || table.length === R * D, `embedding_bag: table has ${table?.length} values, expected R·D = ${R}·${D} = ${R * D}.`);
  check(indices instanceof Uint32Array, 'embedding_bag: indices must be a Uint32Array.');
  const nnz = indices.length;
  if (offsets) {
    check(offsets instanceof Uint32Array, 'embedding_bag: offsets must be a Uint32Array.');
    check(offsets.length >= 2, `embedding_bag: offsets has ${offsets.length} values, expected B+1 ≥ 2.`);
    check(offsets[0] === 0, `embedding_bag: offsets[0] is ${offsets[0]}, expected 0.`);
    for (let b = 1; b < offsets.length; b++) {
      check(offsets[b] >= offsets[b - 1], `embedding_bag: offsets[${b}] = ${offsets[b]} is less than offsets[${b - 1}] = ${offsets[b - 1]}: offsets must not decrease.`);
    }
    check(offsets[offsets.length - 1] === nnz, `embedding_bag: offsets[B] is ${offsets[offsets.length - 1]}, expected nnz = indices.length = ${nnz}.`);
  } else {
    check(nnz >= 1, 'embedding_bag: indices is empty: a plain lookup needs at least one index.');
  }
  check(weights === null || weights.length === nnz, `embedding_bag: weights has ${weights?.length} values, expected one per index (nnz = ${nnz}).`);
  check(weights === null || mode === 'sum', `embedding_bag: per-sample weights need mode 'sum', got mode '${mode}'.`);
  for (let j = 0; j < nnz; j++) {
    if (indices[j] >= R) check(false, `embedding_bag: indices[${j}] = ${indices[j]} is outside the table (R = ${R} rows).`);
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
