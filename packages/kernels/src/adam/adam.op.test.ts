import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adamReference } from './adam.ts';
import { maxRelError, testRng } from '../testing.ts';
import { ShapeError } from '../kernel.ts';
import { Gpu } from '../gpu/index.ts';
import { adamW, AdamWOp } from './adam.op.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

describe('adam bad input', () => {
  const a = new Float32Array(8);
  const o = { lr: 1e-3, step: 1 };
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['grad of the wrong size', () => adamW(gpu, a.subarray(1), a, a, a, 0, 8, o), /grad has 7 values, expected 8/],
    ['m of the wrong size', () => adamW(gpu, a, a, a.subarray(2), a, 0, 8, o), /m has 6 values, expected 8/],
    [
      'a range past the end',
      () => adamW(gpu, a, a, a, a, 4, 5, o),
      /range offset=4 count=5 is outside the parameter buffer of 8/,
    ],
    ['step 0', () => adamW(gpu, a, a, a, a, 0, 8, { lr: 1e-3, step: 0 }), /step must be an integer ≥ 1/],
  ];
  it.each(cases)('%s → ShapeError', async (_name, call, message) => {
    const err = await call().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as Error).message).toMatch(message);
  });
  it('AdamWOp rejects a group outside the buffer', async () => {
    const buf = gpu.buffer('test:p', 32);
    await expect(
      AdamWOp.create(gpu, { grad: buf, param: buf, m: buf, v: buf }, 8, [{ offset: 6, count: 3, weightDecay: 0 }]),
    ).rejects.toThrow(ShapeError);
    buf.destroy();
  });
});

describe('adam', () => {
  it('the one-shot step matches the reference and leaves the rest of the buffer alone', async () => {
    const rng = testRng(41);
    const P = 300;
    const [grad, param, m] = [rng.uniform(P), rng.uniform(P), rng.uniform(P, -0.01, 0.01)];
    const v = rng.uniform(P, 0, 1e-4);
    const o = { lr: 3e-3, weightDecay: 0.05, step: 7 };
    const got = await adamW(gpu, grad, param, m, v, 17, 200, o);
    const want = adamReference(grad, param, m, v, 17, 200, o);
    expect(maxRelError(got.param, want.param)).toBeLessThanOrEqual(1e-5);
    expect(maxRelError(got.m, want.m)).toBeLessThanOrEqual(1e-5);
    expect(maxRelError(got.v, want.v)).toBeLessThanOrEqual(1e-5);
    expect(Array.from(got.param.subarray(0, 17))).toEqual(Array.from(param.subarray(0, 17)));
    expect(Array.from(got.param.subarray(217))).toEqual(Array.from(param.subarray(217)));
  });
});
