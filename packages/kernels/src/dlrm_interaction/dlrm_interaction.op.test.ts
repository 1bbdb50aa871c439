import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dlrmInteractionBackwardReference, dlrmInteractionReference } from './dlrm_interaction.ts';
import { maxRelError, testRng } from '../testing.ts';
import { ShapeError } from '../kernel.ts';
import { Gpu } from '../gpu/index.ts';
import {
  dlrmInteraction,
  dlrmInteractionBackward,
  DlrmInteractionBackwardOp,
  DlrmInteractionOp,
} from './dlrm_interaction.op.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

describe('dlrm_interaction bad input', () => {
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    [
      'dense of the wrong size',
      () => dlrmInteraction(gpu, new Float32Array(7), new Float32Array(24), 2, 3, 4),
      /dense has 7 values, expected B·D = 2·4 = 8/,
    ],
    [
      'emb of the wrong size',
      () => dlrmInteraction(gpu, new Float32Array(8), new Float32Array(25), 2, 3, 4),
      /emb has 25 values, expected B·F·D = 2·3·4 = 24/,
    ],
    [
      'no sparse features',
      () => dlrmInteraction(gpu, new Float32Array(8), new Float32Array(0), 2, 0, 4),
      /B, F, D must be positive integers/,
    ],
    [
      'an unknown mode',
      () => dlrmInteraction(gpu, new Float32Array(8), new Float32Array(24), 2, 3, 4, 'sum' as 'dot'),
      /mode 'sum' is unknown: expected one of dot, cat/,
    ],
    [
      'backward: dy of the wrong size',
      () =>
        dlrmInteractionBackward(gpu, new Float32Array(8), new Float32Array(24), new Float32Array(19), 2, 3, 4, 'dot'),
      /dy has 19 values, expected B·W = 2·10 = 20/,
    ],
    [
      'backward: dy sized for the other mode',
      () =>
        dlrmInteractionBackward(gpu, new Float32Array(8), new Float32Array(24), new Float32Array(20), 2, 3, 4, 'cat'),
      /dy has 20 values, expected B·W = 2·16 = 32/,
    ],
  ];
  it.each(cases)('%s → ShapeError', async (_name, call, message) => {
    const err = await call().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('dlrm_interaction', () => {
  it('orders the pairs (1,0), (2,0), (2,1) after the dense vector', async () => {
    // z0 = dense = [1, 2], z1 = [3, 4], z2 = [5, 6]
    const out = await dlrmInteraction(gpu, new Float32Array([1, 2]), new Float32Array([3, 4, 5, 6]), 1, 2, 2, 'dot');
    expect(Array.from(out)).toEqual([1, 2, 11, 17, 39]);
    const cat = await dlrmInteraction(gpu, new Float32Array([1, 2]), new Float32Array([3, 4, 5, 6]), 1, 2, 2, 'cat');
    expect(Array.from(cat)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('DlrmInteractionOp reuses its buffers over batches of different sizes', async () => {
    const rng = testRng(9);
    const [maxBatch, F, D] = [30, 6, 10];
    const dense = rng.uniform(maxBatch * D);
    const emb = rng.uniform(maxBatch * F * D);
    const bufs = [gpu.upload('test:dense', dense), gpu.upload('test:emb', emb)];
    const op = await DlrmInteractionOp.create(gpu, { dense: bufs[0], emb: bufs[1], maxBatch, F, D, mode: 'dot' });
    expect(op.width).toBe(D + 21);
    for (const B of [30, 1, 11]) {
      gpu.run((pass) => op.encode(pass, B));
      const got = await gpu.readF32(op.out as GPUBuffer, B * op.width);
      const want = dlrmInteractionReference(dense.subarray(0, B * D), emb.subarray(0, B * F * D), B, F, D, 'dot');
      expect(maxRelError(got, want)).toBeLessThanOrEqual(1e-5);
    }
    expect(() => gpu.run((pass) => op.encode(pass, 31))).toThrow(/B = 31 samples, expected 1..30/);
    op.destroy();
    for (const b of bufs) b.destroy();
  });

  it('DlrmInteractionBackwardOp writes, then accumulates when asked', async () => {
    const rng = testRng(10);
    const [maxBatch, F, D] = [25, 4, 9];
    const W = D + 10;
    const dense = rng.uniform(maxBatch * D);
    const emb = rng.uniform(maxBatch * F * D);
    const dy = rng.uniform(maxBatch * W);
    const bufs = [dense, emb, dy].map((a, i) => gpu.upload(`test:${i}`, a));
    const op = await DlrmInteractionBackwardOp.create(gpu, {
      dense: bufs[0],
      emb: bufs[1],
      dy: bufs[2],
      maxBatch,
      F,
      D,
      mode: 'dot',
    });
    const check = async (B: number, times: number) => {
      const want = dlrmInteractionBackwardReference(
        dense.subarray(0, B * D),
        emb.subarray(0, B * F * D),
        dy.subarray(0, B * W),
        B,
        F,
        D,
        'dot',
      );
      expect(
        maxRelError(
          await gpu.readF32(op.dDense as GPUBuffer, B * D),
          want.dDense.map((v) => times * v),
        ),
      ).toBeLessThanOrEqual(1e-5);
      expect(
        maxRelError(
          await gpu.readF32(op.dEmb as GPUBuffer, B * F * D),
          want.dEmb.map((v) => times * v),
        ),
      ).toBeLessThanOrEqual(1e-5);
    };
    for (const B of [25, 1, 12]) {
      gpu.run((pass) => op.encode(pass, B));
      await check(B, 1);
    }
    gpu.run((pass) => op.encode(pass, 12, true));
    await check(12, 2);
    op.destroy();
    for (const b of bufs) b.destroy();
  });
});
