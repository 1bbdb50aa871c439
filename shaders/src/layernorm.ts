// layernorm: the kernel's declaration and its CPU reference (same argument order).
// Legend: M rows, D features per row.
import source from './layernorm.wgsl?raw';
import { check, defineKernel } from './kernel.ts';
import { like, type FloatArray } from './testing.ts';

/** y = (x − mean)·rstd·gamma + beta per row; x (M,D), gamma/beta (D) → y (M,D), mean/rstd (M). */
export const layernormForward = defineKernel({
  name: 'layernorm.forward',
  source,
  entryPoint: 'forward',
  bindings: [
    { name: 'x', kind: 'read' },
    { name: 'gamma', kind: 'read' },
    { name: 'beta', kind: 'read' },
    { name: 'y', kind: 'write' },
    { name: 'mean', kind: 'write' },
    { name: 'rstd', kind: 'write' },
  ],
  params: [['M', 'u32'], ['D', 'u32'], ['eps', 'f32']],
  overrides: { WG: 64 },
});

/** PyTorch's default epsilon for LayerNorm. */
export const LAYERNORM_EPS = 1e-5;

/** Checks the shapes of a layernorm call; throws a ShapeError naming the argument. */
export function checkLayernorm(x: ArrayLike<number> | null, gamma: ArrayLike<number> | null, beta: ArrayLike<number> | null, M: number, D: number, eps: number): void {
  check(Number.isInteger(M) && M > 0 && Number.isInteger(D) && D > 0, `layernorm: M, D must be positive integers, got ${M}, ${D}.`);
  check(x === null || x.length === M * D, `layernorm: x has ${x?.length} values, expected M·D = ${M}·${D} = ${M * D}.`);
  check(gamma === null || gamma.length === D, `layernorm: gamma has ${gamma?.length} values, expected D = ${D}.`);
  check(beta === null || beta.length === D, `layernorm: beta has ${beta?.length} values, expected D = ${D}.`);
  check(Number.isFinite(eps) && eps > 0, `layernorm: eps must be a positive number, got ${eps}.`);
}

/**
 * CPU reference: y (M, D) and the saved mean, rstd (M) of every row; accumulated in float64.
 * @example const { y, mean, rstd } = layernormReference(x, gamma, beta, M, D);
 */
export function layernormReference<T extends FloatArray>(x: T, gamma: FloatArray, beta: FloatArray, M: number, D: number, eps = LAYERNORM_EPS): { y: T; mean: T; rstd: T } {
  checkLayernorm(x, gamma, beta, M, D, eps);
  const y = like(x, M * D) as T;
  const mean = like(x, M) as T;
  const rstd = like(x, M) as T;
  for (let m = 0; m < M; m++) {
    const base = m * D;
    let s = 0;
    for (let d = 0; d < D; d++) s += x[base + d];
    const mu = s / D;
    let v = 0;
    for (let d = 0; d < D; d++) v += (x[base + d] - mu) ** 2;
    const r = 1 / Math.sqrt(v / D + eps);
    for (let d = 0; d < D; d++) y[base + d] = (x[base + d] - mu) * r * gamma[d] + beta[d];
    mean[m] = mu;
    rstd[m] = r;
  }
  return { y, mean, rstd };
}
