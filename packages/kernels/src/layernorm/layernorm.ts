// layernorm: the kernel's declaration and its CPU reference (same argument order).
// Legend: M rows, D features per row.
import source from './layernorm.wgsl?raw';
import { check, defineKernel } from '../kernel.ts';
import { like, type FloatArray } from '../testing.ts';

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
  params: [
    ['M', 'u32'],
    ['D', 'u32'],
    ['eps', 'f32'],
  ],
  overrides: { WG: 64 },
});

/** PyTorch's default epsilon for LayerNorm. */
export const LAYERNORM_EPS = 1e-5;

/** Checks the shapes of a layernorm call; throws a ShapeError naming the argument. */
export function checkLayernorm(
  x: ArrayLike<number> | null,
  gamma: ArrayLike<number> | null,
  beta: ArrayLike<number> | null,
  M: number,
  D: number,
  eps: number,
): void {
  check(
    Number.isInteger(M) && M > 0 && Number.isInteger(D) && D > 0,
    `layernorm: M, D must be positive integers, got ${M}, ${D}.`,
  );
  check(x === null || x.length === M * D, `layernorm: x has ${x?.length} values, expected M·D = ${M}·${D} = ${M * D}.`);
  check(gamma === null || gamma.length === D, `layernorm: gamma has ${gamma?.length} values, expected D = ${D}.`);
  check(beta === null || beta.length === D, `layernorm: beta has ${beta?.length} values, expected D = ${D}.`);
  check(Number.isFinite(eps) && eps > 0, `layernorm: eps must be a positive number, got ${eps}.`);
}

/**
 * CPU reference: y (M, D) and the saved mean, rstd (M) of every row; accumulated in float64.
 * @example const { y, mean, rstd } = layernormReference(x, gamma, beta, M, D);
 */
export function layernormReference<T extends FloatArray>(
  x: T,
  gamma: FloatArray,
  beta: FloatArray,
  M: number,
  D: number,
  eps = LAYERNORM_EPS,
): { y: T; mean: T; rstd: T } {
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

// ------------------------------------------------------------------------------------ backward

const backwardBindings = [
  { name: 'x', kind: 'read' },
  { name: 'gamma', kind: 'read' },
  { name: 'mean', kind: 'read' },
  { name: 'rstd', kind: 'read' },
  { name: 'dy', kind: 'read' },
  { name: 'dx', kind: 'write' },
  { name: 'dgamma', kind: 'write' },
  { name: 'dbeta', kind: 'write' },
] as const;

/** dx (M, D) from x, gamma, the saved mean, rstd and dy: one workgroup per row. */
export const layernormBackwardInput = defineKernel({
  name: 'layernorm.backward_input',
  source,
  entryPoint: 'backward_input',
  bindings: backwardBindings,
  params: [
    ['M', 'u32'],
    ['D', 'u32'],
    ['accumulate', 'u32'],
  ],
  overrides: { WG: 64 },
});

/** dgamma, dbeta (D) summed over the M rows: one workgroup per COLS = 16 columns. */
export const layernormBackwardParams = defineKernel({
  name: 'layernorm.backward_params',
  source,
  entryPoint: 'backward_params',
  bindings: backwardBindings,
  params: [
    ['M', 'u32'],
    ['D', 'u32'],
    ['accumulate', 'u32'],
  ],
  overrides: { COLS: 16, LANES: 16 },
});

/** Workgroups of layernormBackwardParams for D columns. */
export function layernormParamsWorkgroups(D: number, cols = 16): number {
  return Math.ceil(D / cols);
}

/**
 * CPU reference of the backward (llm.c's layernorm_backward): the forward's inputs, the saved
 * mean and rstd, then dy → dx (M, D), dgamma and dbeta (D). Accumulated in float64.
 * @example const { dx, dgamma, dbeta } = layernormBackwardReference(x, gamma, mean, rstd, dy, M, D);
 */
export function layernormBackwardReference<T extends FloatArray>(
  x: T,
  gamma: FloatArray,
  mean: FloatArray,
  rstd: FloatArray,
  dy: FloatArray,
  M: number,
  D: number,
): { dx: T; dgamma: T; dbeta: T } {
  checkLayernorm(x, gamma, null, M, D, LAYERNORM_EPS);
  check(dy.length === M * D, `layernorm: dy has ${dy.length} values, expected M·D = ${M}·${D} = ${M * D}.`);
  check(
    mean.length === M && rstd.length === M,
    `layernorm: mean and rstd have ${mean.length} and ${rstd.length} values, expected M = ${M}.`,
  );
  const dx = like(x, M * D) as T;
  const dgamma = like(x, D) as T;
  const dbeta = like(x, D) as T;
  const gs = new Float64Array(D);
  const dg = new Float64Array(D);
  const db = new Float64Array(D);
  for (let m = 0; m < M; m++) {
    const base = m * D;
    const r = rstd[m];
    let s1 = 0;
    let s2 = 0;
    for (let d = 0; d < D; d++) {
      const n = (x[base + d] - mean[m]) * r;
      const g = gamma[d] * dy[base + d];
      s1 += g;
      s2 += g * n;
      dg[d] += dy[base + d] * n;
      db[d] += dy[base + d];
      gs[d] = n;
    }
    for (let d = 0; d < D; d++) dx[base + d] = r * (gamma[d] * dy[base + d] - s1 / D - gs[d] * (s2 / D));
  }
  dgamma.set(dg);
  dbeta.set(db);
  return { dx, dgamma, dbeta };
}
