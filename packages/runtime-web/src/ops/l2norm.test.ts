import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { l2normReference, maxRelError, ShapeError, testRng } from '@vireo/shaders';
import { Gpu } from '../gpu/index.ts';
import { l2norm, L2normOp } from './l2norm.ts';

let gpu: Gpu;
beforeAll(async () => { gpu = await Gpu.create(); });
afterAll(() => gpu?.destroy());

describe('l2norm bad input', () => {
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['x of the wrong size', () => l2norm(gpu, new Float32Array(10), 3, 4), /x has 10 values, expected M·D = 3·4 = 12/],
    ['a fractional dimension', () => l2norm(gpu, new Float32Array(12), 3, 4.5), /M, D must be positive integers/],
    ['eps ≤ 0', () => l2norm(gpu, new Float32Array(12), 3, 4, -1), /eps must be a positive number/],
  ];
  it.each(cases)('%s → ShapeError', async (_name, call, message) => {
    const err = await call().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('l2norm', () => {
  it('gives unit rows, and a zero row stays zero', async () => {
    const { y, norm } = await l2norm(gpu, new Float32Array([3, 4, 0, 0]), 2, 2);
    expect(Array.from(y)).toEqual([0.6000000238418579, 0.800000011920929, 0, 0]);
    expect(Array.from(norm)).toEqual([5, 0]);
  });

  it('L2normOp reuses its buffers over batches of different sizes', async () => {
    const rng = testRng(3);
    const [maxRows, D] = [64, 100];
    const x = rng.uniform(maxRows * D);
    const xBuffer = gpu.upload('test:x', x);
    const op = await L2normOp.create(gpu, { x: xBuffer, maxRows, D });
    for (const M of [64, 1, 9]) {
      gpu.run((pass) => op.encode(pass, M));
      const got = await gpu.readF32(op.y as GPUBuffer, M * D);
      expect(maxRelError(got, l2normReference(x.subarray(0, M * D), M, D).y)).toBeLessThanOrEqual(1e-5);
    }
    expect(() => gpu.run((pass) => op.encode(pass, 0))).toThrow(/M = 0 rows/);
    op.destroy();
    xBuffer.destroy();
  });
});
