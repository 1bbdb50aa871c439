// The benchmarks' tuned matmul (packages/kernels/src/matmul/matmul.wgsl) against its CPU reference on random
// inputs, on the adapter the trainer uses: sizes that are and are not multiples of its 64×64
// block and 16-wide K step. Tolerance: float32 sums of K products of values in [-1, 1] against a
// float64 sum, relative to the output's scale: 1e-5 (K ≤ 300 terms of rounding ~6e-8 each).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeMismatch, maxRelError, testRng } from '../testing.ts';
import {
  matmulDirectKernel,
  matmulDirectWorkgroups,
  matmulKernel,
  matmulReference,
  matmulWorkgroups,
} from './matmul.ts';
import { Gpu } from '../gpu/gpu.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

const variants = [
  { kernel: matmulKernel, workgroups: matmulWorkgroups },
  { kernel: matmulDirectKernel, workgroups: matmulDirectWorkgroups },
];
const shapes = [
  [1, 1, 1],
  [64, 16, 64],
  [70, 37, 65],
  [130, 300, 129],
  [5, 64, 200],
];

describe.each(variants)('$kernel.name (WGSL) vs matmulReference', ({ kernel, workgroups }) => {
  it.each(shapes)('M=%i K=%i N=%i', async (M, K, N) => {
    const rng = testRng(M * 7919 + K * 31 + N);
    const xh = rng.uniform(M * K);
    const wh = rng.uniform(N * K);
    const x = gpu.upload('test:x', xh);
    const w = gpu.upload('test:w', wh);
    const y = gpu.buffer('test:y', M * N * 4);
    const bound = await gpu.bind(kernel, { x, w, y });
    gpu.run((pass) => bound.dispatch(pass, workgroups(M, N), { M, K, N }));
    const got = await gpu.readF32(y, M * N);
    const want = matmulReference(Float64Array.from(xh), wh, M, K, N);
    [x, w, y].forEach((b) => b.destroy());
    bound.destroy();
    expect(maxRelError(got, want), describeMismatch(got, want)).toBeLessThan(1e-5);
  });
});
