import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linearBackwardReference, linearReference } from './linear.ts';
import { maxRelError, testRng } from '../testing.ts';
import { ShapeError } from '../kernel.ts';
import { Gpu } from '../gpu/index.ts';
import { LinearOp, LinearBackwardOp, linearGrads } from './linear.op.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

describe('linear backward bad input', () => {
  const [M, K, N] = [3, 4, 5];
  const x = new Float32Array(M * K);
  const w = new Float32Array(N * K);
  const y = new Float32Array(M * N);
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['x of the wrong size', () => linearGrads(gpu, x.subarray(1), w, y, y, M, K, N), /x has 11 values, expected M·K/],
    ['w of the wrong size', () => linearGrads(gpu, x, w.subarray(2), y, y, M, K, N), /w has 18 values, expected N·K/],
    ['y of the wrong size', () => linearGrads(gpu, x, w, y.subarray(1), y, M, K, N), /y has 14 values, expected M·N/],
    [
      'dy of the wrong size',
      () => linearGrads(gpu, x, w, y, new Float32Array(16), M, K, N),
      /dy has 16 values, expected M·N/,
    ],
    ['a zero dimension', () => linearGrads(gpu, x, w, y, y, 0, K, N), /M, K, N must be positive integers/],
  ];
  it.each(cases)('%s → ShapeError', async (_name, call, message) => {
    const err = await call().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('linear bound forms', () => {
  it(
    'LinearOp then LinearBackwardOp (no dx, ' + 'accumulate) match the references and are bit-identical on a rerun',
    async () => {
      const rng = testRng(11);
      const [M, K, N] = [37, 19, 23];
      const x = rng.uniform(M * K);
      const w = rng.uniform(N * K, -0.5, 0.5);
      const b = rng.uniform(N);
      const dy = rng.uniform(M * N);
      const start = rng.uniform(N * K); // existing gradient contents to accumulate into
      const bufs = {
        x: gpu.upload('test:x', x),
        w: gpu.upload('test:w', w),
        b: gpu.upload('test:b', b),
        y: gpu.buffer('test:y', M * N * 4),
        dy: gpu.upload('test:dy', dy),
        dw: gpu.buffer('test:dw', N * K * 4),
        db: gpu.buffer('test:db', N * 4),
      };
      const fc = await LinearOp.create(gpu, bufs, { M: 64, K, N });
      const grads = await LinearBackwardOp.create(
        gpu,
        { x: bufs.x, w: bufs.w, y: bufs.y, dy: bufs.dy, dw: bufs.dw, db: bufs.db },
        { M: 64, K, N },
      );
      const run = async () => {
        gpu.write(bufs.dw, start);
        gpu.write(bufs.db, new Float32Array(N));
        gpu.run((pass) => {
          fc.encode(pass, { M, K, N, act: 'sigmoid' });
          grads.encode(pass, { M, K, N, act: 'sigmoid', accumulate: true });
        });
        return {
          y: await gpu.readF32(bufs.y, M * N),
          dw: await gpu.readF32(bufs.dw, N * K),
          db: await gpu.readF32(bufs.db, N),
        };
      };
      const got = await run();
      const y = linearReference(x, w, b, M, K, N, 'sigmoid');
      const want = linearBackwardReference(x, w, y, dy, M, K, N, 'sigmoid');
      expect(maxRelError(got.y, y)).toBeLessThanOrEqual(1e-5);
      expect(
        maxRelError(
          got.dw,
          want.dw.map((g, i) => g + start[i]),
        ),
      ).toBeLessThanOrEqual(1e-5);
      expect(maxRelError(got.db, want.db)).toBeLessThanOrEqual(1e-5);
      const again = await run();
      expect(Array.from(again.dw)).toEqual(Array.from(got.dw));
      expect(Array.from(again.db)).toEqual(Array.from(got.db));

      expect(() => gpu.run((pass) => grads.encode(pass, { M, K, N, needDx: true }))).toThrow(/no dx buffer was bound/);
      expect(() => gpu.run((pass) => grads.encode(pass, { M: 65, K, N }))).toThrow(ShapeError);
      fc.destroy();
      grads.destroy();
      for (const buf of Object.values(bufs)) buf.destroy();
    },
  );

  it("LinearBackwardOp without y (act 'none') or db computes dx and dw", async () => {
    const rng = testRng(12);
    const [M, K, N] = [5, 33, 17];
    const x = rng.uniform(M * K);
    const w = rng.uniform(N * K);
    const dy = rng.uniform(M * N);
    const bufs = {
      x: gpu.upload('test:x', x),
      w: gpu.upload('test:w', w),
      dy: gpu.upload('test:dy', dy),
      dx: gpu.buffer('test:dx', M * K * 4),
      dw: gpu.buffer('test:dw', N * K * 4),
    };
    const grads = await LinearBackwardOp.create(gpu, bufs, { M, K, N });
    expect(() => gpu.run((pass) => grads.encode(pass, { M, K, N, act: 'relu' }))).toThrow(/needs the forward output y/);
    gpu.run((pass) => grads.encode(pass, { M, K, N }));
    const want = linearBackwardReference(x, w, new Float32Array(M * N), dy, M, K, N, 'none');
    expect(maxRelError(await gpu.readF32(bufs.dx, M * K), want.dx)).toBeLessThanOrEqual(1e-5);
    expect(maxRelError(await gpu.readF32(bufs.dw, N * K), want.dw)).toBeLessThanOrEqual(1e-5);
    grads.destroy();
    for (const buf of Object.values(bufs)) buf.destroy();
  });
});
