// linear: the kernel's declaration and its CPU reference (same argument order).
import source from './linear.wgsl?raw';
import { check, defineKernel } from '../kernel.ts';
import { like, type FloatArray } from '../testing.ts';

export type Activation = 'none' | 'relu' | 'sigmoid';
export const ACTIVATIONS: Record<Activation, number> = { none: 0, relu: 1, sigmoid: 2 };

/** y = act(x · wᵀ + b); x (M,K), w (N,K), b (N), y (M,N). */
export const linearForward = defineKernel({
  name: 'linear.forward',
  source,
  entryPoint: 'forward',
  bindings: [
    { name: 'x', kind: 'read' },
    { name: 'w', kind: 'read' },
    { name: 'b', kind: 'read' },
    { name: 'y', kind: 'write' },
  ],
  params: [
    ['M', 'u32'],
    ['K', 'u32'],
    ['N', 'u32'],
    ['act', 'u32'],
    ['has_bias', 'u32'],
  ],
  overrides: { TILE: 16 },
});

/** Workgroups for a linear of (M, N) outputs with the default TILE. */
export function linearWorkgroups(M: number, N: number, tile = 16): number {
  return Math.ceil(M / tile) * Math.ceil(N / tile);
}

/** Checks the shapes of a linear call; throws a ShapeError naming the argument. */
export function checkLinear(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  M: number,
  K: number,
  N: number,
): void {
  check(
    Number.isInteger(M) && M > 0 && Number.isInteger(K) && K > 0 && Number.isInteger(N) && N > 0,
    `linear: M, K, N must be positive integers, got ${M}, ${K}, ${N}.`,
  );
  check(x.length === M * K, `linear: x has ${x.length} values, expected M·K = ${M}·${K} = ${M * K}.`);
  check(w.length === N * K, `linear: w has ${w.length} values, expected N·K = ${N}·${K} = ${N * K}.`);
  check(b === null || b.length === N, `linear: b has ${b?.length} values, expected N = ${N}.`);
}

/** CPU reference: y = act(x · wᵀ + b), accumulated in float64. */
export function linearReference<T extends FloatArray>(
  x: T,
  w: FloatArray,
  b: FloatArray | null,
  M: number,
  K: number,
  N: number,
  act: Activation = 'none',
): T {
  checkLinear(x, w, b, M, K, N);
  const y = like(x, M * N) as T;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = b ? b[n] : 0;
      for (let k = 0; k < K; k++) acc += x[m * K + k] * w[n * K + k];
      y[m * N + n] = act === 'relu' ? Math.max(acc, 0) : act === 'sigmoid' ? 1 / (1 + Math.exp(-acc)) : acc;
    }
  }
  return y;
}

/**
 * Backward of linear, one dispatch: dx = dz · w, dw = dzᵀ · x, db = Σ_m dz, with
 * dz = dy ⊙ act'(z) where act' is read from the forward OUTPUT y (relu: y > 0; sigmoid:
 * y·(1 − y)). x (M,K), w (N,K), y (M,N), dy (M,N) → dx (M,K), dw (N,K), db (N).
 * Bind a 4-byte dummy for dx when need_dx = 0 and for db when has_bias = 0.
 */
export const linearBackward = defineKernel({
  name: 'linear.backward',
  source,
  entryPoint: 'backward',
  bindings: [
    { name: 'x', kind: 'read' },
    { name: 'w', kind: 'read' },
    { name: 'y', kind: 'read' },
    { name: 'dy', kind: 'read' },
    { name: 'dx', kind: 'write' },
    { name: 'dw', kind: 'write' },
    { name: 'db', kind: 'write' },
  ],
  params: [
    ['M', 'u32'],
    ['K', 'u32'],
    ['N', 'u32'],
    ['act', 'u32'],
    ['has_bias', 'u32'],
    ['need_dx', 'u32'],
    ['accumulate', 'u32'],
  ],
  overrides: { TILE: 16 },
});

