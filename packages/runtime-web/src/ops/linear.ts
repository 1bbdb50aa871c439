// linear on the GPU: shape checks, then the kernel. `linear()` is the one-shot form (checks,
// tools); models bind `linearForward` once per layer and dispatch it per request.
import { ACTIVATIONS, checkLinear, linearForward, linearWorkgroups, type Activation } from '@vireo/shaders';
import { runOnce, type Gpu } from '../gpu/index.ts';

/**
 * y = act(x · wᵀ + b) on the GPU; x (M,K), w (N,K), b (N) or null → y (M,N).
 * @example const y = await linear(gpu, x, w, b, 32, 64, 16, 'relu');
 */
export async function linear(gpu: Gpu, x: Float32Array, w: Float32Array, b: Float32Array | null, M: number, K: number, N: number, act: Activation = 'none'): Promise<Float32Array> {
  checkLinear(x, w, b, M, K, N);
  const { y } = await runOnce(gpu, linearForward, {
    inputs: { x, w, b: b ?? new Float32Array(1) },
    outputs: { y: M * N * 4 },
    params: { M, K, N, act: ACTIVATIONS[act], has_bias: b ? 1 : 0 },
    workgroups: linearWorkgroups(M, N),
  });
  return new Float32Array(y);
}
