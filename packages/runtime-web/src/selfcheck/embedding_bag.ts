import { describeMismatch, embeddingBagReference, maxRelError, testRng, type BagMode } from '@vireo/shaders';
import { embeddingBag } from '../ops/embedding_bag.ts';
import type { KernelCheck } from './types.ts';

// float32 sums of ≤ 40 rows (or one row for a lookup) against a float64 reference: a few ulps.
const TOL = 1e-5;

/** Random bags of 0..maxLen rows of a table of R rows (empty bags included when maxLen allows). */
export function randomBags(rng: ReturnType<typeof testRng>, R: number, B: number, maxLen: number): { indices: Uint32Array; offsets: Uint32Array } {
  const offsets = new Uint32Array(B + 1);
  for (let b = 0; b < B; b++) offsets[b + 1] = offsets[b] + rng.int(maxLen + 1);
  const indices = Uint32Array.from({ length: offsets[B] }, () => rng.int(R));
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

export const embeddingBagChecks: KernelCheck[] = cases.map(([R, D, B, len, mode, weighted, large]) => ({
  kernel: 'embedding_bag',
  case: `R=${R} D=${D} B=${B} ${len === 0 ? 'lookup' : `bags≤${len} ${mode}${weighted ? ' weighted' : ''}`}`,
  tolerance: TOL,
  large,
  async run(gpu, seed) {
    const rng = testRng(seed);
    const table = rng.uniform(R * D);
    const { indices, offsets } = len === 0 ? { indices: Uint32Array.from({ length: B }, () => rng.int(R)), offsets: null } : randomBags(rng, R, B, len);
    const weights = weighted ? rng.uniform(indices.length, 0, 2) : null;
    const got = await embeddingBag(gpu, table, indices, offsets, weights, R, D, mode);
    const want = embeddingBagReference(table, indices, offsets, weights, R, D, mode);
    return { error: maxRelError(got, want), detail: describeMismatch(got, want) };
  },
}));
