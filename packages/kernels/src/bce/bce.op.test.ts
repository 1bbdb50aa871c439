import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bceBackwardReference, bceReference } from './bce.ts';
import { maxRelError, testRng } from '../testing.ts';
import { ShapeError } from '../kernel.ts';
import { Gpu } from '../gpu/index.ts';
import { bce, bceGrads, HeadsLossOp } from './bce.op.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

const weights = { ctr: 1, ctcvr: 0.5, revenue: 0.2, cvr: 0.3 };

describe('bce bad input', () => {
  const o = new Float32Array(12);
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['outputs of the wrong size', () => bce(gpu, o.subarray(1), o, 4), /outputs has 11 values, expected B·3 = 12/],
    [
      'labels of the wrong size',
      () => bceGrads(gpu, o, new Float32Array(9), 4, weights),
      /labels has 9 values, expected B·3 = 12/,
    ],
    ['B = 0', () => bce(gpu, o, o, 0), /B must be a positive integer/],
  ];
  it.each(cases)('%s → ShapeError', async (_name, call, message) => {
    const err = await call().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('bce', () => {
  it('HeadsLossOp computes losses and gradients for a part of its batch', async () => {
    const rng = testRng(31);
    const [maxB, B] = [100, 67];
    const outputs = rng.uniform(maxB * 3, -5, 5);
    const labels = Float32Array.from({ length: maxB * 3 }, (_, k) =>
      k % 3 === 2 ? rng.next() * 50 : rng.next() < 0.5 ? 1 : 0,
    );
    const bufs = {
      outputs: gpu.upload('test:outputs', outputs),
      labels: gpu.upload('test:labels', labels),
      loss: gpu.buffer('test:loss', maxB * 12),
      grad: gpu.buffer('test:grad', maxB * 12),
    };
    const heads = await HeadsLossOp.create(gpu, bufs, maxB);
    gpu.run((pass) => {
      heads.encodeForward(pass, B);
      heads.encodeBackward(pass, B, weights);
    });
    const [o, l] = [outputs.subarray(0, B * 3), labels.subarray(0, B * 3)];
    expect(maxRelError(await gpu.readF32(bufs.loss, B * 3), bceReference(o, l, B))).toBeLessThanOrEqual(1e-5);
    expect(
      maxRelError(await gpu.readF32(bufs.grad, B * 3), bceBackwardReference(o, l, B, weights)),
    ).toBeLessThanOrEqual(1e-5);
    expect(() => gpu.run((pass) => heads.encodeForward(pass, 101))).toThrow(
      /B = 101 is outside the bound batch 1..100/,
    );
    heads.destroy();
    for (const b of Object.values(bufs)) b.destroy();
  });

  it('stays finite on the GPU for extreme logits', async () => {
    const outputs = Float32Array.of(90, 90, 0, -90, -90, 0, 90, -90, 0, -90, 90, 0);
    const labels = Float32Array.of(0, 0, 0, 1, 1, 3, 1, 1, 3, 0, 0, 0);
    const loss = await bce(gpu, outputs, labels, 4);
    const grad = await bceGrads(gpu, outputs, labels, 4, weights);
    for (const x of [...loss, ...grad]) expect(Number.isFinite(x)).toBe(true);
    expect(maxRelError(grad, bceBackwardReference(outputs, labels, 4, weights))).toBeLessThanOrEqual(1e-5);
  });
});
