import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layernormBackwardReference, layernormReference } from './layernorm.ts';
import { maxRelError, testRng } from '../testing.ts';
import { ShapeError } from '../kernel.ts';
import { Gpu } from '../gpu/index.ts';
import { layernorm, layernormBackward, LayernormBackwardOp, LayernormOp } from './layernorm.op.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

describe('layernorm bad input', () => {
  const x = new Float32Array(12);
  const g = new Float32Array(4);
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['x of the wrong size', () => layernorm(gpu, x.subarray(1), g, g, 3, 4), /x has 11 values, expected M·D/],
    [
      'gamma of the wrong size',
      () => layernorm(gpu, x, new Float32Array(3), g, 3, 4),
      /gamma has 3 values, expected D = 4/,
    ],
    [
      'beta of the wrong size',
      () => layernorm(gpu, x, g, new Float32Array(5), 3, 4),
      /beta has 5 values, expected D = 4/,
    ],
    ['a zero dimension', () => layernorm(gpu, x, g, g, 0, 4), /M, D must be positive integers/],
    ['eps ≤ 0', () => layernorm(gpu, x, g, g, 3, 4, 0), /eps must be a positive number/],
    [
      'backward: mean of the wrong size',
      () => layernormBackward(gpu, x, g, new Float32Array(2), new Float32Array(3), x, 3, 4),
      /mean has 2 values, expected M = 3/,
    ],
    [
      'backward: rstd of the wrong size',
      () => layernormBackward(gpu, x, g, new Float32Array(3), new Float32Array(4), x, 3, 4),
      /rstd has 4 values, expected M = 3/,
    ],
    [
      'backward: dy of the wrong size',
      () => layernormBackward(gpu, x, g, new Float32Array(3), new Float32Array(3), x.subarray(2), 3, 4),
      /dy has 10 values, expected M·D/,
    ],
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

  it('LayernormBackwardOp writes, then accumulates when asked', async () => {
    const rng = testRng(6);
    const [maxRows, D] = [50, 19];
    const x = rng.uniform(maxRows * D, -1, 2);
    const gamma = rng.uniform(D);
    const beta = rng.uniform(D);
    const dy = rng.uniform(maxRows * D);
    const { mean, rstd } = layernormReference(x, gamma, beta, maxRows, D);
    const bufs = [x, gamma, mean, rstd, dy].map((a, i) => gpu.upload(`test:${i}`, a));
    const op = await LayernormBackwardOp.create(gpu, {
      x: bufs[0],
      gamma: bufs[1],
      mean: bufs[2],
      rstd: bufs[3],
      dy: bufs[4],
      maxRows,
      D,
    });
    for (const M of [50, 1, 23]) {
      gpu.run((pass) => op.encode(pass, M));
      const want = layernormBackwardReference(
        x.subarray(0, M * D),
        gamma,
        mean.subarray(0, M),
        rstd.subarray(0, M),
        dy.subarray(0, M * D),
        M,
        D,
      );
      expect(maxRelError(await gpu.readF32(op.dx as GPUBuffer, M * D), want.dx)).toBeLessThanOrEqual(1e-5);
      expect(maxRelError(await gpu.readF32(op.dgamma as GPUBuffer, D), want.dgamma)).toBeLessThanOrEqual(1e-5);
      expect(maxRelError(await gpu.readF32(op.dbeta as GPUBuffer, D), want.dbeta)).toBeLessThanOrEqual(1e-5);
    }
    const M = 23;
    gpu.run((pass) => op.encode(pass, M, true)); // adds the same gradient again: 2×
    const want = layernormBackwardReference(
      x.subarray(0, M * D),
      gamma,
      mean.subarray(0, M),
      rstd.subarray(0, M),
      dy.subarray(0, M * D),
      M,
      D,
    );
    expect(
      maxRelError(
        await gpu.readF32(op.dx as GPUBuffer, M * D),
        want.dx.map((v) => 2 * v),
      ),
    ).toBeLessThanOrEqual(1e-5);
    expect(
      maxRelError(
        await gpu.readF32(op.dgamma as GPUBuffer, D),
        want.dgamma.map((v) => 2 * v),
      ),
    ).toBeLessThanOrEqual(1e-5);
    op.destroy();
    for (const b of bufs) b.destroy();
  });
});
