import { describeMismatch, maxRelError, testRng } from '../testing.ts';
import { linearReference, type Activation } from './linear.ts';
import { linear } from './linear.op.ts';
import type { KernelCheck } from '../check.ts';

// float32 on the GPU against a float64-accumulated reference: tile-ordered sums of K ≤ 512
// products stay well within 1e-5 of the output's scale.
const TOL = 1e-5;

const cases: [number, number, number, Activation, boolean?][] = [
  [1, 1, 1, 'none'],
  [1, 7, 13, 'relu'],
  [17, 31, 5, 'sigmoid'],
  [33, 64, 48, 'none'],
  [257, 13, 64, 'relu'],
  [1000, 512, 256, 'relu', true],
];

export const linearChecks: KernelCheck[] = cases.map(([M, K, N, act, large]) => ({
  kernel: 'linear',
  case: `M=${M} K=${K} N=${N} ${act}`,
  tolerance: TOL,
  large,
  async run(gpu, seed) {
    const rng = testRng(seed);
    const x = rng.uniform(M * K);
    const w = rng.uniform(N * K, -0.5, 0.5);
    const b = rng.uniform(N);
    const got = await linear(gpu, x, w, b, M, K, N, act);
    const want = linearReference(x, w, b, M, K, N, act);
    return { error: maxRelError(got, want), detail: describeMismatch(got, want) };
  },
}));
