import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxRelError, testRng } from '../testing.ts';
import { rowwiseAdagradReference } from './rowwise_adagrad.ts';
import { ShapeError } from '../kernel.ts';
import { Gpu } from '../gpu/index.ts';
import { RowwiseAdagradOp, rowwiseAdagrad } from './rowwise_adagrad.op.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

describe('rowwise_adagrad bad input', () => {
  const D = 4;
  const table = new Float32Array(10 * D);
  const acc = new Float32Array(10);
  const o = { lr: 0.1 };
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    [
      'an id outside the table',
      () => rowwiseAdagrad(gpu, Uint32Array.of(3, 10), new Float32Array(2 * D), table, acc, D, o),
      /ids\[1\] = 10 is outside the table \(R = 10 rows\)/,
    ],
    [
      'a repeated id',
      () => rowwiseAdagrad(gpu, Uint32Array.of(3, 3), new Float32Array(2 * D), table, acc, D, o),
      /ids\[1\] = 3 repeats an earlier id/,
    ],
    [
      'grad of the wrong size',
      () => rowwiseAdagrad(gpu, Uint32Array.of(1), new Float32Array(D + 1), table, acc, D, o),
      /grad has 5 values, expected U·D/,
    ],
    [
      'acc of the wrong size',
      () => rowwiseAdagrad(gpu, Uint32Array.of(1), new Float32Array(D), table, new Float32Array(9), D, o),
      /acc has 9 values, expected one per table row/,
    ],
    [
      'a table that is not rows of D',
      () => rowwiseAdagrad(gpu, Uint32Array.of(1), new Float32Array(D), new Float32Array(41), acc, D, o),
      /table has 41 values, not a positive multiple of D = 4/,
    ],
  ];
  it.each(cases)('%s → ShapeError', async (_name, call, message) => {
    const err = await call().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('rowwise_adagrad', () => {
  it('the one-shot step moves only the given rows, as the reference does', async () => {
    const rng = testRng(51);
    const [R, D] = [50, 9];
    const table = rng.uniform(R * D);
    const acc = rng.uniform(R, 0, 1);
    const ids = Uint32Array.of(49, 0, 17, 3);
    const grad = rng.uniform(ids.length * D);
    const got = await rowwiseAdagrad(gpu, ids, grad, table, acc, D, { lr: 0.2 });
    const want = rowwiseAdagradReference(ids, grad, table, acc, D, { lr: 0.2 });
    expect(maxRelError(got.table, want.table)).toBeLessThanOrEqual(1e-5);
    expect(maxRelError(got.acc, want.acc)).toBeLessThanOrEqual(1e-5);
    expect(Array.from(got.table.subarray(4 * D, 17 * D))).toEqual(Array.from(table.subarray(4 * D, 17 * D)));
  });

  it('RowwiseAdagradOp: U = 0 does nothing, U above the bound is a ShapeError', async () => {
    const bufs = {
      ids: gpu.buffer('test:ids', 16),
      grad: gpu.buffer('test:grad', 64),
      table: gpu.buffer('test:table', 64),
      acc: gpu.buffer('test:acc', 16),
    };
    const opt = await RowwiseAdagradOp.create(gpu, bufs, { maxU: 4, D: 4, R: 4 });
    gpu.run((pass) => opt.encode(pass, { U: 0, lr: 1 }));
    expect(() => gpu.run((pass) => opt.encode(pass, { U: 5, lr: 1 }))).toThrow(ShapeError);
    opt.destroy();
    for (const b of Object.values(bufs)) b.destroy();
  });
});
