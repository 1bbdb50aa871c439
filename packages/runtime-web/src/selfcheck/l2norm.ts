import { describeMismatch, l2normReference, maxRelError, testRng } from '@vireo/shaders';
import { l2norm } from '../ops/l2norm.ts';
import type { KernelCheck } from './types.ts';

// float32 row norms from a fixed-order tree sum against float64: a few ulps of the scale.
const TOL = 1e-5;

// [M, D, a zero row included (the eps clamp), large]
const cases: [number, number, boolean, boolean?][] = [
  [1, 1, false],
  [3, 13, true],
  [17, 64, false],
  [61, 129, true],
  [256, 128, false],
  [8192, 128, false, true],
];

export const l2normChecks: KernelCheck[] = cases.map(([M, D, zeroRow, large]) => ({
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
    return ey >= en ? { error: ey, detail: `y: ${describeMismatch(got.y, want.y)}` } : { error: en, detail: `norm: ${describeMismatch(got.norm, want.norm)}` };
  },
}));
