// linear: the kernel's declaration and its CPU reference (same argument order).
import source from './linear.wgsl?raw';
import { check, defineKernel } from './kernel.ts';
import { like, type FloatArray } from './testing.ts';

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
  params: [['M', 'u32'], ['K', 'u32'], ['N', 'u32'], ['act', 'u32'], ['has_bias', 'u32']],
  overrides: { TILE: 16 },
});

/** Workgroups for a linear of (M, N) outputs with the default TILE. */
export function linearWorkgroups(M: number, N: number, tile = 16): number {
  return Math.ceil(M / tile) * Math.ceil(N / tile);
}

/** Checks the shapes of a linear call; throws a ShapeError naming the argument. */
export function checkLinear(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, M: number, K: number, N: number): void {
  check(Number.isInteger(M) && M > 0 && Number.isInteger(K) && K > 0 && Number.isInteger(N) && N > 0, `linear: M, K, N must be positive integers, got ${M}, ${K}, ${N}.`);
  check(x.length === M * K, `linear: x has ${x.length} values, expected M·K = ${M}·${K} = ${M * K}.`);
  check(w.length === N * K, `linear: w has ${w.length} values, expected N·K = ${N}·${K} = ${N * K}.`);
  check(b === null || b.length === N, `linear: b has ${b?.length} values, expected N = ${N}.`);
}

/** CPU reference: y = act(x · wᵀ + b), accumulated in float64. */
export function linearReference<T extends FloatArray>(x: T, w: FloatArray, b: FloatArray | null, M: number, K: number, N: number, act: Activation = 'none'): T {
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
