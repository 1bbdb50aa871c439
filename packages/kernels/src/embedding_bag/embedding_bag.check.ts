import { describeMismatch, maxRelError, testRng } from '../testing.ts';
import { embeddingBagBackwardReference, embeddingBagReference, type BagMode } from './embedding_bag.ts';
import { embeddingBag, embeddingBagBackward } from './embedding_bag.op.ts';
import type { KernelCheck } from '../check.ts';

// float32 sums of ≤ 40 rows (or one row for a lookup) against a float64 reference: a few ulps.
const TOL = 1e-5;

/**
 * Random bags of 0..maxLen rows of a table of R rows (empty bags included when maxLen allows).
 * `skewed`: low rows are drawn far more often (row = ⌊R·u³⌋), like popular items.
 */
export function randomBags(
  rng: ReturnType<typeof testRng>,
  R: number,
  B: number,
  maxLen: number,
  skewed = false,
): { indices: Uint32Array; offsets: Uint32Array } {
  const offsets = new Uint32Array(B + 1);
  for (let b = 0; b < B; b++) offsets[b + 1] = offsets[b] + rng.int(maxLen + 1);
  const indices = Uint32Array.from({ length: offsets[B] }, () =>
    skewed ? Math.floor(R * rng.next() ** 3) : rng.int(R),
  );
  return { indices, offsets };
}

// [R, D, B, bag length (0: plain lookup), mode, weighted, large]
const cases: [number, number, number, number, BagMode, boolean, boolean?][] = [
  [1, 1, 1, 0, 'sum', false],
  [1000, 13, 97, 0, 'sum', false],
  [101, 64, 37, 9, 'sum', false],
  [53, 17, 1, 7, 'mean', false],
  [509, 31, 61, 5, 'sum', true],
  [4099, 100, 23, 40, 'mean', false],
  [100_000, 64, 4096, 20, 'mean', false, true],
];

const forwardChecks: KernelCheck[] = cases.map(([R, D, B, len, mode, weighted, large]) => ({
  kernel: 'embedding_bag',
  case: `R=${R} D=${D} B=${B} ${len === 0 ? 'lookup' : `bags≤${len} ${mode}${weighted ? ' weighted' : ''}`}`,
  tolerance: TOL,
  large,
  async run(gpu, seed) {
    const rng = testRng(seed);
    const table = rng.uniform(R * D);
    const { indices, offsets } =
      len === 0
        ? { indices: Uint32Array.from({ length: B }, () => rng.int(R)), offsets: null }
        : randomBags(rng, R, B, len);
    const weights = weighted ? rng.uniform(indices.length, 0, 2) : null;
    const got = await embeddingBag(gpu, table, indices, offsets, weights, R, D, mode);
    const want = embeddingBagReference(table, indices, offsets, weights, R, D, mode);
    return { error: maxRelError(got, want), detail: describeMismatch(got, want) };
  },
}));

// [R, D, B, bag length (0: plain lookup), mode, weighted, skewed rows, large]
const backwardCases: [number, number, number, number, BagMode, boolean, boolean, boolean?][] = [
  [1, 1, 1, 0, 'sum', false, false],
  [7, 13, 50, 0, 'sum', false, false],
  [101, 64, 37, 9, 'sum', false, false],
  [53, 17, 29, 7, 'mean', false, true],
  [509, 31, 61, 5, 'sum', true, false],
  [100_000, 64, 4096, 20, 'mean', false, true, true],
];

// The backward's sums run per row in position order; the rows must match exactly. float32
// against float64: gradients summing ≤ a few thousand terms (the hot rows of the skewed
// case) stay within 1e-5 of the scale.
const backwardChecks: KernelCheck[] = backwardCases.map(([R, D, B, len, mode, weighted, skewed, large]) => ({
  kernel: 'embedding_bag.backward',
  case:
    `R=${R} D=${D} B=${B} ` +
    `${len === 0 ? 'lookup' : `bags≤${len} ${mode}${weighted ? ' weighted' : ''}`}${skewed ? ' skewed' : ''}`,
  tolerance: TOL,
  large,
  async run(gpu, seed) {
    const rng = testRng(seed);
    const table = rng.uniform(R * D);
    const { indices, offsets } =
      len === 0
        ? { indices: Uint32Array.from({ length: B }, () => rng.int(R)), offsets: null }
        : randomBags(rng, R, B, len, skewed);
    const weights = weighted ? rng.uniform(indices.length, 0, 2) : null;
    const dy = rng.uniform(B * D);
    const got = await embeddingBagBackward(gpu, table, indices, offsets, weights, dy, R, D, mode);
    const want = embeddingBagBackwardReference(table, indices, offsets, weights, dy, R, D, mode);
    if (got.rows.length !== want.rows.length || got.rows.some((r, u) => r !== want.rows[u])) {
      return { error: Infinity, detail: `rows: ${describeMismatch(got.rows, want.rows)}` };
    }
    const eRows = maxRelError(got.dRows, want.dRows);
    const eWeights = want.dWeights ? maxRelError(got.dWeights ?? [], want.dWeights) : 0;
    return eRows >= eWeights
      ? { error: eRows, detail: `dRows: ${describeMismatch(got.dRows, want.dRows)}` }
      : { error: eWeights, detail: `dWeights: ${describeMismatch(got.dWeights!, want.dWeights!)}` };
  },
}));

export const embeddingBagChecks: KernelCheck[] = [...forwardChecks, ...backwardChecks];
