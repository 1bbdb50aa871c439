import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inBatchSoftmaxBackwardReference, inBatchSoftmaxReference } from './softmax_xent.ts';
import { maxRelError, testRng } from '../testing.ts';
import { ShapeError } from '../kernel.ts';
import { Gpu } from '../gpu/index.ts';
import { SoftmaxXentOp, softmaxXent, softmaxXentGrads } from './softmax_xent.op.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

describe('softmax_xent bad input', () => {
  const [B, D] = [4, 3];
  const u = new Float32Array(B * D);
  const q = new Float32Array(B);
  const ids = new Uint32Array(B);
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    [
      'u of the wrong size',
      () => softmaxXent(gpu, u.subarray(1), u, q, ids, B, D, 0.1),
      /u has 11 values, expected B·D/,
    ],
    [
      'v of the wrong size',
      () => softmaxXent(gpu, u, new Float32Array(13), q, ids, B, D, 0.1),
      /v has 13 values, expected B·D/,
    ],
    [
      'logq of the wrong size',
      () => softmaxXent(gpu, u, u, q.subarray(1), ids, B, D, 0.1),
      /logq has 3 values, expected B = 4/,
    ],
    [
      'ids of the wrong size',
      () => softmaxXentGrads(gpu, u, u, q, new Uint32Array(5), B, D, 0.1, 0.25),
      /ids has 5 values, expected B = 4/,
    ],
    ['tau ≤ 0', () => softmaxXent(gpu, u, u, q, ids, B, D, 0), /tau must be a positive number/],
  ];
  it.each(cases)('%s → ShapeError', async (_name, call, message) => {
    const err = await call().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('softmax_xent', () => {
  it(
    'SoftmaxXentOp serves batches of different ' + 'sizes from one set of buffers, bit-identically on a rerun',
    async () => {
      const rng = testRng(21);
      const [maxB, D, tau] = [48, 24, 0.1];
      const u = rng.uniform(maxB * D);
      const v = rng.uniform(maxB * D);
      const logq = Float32Array.from(rng.uniform(maxB, 0.001, 0.1), Math.log);
      const ids = Uint32Array.from({ length: maxB }, () => rng.int(20)); // many accidental hits
      const bufs = {
        u: gpu.upload('test:u', u),
        v: gpu.upload('test:v', v),
        logq: gpu.upload('test:logq', logq),
        ids: gpu.upload('test:ids', ids),
        loss: gpu.buffer('test:loss', maxB * 4),
        lse: gpu.buffer('test:lse', maxB * 4),
        du: gpu.buffer('test:du', maxB * D * 4),
        dv: gpu.buffer('test:dv', maxB * D * 4),
      };
      const xent = await SoftmaxXentOp.create(gpu, bufs, { B: maxB, D });
      let first: Float32Array | null = null;
      for (const B of [48, 7, 48]) {
        gpu.run((pass) => {
          xent.encodeForward(pass, { B, tau });
          xent.encodeBackward(pass, { B, tau });
        });
        const [uB, vB, qB, iB] = [u.subarray(0, B * D), v.subarray(0, B * D), logq.subarray(0, B), ids.subarray(0, B)];
        const want = inBatchSoftmaxReference(uB, vB, qB, iB, B, D, tau);
        const wantGrad = inBatchSoftmaxBackwardReference(uB, vB, qB, iB, B, D, tau, 1 / B);
        expect(maxRelError(await gpu.readF32(bufs.loss, B), want.loss)).toBeLessThanOrEqual(1e-5);
        const du = await gpu.readF32(bufs.du, B * D);
        expect(maxRelError(du, wantGrad.du)).toBeLessThanOrEqual(1e-5);
        expect(maxRelError(await gpu.readF32(bufs.dv, B * D), wantGrad.dv)).toBeLessThanOrEqual(1e-5);
        if (B === 48 && first) expect(Array.from(du)).toEqual(Array.from(first));
        if (B === 48) first = du;
      }
      expect(() => gpu.run((pass) => xent.encodeForward(pass, { B: 49, tau }))).toThrow(
        /B = 49 is outside the bound batch 1..48/,
      );
      xent.destroy();
      for (const b of Object.values(bufs)) b.destroy();
    },
  );

  it('the one-shot forward agrees with the forward inside softmaxXentGrads', async () => {
    const rng = testRng(22);
    const [B, D] = [9, 4];
    const u = rng.uniform(B * D);
    const v = rng.uniform(B * D);
    const logq = rng.uniform(B, -3, -1);
    const ids = Uint32Array.from({ length: B }, (_, i) => i % 5);
    const fwd = await softmaxXent(gpu, u, v, logq, ids, B, D, 0.2);
    const both = await softmaxXentGrads(gpu, u, v, logq, ids, B, D, 0.2, 1 / B);
    expect(Array.from(fwd.loss)).toEqual(Array.from(both.loss));
    expect(maxRelError(fwd.lse, inBatchSoftmaxReference(u, v, logq, ids, B, D, 0.2).lse)).toBeLessThanOrEqual(1e-5);
  });
});
