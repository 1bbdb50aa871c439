// The barrier-free linear kernels (the variant bound layers use on CPU adapters) against the CPU
// reference, at shapes that are not multiples of any tile, both variants side by side.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linearBackwardReference, linearReference, type Activation } from './linear.ts';
import { maxRelError, testRng } from '../testing.ts';
import { Gpu } from '../gpu/index.ts';
import { LinearOp, LinearBackwardOp, linearVariant } from './linear.op.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

// float32 sums of ≤ 70 products in a fixed order against float64: well within 1e-5 relative.
const TOL = 1e-5;

describe('linear variants (tiled, direct) vs the CPU reference', () => {
  const cases: [number, number, number, Activation, boolean][] = [
    [1, 1, 1, 'none', false],
    [7, 13, 5, 'relu', true],
    [70, 19, 33, 'sigmoid', true],
  ];
  it.each(cases)('M=%i K=%i N=%i %s accumulate=%s', async (M, K, N, act, accumulate) => {
    const rng = testRng(M * 7 + K * 3 + N);
    const x = rng.uniform(M * K);
    const w = rng.uniform(N * K, -0.5, 0.5);
    const b = rng.uniform(N);
    const dy = rng.uniform(M * N);
    const start = { dx: rng.uniform(M * K), dw: rng.uniform(N * K), db: rng.uniform(N) };
    const y = linearReference(x, w, b, M, K, N, act);
    const want = linearBackwardReference(x, w, y, dy, M, K, N, act);
    for (const variant of ['tiled', 'direct'] as const) {
      const bufs = {
        x: gpu.upload('t:x', x),
        w: gpu.upload('t:w', w),
        b: gpu.upload('t:b', b),
        y: gpu.buffer('t:y', M * N * 4),
        dy: gpu.upload('t:dy', dy),
        dx: gpu.upload('t:dx', start.dx),
        dw: gpu.upload('t:dw', start.dw),
        db: gpu.upload('t:db', start.db),
      };
      const fc = await LinearOp.create(gpu, bufs, { M, K, N }, variant);
      const back = await LinearBackwardOp.create(gpu, bufs, { M, K, N }, variant);
      gpu.run((pass) => {
        fc.encode(pass, { M, K, N, act });
        back.encode(pass, { M, K, N, act, accumulate });
      });
      const got = {
        y: await gpu.readF32(bufs.y, M * N),
        dx: await gpu.readF32(bufs.dx, M * K),
        dw: await gpu.readF32(bufs.dw, N * K),
        db: await gpu.readF32(bufs.db, N),
      };
      const plus = (a: Float32Array, s: Float32Array) => (accumulate ? a.map((v, i) => v + s[i]) : a);
      expect(maxRelError(got.y, y), `${variant} y`).toBeLessThanOrEqual(TOL);
      expect(maxRelError(got.dx, plus(want.dx, start.dx)), `${variant} dx`).toBeLessThanOrEqual(TOL);
      expect(maxRelError(got.dw, plus(want.dw, start.dw)), `${variant} dw`).toBeLessThanOrEqual(TOL);
      expect(maxRelError(got.db, plus(want.db, start.db)), `${variant} db`).toBeLessThanOrEqual(TOL);
      fc.destroy();
      back.destroy();
      for (const buf of Object.values(bufs)) buf.destroy();
    }
  });

  it('picks the direct kernels on a fallback (CPU) adapter and the tiled ones elsewhere', () => {
    expect(linearVariant(gpu)).toBe(gpu.info.isFallbackAdapter ? 'direct' : 'tiled');
  });
});
