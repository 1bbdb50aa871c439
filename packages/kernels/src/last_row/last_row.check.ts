import { describeMismatch, maxRelError, testRng } from '../testing.ts';
import { lastRowBackwardReference, lastRowReference } from './last_row.ts';
import { lastRow, lastRowBackward } from './last_row.op.ts';
import type { CheckResult, KernelCheck } from '../check.ts';

// A copy (forward) and one float32 addition per value (backward): exact in the forward, within
// one rounding of the sum in the backward, so 1e-6 of the scale.
const TOL = 1e-6;

// [B, L, W, large]; lengths random in 0..L (empty rows included by chance, and B=3 forces one)
const cases: [number, number, number, boolean?][] = [
  [1, 1, 1],
  [3, 5, 7],
  [17, 20, 16],
  [512, 50, 64, true],
];

function inputs(B: number, L: number, W: number, seed: number) {
  const rng = testRng(seed);
  const lengths = Array.from({ length: B }, (_, b) => (b === 1 ? 0 : rng.int(L + 1)));
  return { rng, lengths, x: rng.uniform(B * L * W) };
}

const result = (got: Float32Array, want: ArrayLike<number>): CheckResult => ({
  error: maxRelError(got, want),
  detail: describeMismatch(got, want),
});

export const lastRowChecks: KernelCheck[] = cases.flatMap(([B, L, W, large]): KernelCheck[] => [
  {
    kernel: 'last_row',
    case: `forward B=${B} L=${L} W=${W}`,
    tolerance: TOL,
    large,
    async run(gpu, seed) {
      const { x, lengths } = inputs(B, L, W, seed);
      return result(await lastRow(gpu, x, lengths, B, L, W), lastRowReference(x, lengths, B, L, W));
    },
  },
  {
    kernel: 'last_row',
    case: `backward (accumulating) B=${B} L=${L} W=${W}`,
    tolerance: TOL,
    large,
    async run(gpu, seed) {
      const { rng, x: dxIn, lengths } = inputs(B, L, W, seed);
      const dy = rng.uniform(B * W);
      const want = lastRowBackwardReference(dy, lengths, B, L, W);
      for (let i = 0; i < want.length; i++) want[i] += dxIn[i];
      return result(await lastRowBackward(gpu, dy, lengths, dxIn, B, L, W), want);
    },
  },
]);
