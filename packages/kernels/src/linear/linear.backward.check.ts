import { testRng } from '../testing.ts';
import { linearBackwardReference, linearReference, type Activation } from './linear.ts';
import { linearGrads } from './linear.op.ts';
import { type KernelCheck, worstOf } from '../check.ts';

// float32 tile-ordered sums of ≤ 1024 products against float64: well within 1e-5 of the scale.
const LINEAR_TOL = 1e-5;
const linearCases: [number, number, number, Activation, boolean?][] = [
  [1, 1, 1, 'none'],
  [1, 7, 13, 'relu'],
  [17, 31, 5, 'sigmoid'],
  [33, 64, 48, 'none'],
  [257, 13, 64, 'relu'],
  [1024, 128, 96, 'sigmoid', true],
];

export const linearBackwardChecks: KernelCheck[] = linearCases.map(([M, K, N, act, large]) => ({
  kernel: 'linear.backward',
  case: `M=${M} K=${K} N=${N} ${act}`,
  tolerance: LINEAR_TOL,
  large,
  async run(gpu, seed) {
    const rng = testRng(seed);
    const x = rng.uniform(M * K);
    const w = rng.uniform(N * K, -0.5, 0.5);
    const b = rng.uniform(N);
    const y = linearReference(x, w, b, M, K, N, act);
    const dy = rng.uniform(M * N);
    const got = await linearGrads(gpu, x, w, y, dy, M, K, N, act);
    const want = linearBackwardReference(x, w, y, dy, M, K, N, act);
    return worstOf({ dx: [got.dx, want.dx], dw: [got.dw, want.dw], db: [got.db, want.db] });
  },
}));
