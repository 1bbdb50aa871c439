import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddingBagBackwardReference, embeddingBagReference } from './embedding_bag.ts';
import { maxRelError, testRng } from '../testing.ts';
import { ShapeError } from '../kernel.ts';
import { Gpu } from '../gpu/index.ts';
import { randomBags } from './embedding_bag.check.ts';
import { embeddingBag, embeddingBagBackward, EmbeddingBagBackwardOp, EmbeddingBagOp } from './embedding_bag.op.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

const R = 10;
const D = 4;
const table = new Float32Array(R * D).map((_, i) => i);
const u32 = (...v: number[]) => new Uint32Array(v);

describe('embedding_bag bad input', () => {
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    [
      'an index outside the table',
      () => embeddingBag(gpu, table, u32(1, 2, 10), u32(0, 3), null, R, D),
      /indices\[2\] = 10 is outside the table \(R = 10/,
    ],
    [
      'offsets that do not end at nnz',
      () => embeddingBag(gpu, table, u32(1, 2, 3), u32(0, 2), null, R, D),
      /offsets\[B\] is 2, expected nnz/,
    ],
    [
      'offsets that decrease',
      () => embeddingBag(gpu, table, u32(1, 2, 3), u32(0, 2, 1, 3), null, R, D),
      /offsets\[2\] = 1 is less than offsets\[1\]/,
    ],
    [
      'offsets not starting at 0',
      () => embeddingBag(gpu, table, u32(1, 2, 3), u32(1, 3), null, R, D),
      /offsets\[0\] is 1/,
    ],
    [
      'a table of the wrong size',
      () => embeddingBag(gpu, table.subarray(1), u32(1), null, null, R, D),
      /table has 39 values, expected R·D/,
    ],
    [
      'weights of the wrong length',
      () => embeddingBag(gpu, table, u32(1, 2), u32(0, 2), new Float32Array(3), R, D),
      /weights has 3 values/,
    ],
    [
      'weights with mean pooling',
      () => embeddingBag(gpu, table, u32(1, 2), u32(0, 2), new Float32Array(2), R, D, 'mean'),
      /per-sample weights need mode 'sum'/,
    ],
    [
      'an unknown mode',
      () => embeddingBag(gpu, table, u32(1), null, null, R, D, 'max' as 'sum'),
      /mode 'max' is unknown/,
    ],
    [
      'backward: an index outside the table',
      () => embeddingBagBackward(gpu, null, u32(11), null, null, new Float32Array(4), R, D),
      /indices\[0\] = 11 is outside the table/,
    ],
    [
      'backward: dy of the wrong size',
      () => embeddingBagBackward(gpu, null, u32(1, 2), u32(0, 2), null, new Float32Array(3), R, D),
      /dy has 3 values, expected B·D = 1·4 = 4/,
    ],
    [
      'backward: weights without the table',
      () => embeddingBagBackward(gpu, null, u32(1, 2), u32(0, 2), new Float32Array(2), new Float32Array(4), R, D),
      /gradient of weights needs the table/,
    ],
  ];
  it.each(cases)('%s → ShapeError', async (_name, call, message) => {
    const err = await call().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('embedding_bag', () => {
  it('pools by hand-checked values, empty bags give zeros', async () => {
    // bags: {1, 3}, {}, {2}
    const sum = await embeddingBag(gpu, table, u32(1, 3, 2), u32(0, 2, 2, 3), null, R, D, 'sum');
    expect(Array.from(sum)).toEqual([16, 18, 20, 22, 0, 0, 0, 0, 8, 9, 10, 11]);
    const mean = await embeddingBag(gpu, table, u32(1, 3, 2), u32(0, 2, 2, 3), null, R, D, 'mean');
    expect(Array.from(mean)).toEqual([8, 9, 10, 11, 0, 0, 0, 0, 8, 9, 10, 11]);
    const all = await embeddingBag(gpu, table, u32(), u32(0, 0), null, R, D);
    expect(Array.from(all)).toEqual([0, 0, 0, 0]);
  });

  it('EmbeddingBagOp reuses its buffers over batches of different sizes', async () => {
    const rng = testRng(11);
    const [Rb, Db] = [300, 24];
    const t = rng.uniform(Rb * Db);
    const tableBuffer = gpu.upload('test:table', t);
    const op = await EmbeddingBagOp.create(gpu, {
      table: tableBuffer,
      R: Rb,
      D: Db,
      maxBags: 50,
      maxNnz: 400,
      mode: 'mean',
    });
    for (const B of [50, 7, 33]) {
      const { indices, offsets } = randomBags(rng, Rb, B, 8);
      op.set(indices, offsets, null);
      gpu.run((pass) => op.encode(pass));
      const got = await gpu.readF32(op.out as GPUBuffer, B * Db);
      const want = embeddingBagReference(t, indices, offsets, null, Rb, Db, 'mean');
      expect(maxRelError(got, want)).toBeLessThanOrEqual(1e-5);
    }
    expect(() => op.set(u32(0, 300), u32(0, 2), null)).toThrow(/indices\[1\] = 300 is outside the table/);
    expect(() => op.set(new Uint32Array(51), null, null)).toThrow(/51 bags exceed maxBags = 50/);
    op.destroy();
    tableBuffer.destroy();
  });

  it('backward: hand-checked rows and gradients, bit-identical on a second run', async () => {
    // bags {1, 3, 1}, {3}: mean → row 1 gets 2·dy0/3, row 3 gets dy0/3 + dy1
    const dy = new Float32Array([3, 6, 9, 12, 1, 1, 1, 1]);
    const first = await embeddingBagBackward(gpu, null, u32(1, 3, 1, 3), u32(0, 3, 4), null, dy, R, D, 'mean');
    expect(Array.from(first.rows)).toEqual([1, 3]);
    expect(Array.from(first.dRows)).toEqual([2, 4, 6, 8, 2, 3, 4, 5]);
    expect(first.dWeights).toBeNull();
    const rng = testRng(4);
    const { indices, offsets } = randomBags(rng, 50, 200, 12, true);
    const big = rng.uniform(200 * 16);
    const a = await embeddingBagBackward(gpu, null, indices, offsets, null, big, 50, 16);
    const b = await embeddingBagBackward(gpu, null, indices, offsets, null, big, 50, 16);
    expect(new Uint32Array(b.dRows.buffer)).toEqual(new Uint32Array(a.dRows.buffer));
  });

  it('EmbeddingBagBackwardOp reuses its buffers over batches of different sizes', async () => {
    const rng = testRng(12);
    const [Rb, Db, maxBags] = [200, 20, 40];
    const t = rng.uniform(Rb * Db);
    const dy = rng.uniform(maxBags * Db);
    const tableBuffer = gpu.upload('test:table', t);
    const dyBuffer = gpu.upload('test:dy', dy);
    const op = await EmbeddingBagBackwardOp.create(gpu, {
      dy: dyBuffer,
      table: tableBuffer,
      R: Rb,
      D: Db,
      maxBags,
      maxNnz: 300,
      mode: 'sum',
      weighted: true,
    });
    for (const B of [40, 3, 25]) {
      const { indices, offsets } = randomBags(rng, Rb, B, 7, true);
      const weights = rng.uniform(indices.length, 0, 2);
      const plan = op.set(indices, offsets, weights);
      gpu.run((pass) => op.encode(pass));
      const want = embeddingBagBackwardReference(t, indices, offsets, weights, dy.subarray(0, B * Db), Rb, Db, 'sum');
      expect(Array.from(plan.rows)).toEqual(Array.from(want.rows));
      expect(Array.from(await gpu.readU32(op.rows, op.uniqueRows))).toEqual(Array.from(want.rows));
      expect(
        maxRelError(await gpu.readF32(op.gradRows as GPUBuffer, op.uniqueRows * Db), want.dRows),
      ).toBeLessThanOrEqual(1e-5);
      expect(maxRelError(await gpu.readF32(op.gradWeights!, indices.length), want.dWeights!)).toBeLessThanOrEqual(1e-5);
    }
    expect(() => op.set(u32(0, 1), u32(0, 2), null)).toThrow(
      /created with per-sample weights, but set\(\) was given none/,
    );
    op.destroy();
    tableBuffer.destroy();
    dyBuffer.destroy();
  });
});