/** Workgroups for linear.backward: dx tiles (when needed) then dw tiles. */
export function linearBackwardWorkgroups(M: number, K: number, N: number, needDx = true, tile = 16): number {
  const tilesK = Math.ceil(K / tile);
  return (needDx ? Math.ceil(M / tile) * tilesK : 0) + Math.ceil(N / tile) * tilesK;
}

/** Checks the shapes of a linear backward call; throws a ShapeError naming the argument. */
export function checkLinearBackward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  y: ArrayLike<number>,
  dy: ArrayLike<number>,
  M: number,
  K: number,
  N: number,
): void {
  checkLinear(x, w, null, M, K, N);
  check(y.length === M * N, `linear.backward: y has ${y.length} values, expected M·N = ${M}·${N} = ${M * N}.`);
  check(dy.length === M * N, `linear.backward: dy has ${dy.length} values, expected M·N = ${M}·${N} = ${M * N}.`);
}

/**
 * CPU reference of linear.backward (same argument order as the kernel), float64 accumulation.
 * `y` is the forward output act(x · wᵀ + b). db is always returned (the kernel skips it when
 * has_bias = 0).
 */
export function linearBackwardReference<T extends FloatArray>(
  x: T,
  w: FloatArray,
  y: FloatArray,
  dy: FloatArray,
  M: number,
  K: number,
  N: number,
  act: Activation = 'none',
): { dx: T; dw: T; db: T } {
  checkLinearBackward(x, w, y, dy, M, K, N);
  const dz = new Float64Array(M * N);
  for (let i = 0; i < M * N; i++) {
    dz[i] = act === 'relu' ? (y[i] > 0 ? dy[i] : 0) : act === 'sigmoid' ? dy[i] * y[i] * (1 - y[i]) : dy[i];
  }
  const dx = like(x, M * K) as T;
  const dw = like(x, N * K) as T;
  const db = like(x, N) as T;
  const row = new Float64Array(K);
  for (let m = 0; m < M; m++) {
    row.fill(0);
    for (let n = 0; n < N; n++) {
      const g = dz[m * N + n];
      if (g === 0) continue;
      for (let k = 0; k < K; k++) row[k] += g * w[n * K + k];
    }
    dx.set(row, m * K);
  }
  const acc = new Float64Array(N * K);
  const bias = new Float64Array(N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      const g = dz[m * N + n];
      bias[n] += g;
      if (g === 0) continue;
      for (let k = 0; k < K; k++) acc[n * K + k] += g * x[m * K + k];
    }
  }
  dw.set(acc);
  db.set(bias);
  return { dx, dw, db };
}

// ------------------------------------------------------------------------- direct (no barriers)

/** linear.forward without workgroup memory or barriers (one thread per output): for CPU adapters. */
export const linearForwardDirect = defineKernel({
  ...linearForward,
  name: 'linear.forward_direct',
  entryPoint: 'forward_direct',
  overrides: {},
});

/** linear.backward without workgroup memory or barriers (one thread per dx, dw, db value): for CPU adapters. */
export const linearBackwardDirect = defineKernel({
  ...linearBackward,
  name: 'linear.backward_direct',
  entryPoint: 'backward_direct',
  overrides: {},
});

/** Threads per workgroup of the direct kernels. */
export const LINEAR_DIRECT_WG = 64;

/** Workgroups of linear.forward_direct: a thread per output. */
export function linearDirectWorkgroups(M: number, N: number): number {
  return Math.ceil((M * N) / LINEAR_DIRECT_WG);
}

/** Workgroups of linear.backward_direct: a thread per dx (when needed), dw and db (when has_bias) value. */
export function linearBackwardDirectWorkgroups(M: number, K: number, N: number, needDx = true, hasBias = true): number {
  return Math.ceil(((needDx ? M * K : 0) + N * K + (hasBias ? N : 0)) / LINEAR_DIRECT_WG);
}
