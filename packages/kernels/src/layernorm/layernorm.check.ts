import { describeMismatch, maxRelError, testRng } from '../testing.ts';
import { layernormBackwardReference, layernormReference } from './layernorm.ts';
import { layernorm, layernormBackward } from './layernorm.op.ts';
import type { KernelCheck } from '../check.ts';

// float32 row statistics from a fixed-order tree sum against float64: y, mean and rstd each
// within a few ulps of their scale.
const TOL = 1e-5;

// [M, D, offset added to x (tests the two-pass variance), large]
const cases: [number, number, number, boolean?][] = [
  [1, 1, 0],
  [1, 7, 0],
  [13, 64, 0],
  [31, 100, 3],
  [97, 257, 0],
  [4096, 256, 0, true],
];

/** max |got − want| over max |scale| (NaN gives Infinity). */
function errorAgainstScale(got: ArrayLike<number>, want: ArrayLike<number>, scale: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < scale.length; i++) s = Math.max(s, Math.abs(scale[i]));
  let e = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= Infinity)) return Infinity;
    e = Math.max(e, d);
  }
  return e / Math.max(s, 1e-30);
}

const forwardChecks: KernelCheck[] = cases.map(([M, D, shift, large]) => ({
  kernel: 'layernorm',
  case: `M=${M} D=${D}${shift ? ` x+${shift}` : ''}`,
  tolerance: TOL,
  large,
  async run(gpu, seed) {
    const rng = testRng(seed);
    const x = rng.uniform(M * D, shift - 1, shift + 1);
    const gamma = rng.uniform(D, 0.5, 1.5);
    const beta = rng.uniform(D, -0.5, 0.5);
    const got = await layernorm(gpu, x, gamma, beta, M, D);
    const want = layernormReference(x, gamma, beta, M, D);
    // The mean is measured against the scale of x: a row mean near 0 (after cancellation) is
    // still right if its error is a few ulps of the values averaged.
    const errors = [
      maxRelError(got.y, want.y),
      errorAgainstScale(got.mean, want.mean, x),
      maxRelError(got.rstd, want.rstd),
    ];
    const worst = errors.indexOf(Math.max(...errors));
    const name = ['y', 'mean', 'rstd'][worst] as 'y' | 'mean' | 'rstd';
    return { error: errors[worst], detail: `${name}: ${describeMismatch(got[name], want[name])}` };
  },
}));

// [M, D, large]
const backwardCases: [number, number, boolean?][] = [
  [1, 1],
  [1, 7],
  [13, 64],
  [31, 100],
  [97, 257],
  [4096, 256, true],
];

// float32 against float64 given the same (float32) saved mean and rstd: dx from two row sums,
// dgamma/dbeta from fixed-order sums over ≤ 4096 rows, all within 1e-5 of their scale.
const backwardChecks: KernelCheck[] = backwardCases.map(([M, D, large]) => ({
  kernel: 'layernorm.backward',
  case: `M=${M} D=${D}`,
  tolerance: TOL,
  large,
  async run(gpu, seed) {
    const rng = testRng(seed);
    const x = rng.uniform(M * D, -1, 2);
    const gamma = rng.uniform(D, 0.5, 1.5);
    const beta = rng.uniform(D, -0.5, 0.5);
    const dy = rng.uniform(M * D);
    const { mean, rstd } = layernormReference(x, gamma, beta, M, D);
    const got = await layernormBackward(gpu, x, gamma, mean, rstd, dy, M, D);
    const want = layernormBackwardReference(x, gamma, mean, rstd, dy, M, D);
    let worst = { error: -1, detail: '' };
    // dx is a difference of terms of size |γ·dy|·rstd that cancel exactly when D = 1 (x̂ = 0): its
    // rounding is measured against that size, not against the (zero) result.
    let dxScale = 0;
    for (let i = 0; i < M * D; i++)
      dxScale = Math.max(dxScale, Math.abs(gamma[i % D] * dy[i] * rstd[Math.floor(i / D)]));
    for (const name of ['dx', 'dgamma', 'dbeta'] as const) {
      const error = maxRelError(got[name], want[name], name === 'dx' ? dxScale : 0);
      if (error > worst.error) worst = { error, detail: `${name}: ${describeMismatch(got[name], want[name])}` };
    }
    return worst;
  },
}));

export const layernormChecks: KernelCheck[] = [...forwardChecks, ...backwardChecks];
