// matmul on the GPU, in one shot: y (M, N) = x (M, K) · wᵀ (w is (N, K)), through the tuned
// register-blocked kernel (`tiled`, 64×64 blocks, K in steps of 16) or its direct variant. The
// benchmarks' compute yardstick; `vireo doctor` checks both against matmulReference.
import { runOnce, type Gpu } from '../gpu/index.ts';
import { check } from '../kernel.ts';
import { matmulDirectKernel, matmulDirectWorkgroups, matmulKernel, matmulWorkgroups } from './matmul.ts';

export type MatmulVariant = 'tiled' | 'direct';

/**
 * y = x · wᵀ on the GPU.
 * @example const y = await matmul(gpu, x, w, M, K, N); // (M, N)
 */
export async function matmul(
  gpu: Gpu,
  x: Float32Array,
  w: Float32Array,
  M: number,
  K: number,
  N: number,
  variant: MatmulVariant = 'tiled',
): Promise<Float32Array> {
  check(
    [M, K, N].every((n) => Number.isInteger(n) && n > 0),
    `matmul: M, K, N must be positive integers, got ${M}, ${K}, ${N}.`,
  );
  check(x.length === M * K, `matmul: x has ${x.length} values, expected M·K = ${M * K}.`);
  check(w.length === N * K, `matmul: w has ${w.length} values, expected N·K = ${N * K}.`);
  const tiled = variant === 'tiled';
  const out = await runOnce(gpu, tiled ? matmulKernel : matmulDirectKernel, {
    inputs: { x, w },
    outputs: { y: M * N * 4 },
    params: { M, K, N },
    workgroups: tiled ? matmulWorkgroups(M, N) : matmulDirectWorkgroups(M, N),
  });
  return new Float32Array(out.y);
}
