// matmul: the tuned reference matmul (see matmul.wgsl) and its CPU reference. Not used by the
// model: the benchmarks' compute yardstick, beside which `linear` reports its GFLOP/s.
import source from './matmul.wgsl?raw';
import { defineKernel } from '../kernel.ts';
import { linearReference } from '../linear/linear.ts';
import type { FloatArray } from '../testing.ts';

/** y = x · wᵀ; x (M,K), w (N,K), y (M,N); workgroups = matmulWorkgroups(M, N). */
export const matmulKernel = defineKernel({
  name: 'matmul',
  source,
  entryPoint: 'main',
  bindings: [
    { name: 'x', kind: 'read' },
    { name: 'w', kind: 'read' },
    { name: 'y', kind: 'write' },
  ],
  params: [
    ['M', 'u32'],
    ['K', 'u32'],
    ['N', 'u32'],
  ],
});

/** Workgroups of the matmul kernel: one per 64×64 block of y. */
export function matmulWorkgroups(M: number, N: number): number {
  return Math.ceil(M / 64) * Math.ceil(N / 64);
}

/** matmul without workgroup memory or barriers (a 4×4 block per thread): for CPU adapters. */
export const matmulDirectKernel = defineKernel({ ...matmulKernel, name: 'matmul.direct', entryPoint: 'main_direct' });

/** Workgroups of matmul.direct: 64 threads, a 4×4 block of y each. */
export function matmulDirectWorkgroups(M: number, N: number): number {
  return Math.ceil((Math.ceil(M / 4) * Math.ceil(N / 4)) / 64);
}

/**
 * CPU reference: y = x · wᵀ accumulated in float64 — linear without bias or activation.
 * @example const y = matmulReference(x, w, M, K, N);
 */
export function matmulReference<T extends FloatArray>(x: T, w: FloatArray, M: number, K: number, N: number): T {
  return linearReference(x, w, null, M, K, N);
}
