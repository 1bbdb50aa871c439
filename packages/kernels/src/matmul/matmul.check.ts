// Kernel check: the tuned matmul and its direct variant against matmulReference (float64), on sizes
// that are and are not multiples of the 64×64 block and the 16-wide K step. Tolerance: float32 sums
// of K ≤ 300 products of values in [-1, 1], relative to the output's scale: 1e-5.
import type { KernelCheck } from '../check.ts';
import { describeMismatch, maxRelError, testRng } from '../testing.ts';
import { matmulReference } from './matmul.ts';
import { matmul, type MatmulVariant } from './matmul.op.ts';

const TOL = 1e-5;
const cases: [number, number, number, boolean?][] = [
  [1, 1, 1],
  [64, 16, 64],
  [70, 37, 65],
  [130, 300, 129],
  [512, 256, 512, true],
];

export const matmulChecks: KernelCheck[] = (['tiled', 'direct'] as MatmulVariant[]).flatMap((variant) =>
  cases.map(([M, K, N, large]) => ({
    kernel: variant === 'tiled' ? 'matmul' : 'matmul.direct',
    case: `M=${M} K=${K} N=${N}`,
    tolerance: TOL,
    large,
    async run(gpu, seed) {
      const rng = testRng(seed);
      const x = rng.uniform(M * K);
      const w = rng.uniform(N * K);
      const got = await matmul(gpu, x, w, M, K, N, variant);
      const want = matmulReference(Float64Array.from(x), w, M, K, N);
      return { error: maxRelError(got, want), detail: describeMismatch(got, want) };
    },
  })),
);
