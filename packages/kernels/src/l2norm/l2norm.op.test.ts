import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { l2normBackwardReference, l2normReference } from './l2norm.ts';
import { maxRelError, testRng } from '../testing.ts';
import { ShapeError } from '../kernel.ts';
import { Gpu } from '../gpu/index.ts';
import { l2norm, l2normBackward, L2normBackwardOp, L2normOp } from './l2norm.op.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

describe('l2norm bad input', () => {
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['x of the wrong size', () => l2norm(gpu, new Float32Array(10), 3, 4), /x has 10 values, expected M·D = 3·4 = 12/],
    ['a fractional dimension', () => l2norm(gpu, new Float32Array(12), 3, 4.5), /M, D must be positive integers/],
    ['eps ≤ 0', () => l2norm(gpu, new Float32Array(12), 3, 4, -1), /eps must be a positive number/],
    [
      'backward: norm of the wrong size',
      () => l2normBackward(gpu, new Float32Array(12), new Float32Array(4), new Float32Array(12), 3, 4),
      /norm has 4 values, expected M = 3/,
    ],
    [
      'backward: dy of the wrong size',
      () => l2normBackward(gpu, new Float32Array(12), new Float32Array(3), new Float32Array(11), 3, 4),
      /dy has 11 values, expected M·D/,
    ],
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
    [0.6, 0.8, 0, 0].forEach((v, i) => expect(y[i]).toBeCloseTo(v, 6));
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

  it('L2normBackwardOp writes, then accumulates when asked', async () => {
    const rng = testRng(8);
    const [maxRows, D] = [20, 37];
    const x = rng.uniform(maxRows * D);
    const dy = rng.uniform(maxRows * D);
    const { norm } = l2normReference(x, maxRows, D);
    const bufs = [x, norm, dy].map((a, i) => gpu.upload(`test:${i}`, a));
    const op = await L2normBackwardOp.create(gpu, { x: bufs[0], norm: bufs[1], dy: bufs[2], maxRows, D });
    for (const M of [20, 1, 7]) {
      gpu.run((pass) => op.encode(pass, M));
      const want = l2normBackwardReference(x.subarray(0, M * D), norm.subarray(0, M), dy.subarray(0, M * D), M, D);
      expect(maxRelError(await gpu.readF32(op.dx as GPUBuffer, M * D), want)).toBeLessThanOrEqual(1e-5);
    }
    gpu.run((pass) => op.encode(pass, 7, true));
    const want = l2normBackwardReference(x.subarray(0, 7 * D), norm.subarray(0, 7), dy.subarray(0, 7 * D), 7, D);
    expect(
      maxRelError(
        await gpu.readF32(op.dx as GPUBuffer, 7 * D),
        want.map((v) => 2 * v),
      ),
    ).toBeLessThanOrEqual(1e-5);
    op.destroy();
    for (const b of bufs) b.destroy();
  });
});
