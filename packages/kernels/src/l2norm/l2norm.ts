// l2norm: the kernel's declaration and its CPU reference (same argument order).
// Legend: M rows, D features per row.
import source from './l2norm.wgsl?raw';
import { check, defineKernel } from '../kernel.ts';
import { like, type FloatArray } from '../testing.ts';

/** y = x / max(‖x‖, eps) per row; x (M, D) → y (M, D), norm (M) = ‖x‖ saved for the backward. */
export const l2normForward = defineKernel({
  name: 'l2norm.forward',
  source,
  entryPoint: 'forward',
  bindings: [
    { name: 'x', kind: 'read' },
    { name: 'y', kind: 'write' },
    { name: 'norm', kind: 'write' },
  ],
  params: [
    ['M', 'u32'],
    ['D', 'u32'],
    ['eps', 'f32'],
  ],
  overrides: { WG: 64 },
});

/** PyTorch's default epsilon for F.normalize. */
export const L2NORM_EPS = 1e-12;

/** Checks the shapes of an l2norm call; throws a ShapeError naming the argument. */
export function checkL2norm(x: ArrayLike<number> | null, M: number, D: number, eps: number): void {
  check(
    Number.isInteger(M) && M > 0 && Number.isInteger(D) && D > 0,
    `l2norm: M, D must be positive integers, got ${M}, ${D}.`,
  );
  check(x === null || x.length === M * D, `l2norm: x has ${x?.length} values, expected M·D = ${M}·${D} = ${M * D}.`);
  check(Number.isFinite(eps) && eps > 0, `l2norm: eps must be a positive number, got ${eps}.`);
}

/**
 * CPU reference: y (M, D) = rows of x scaled to unit length, and norm (M) = ‖x_m‖ before the
 * eps clamp; accumulated in float64.
 * @example const { y } = l2normReference(x, M, D);
 */
export function l2normReference<T extends FloatArray>(x: T, M: number, D: number, eps = L2NORM_EPS): { y: T; norm: T } {
  checkL2norm(x, M, D, eps);
  const y = like(x, M * D) as T;
  const norm = like(x, M) as T;
  for (let m = 0; m < M; m++) {
    const base = m * D;
    let s = 0;
    for (let d = 0; d < D; d++) s += x[base + d] * x[base + d];
    const n = Math.sqrt(s);
    const inv = 1 / Math.max(n, eps);
    for (let d = 0; d < D; d++) y[base + d] = x[base + d] * inv;
    norm[m] = n;
  }
  return { y, norm };
}

// ------------------------------------------------------------------------------------ backward

/** dx (M, D) from x, the saved norm and dy: one workgroup per row. */
export const l2normBackwardKernel = defineKernel({
  name: 'l2norm.backward',
  source,
  entryPoint: 'backward',
  bindings: [
    { name: 'x', kind: 'read' },
    { name: 'norm', kind: 'read' },
    { name: 'dy', kind: 'read' },
    { name: 'dx', kind: 'write' },
  ],
  params: [
    ['M', 'u32'],
    ['D', 'u32'],
    ['eps', 'f32'],
    ['accumulate', 'u32'],
  ],
  overrides: { WG: 64 },
});

/**
 * CPU reference of the backward: x, the saved norm, then dy → dx (M, D). With n = ‖x‖,
 * dx = (dy − x·(x·dy)/n²)/n, or dy/eps where n ≤ eps. Accumulated in float64.
 * @example const dx = l2normBackwardReference(x, norm, dy, M, D);
 */
export function l2normBackwardReference<T extends FloatArray>(
  x: T,
  norm: FloatArray,
  dy: FloatArray,
  M: number,
  D: number,
  eps = L2NORM_EPS,
): T {
  checkL2norm(x, M, D, eps);
  check(dy.length === M * D, `l2norm: dy has ${dy.length} values, expected M·D = ${M}·${D} = ${M * D}.`);
  check(norm.length === M, `l2norm: norm has ${norm.length} values, expected M = ${M}.`);
  const dx = like(x, M * D) as T;
  for (let m = 0; m < M; m++) {
    const base = m * D;
    const n = norm[m];
    if (n <= eps) {
      for (let d = 0; d < D; d++) dx[base + d] = dy[base + d] / eps;
      continue;
    }
    let dot = 0;
    for (let d = 0; d < D; d++) dot += x[base + d] * dy[base + d];
    const along = dot / (n * n);
    for (let d = 0; d < D; d++) dx[base + d] = (dy[base + d] - x[base + d] * along) / n;
  }
  return dx;
}
