import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layernormReference, maxRelError, ShapeError, testRng } from '@vireo/shaders';
import { Gpu } from '../gpu/index.ts';
import { layernorm, LayernormOp } from './layernorm.ts';

let gpu: Gpu;
beforeAll(async () => { gpu = await Gpu.create(); });
afterAll(() => gpu?.destroy());

describe('layernorm bad input', () => {
  const x = new Float32Array(12);
  const g = new Float32Array(4);
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['x of the wrong size', () => layernorm(gpu, x.subarray(1), g, g, 3, 4), /x has 11 values, expected M·D/],
    ['gamma of the wrong size', () => layernorm(gpu, x, new Float32Array(3), g, 3, 4), /gamma has 3 values, expected D = 4/],
    ['beta of the wrong size', () => layernorm(gpu, x, g, new Float32Array(5), 3, 4), /beta has 5 values, expected D = 4/],
    ['a zero dimension', () => layernorm(gpu, x, g, g, 0, 4), /M, D must be positive integers/],
    ['eps ≤ 0', () => layernorm(gpu, x, g, g, 3, 4, 0), /eps must be a positive number/],
  ];
  it.each(cases)('%s → ShapeError', async (_name, call, message) => {
    const err = await call().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('layernorm', () => {
  it('LayernormOp reuses its buffers over batches of different sizes', async () => {
    const rng = testRng(5);
    const [maxRows, D] = [40, 33];
    const x = rng.uniform(maxRows * D, -2, 3);
    const gamma = rng.uniform(D);
    const beta = rng.uniform(D);
    const bufs = [gpu.upload('test:x', x), gpu.upload('test:gamma', gamma), gpu.upload('test:beta', beta)];
    const op = await LayernormOp.create(gpu, { x: bufs[0], gamma: bufs[1], beta: bufs[2], maxRows, D, eps: 1e-3 });
    for (const M of [40, 1, 17]) {
      gpu.run((pass) => op.encode(pass, M));
      const got = await gpu.readF32(op.y as GPUBuffer, M * D);
      const want = layernormReference(x.subarray(0, M * D), gamma, beta, M, D, 1e-3);
      expect(maxRelError(got, want.y)).toBeLessThanOrEqual(1e-5);
      expect(maxRelError(await gpu.readF32(op.rstd as GPUBuffer, M), want.rstd)).toBeLessThanOrEqual(1e-5);
    }
    expect(() => gpu.run((pass) => op.encode(pass, 41))).toThrow(/M = 41 rows, expected 1..40/);
    op.destroy();
    for (const b of bufs) b.destroy();
  });
});
