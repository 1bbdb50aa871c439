import { describeMismatch, maxRelError, testRng } from '../testing.ts';
import { l2normBackwardReference, l2normReference } from './l2norm.ts';
import { l2norm, l2normBackward } from './l2norm.op.ts';
import type { KernelCheck } from '../check.ts';

// float32 row norms from a fixed-order tree sum against float64: a few ulps of the scale.
const TOL = 1e-5;

// [M, D, a zero row included (the eps clamp), large]
const cases: [number, number, boolean, boolean?][] = [
  [1, 1, false],
  [3, 13, true],
  [17, 64, false],
  [61, 129, true],
  [256, 128, false],
  [4096, 128, false, true],
];

const forwardChecks: KernelCheck[] = cases.map(([M, D, zeroRow, large]) => ({
  kernel: 'l2norm',
  case: `M=${M} D=${D}${zeroRow ? ' zero row' : ''}`,
  tolerance: TOL,
  large,
  async run(gpu, seed) {
    const rng = testRng(seed);
    const x = rng.uniform(M * D);
    if (zeroRow) x.fill(0, (M - 1) * D, M * D);
    const got = await l2norm(gpu, x, M, D);
    const want = l2normReference(x, M, D);
    const ey = maxRelError(got.y, want.y);
    const en = maxRelError(got.norm, want.norm);
    return ey >= en
      ? { error: ey, detail: `y: ${describeMismatch(got.y, want.y)}` }
      : { error: en, detail: `norm: ${describeMismatch(got.norm, want.norm)}` };
  },
}));

// float32 against float64 given the same (float32) saved norm: one row sum per row, then a
// few operations per value; within 1e-5 of dx's scale. The zero row takes the eps branch.
const backwardChecks: KernelCheck[] = cases.map(([M, D, zeroRow, large]) => ({
  kernel: 'l2norm.backward',
  case: `M=${M} D=${D}${zeroRow ? ' zero row' : ''}`,
  tolerance: TOL,
  large,
  async run(gpu, seed) {
    const rng = testRng(seed);
    const x = rng.uniform(M * D);
    // A zero row's dx is dy/eps = 1e12·dy: it would swamp the other rows' scale, so its dy is 0.
    const dy = rng.uniform(M * D);
    if (zeroRow) {
      x.fill(0, (M - 1) * D, M * D);
      dy.fill(0, (M - 1) * D, M * D);
    }
    const { norm } = l2normReference(x, M, D);
    const got = await l2normBackward(gpu, x, norm, dy, M, D);
    const want = l2normBackwardReference(x, norm, dy, M, D);
    // With D = 1 the exact gradient is 0 (a 1-D unit vector cannot change): measure the GPU's
    // rounding residual against the incoming gradient's scale, max |dy| / ‖x‖, instead.
    let dyScale = 0;
    for (let m = 0; m < M; m++)
      for (let d = 0; d < D; d++) dyScale = Math.max(dyScale, Math.abs(dy[m * D + d]) / Math.max(norm[m], 1e-12));
    return { error: maxRelError(got, want, dyScale), detail: describeMismatch(got, want) };
  },
}));

// eps = 10 clamps every row (‖x‖ ≤ √D·1 < 10): dx = dy/eps, the other branch of the kernel.
const clampedCheck: KernelCheck = {
  kernel: 'l2norm.backward',
  case: 'M=7 D=9 eps=10 (all rows clamped)',
  tolerance: TOL,
  async run(gpu, seed) {
    const [M, D, eps] = [7, 9, 10];
    const rng = testRng(seed);
    const x = rng.uniform(M * D);
    const dy = rng.uniform(M * D);
    const { norm } = l2normReference(x, M, D, eps);
    const got = await l2normBackward(gpu, x, norm, dy, M, D, eps);
    const want = l2normBackwardReference(x, norm, dy, M, D, eps);
    return { error: maxRelError(got, want), detail: describeMismatch(got, want) };
  },
};

export const l2normChecks: KernelCheck[] = [...forwardChecks, ...backwardChecks, clampedCheck];
