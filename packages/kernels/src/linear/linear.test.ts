// linear's CPU backward against float64 central finite differences of its CPU forward.
import { describe, expect, it } from 'vitest';
import { linearBackwardReference, linearReference, type Activation } from './linear.ts';
import { gradCheck, testRng } from '../testing.ts';

const f64 = (a: Float32Array) => Float64Array.from(a);

describe('linear backward (CPU reference) vs finite differences', () => {
  const cases: [number, number, number, Activation][] = [
    [1, 1, 1, 'none'],
    [3, 5, 7, 'relu'],
    [4, 6, 3, 'sigmoid'],
    [13, 17, 11, 'relu'],
  ];
  it.each(cases)('M=%i K=%i N=%i %s', (M, K, N, act) => {
    const rng = testRng(M * 1000 + K * 10 + N);
    const x = f64(rng.uniform(M * K));
    const w = f64(rng.uniform(N * K));
    const b = f64(rng.uniform(N));
    const r = gradCheck(
      ([x, w, b]) => linearReference(x, w, b, M, K, N, act),
      ([x, w, b], dy) => {
        const g = linearBackwardReference(x, w, linearReference(x, w, b, M, K, N, act), dy, M, K, N, act);
        return [g.dx, g.dw, g.db];
      },
      [x, w, b],
      // float64 differences with eps 1e-6: truncation ~1e-12, rounding ~1e-10 of O(1) values.
      { atol: 1e-7, rtol: 1e-6 },
    );
    expect(r.worst, r.detail).toBeLessThanOrEqual(1);
  });

  it('returns float64 for float64 inputs and float32 for float32 inputs', () => {
    const x32 = new Float32Array([1, 2]);
    const g32 = linearBackwardReference(
      x32,
      new Float32Array([3, 4]),
      new Float32Array([1]),
      new Float32Array([1]),
      1,
      2,
      1,
    );
    expect(g32.dw).toBeInstanceOf(Float32Array);
    const g64 = linearBackwardReference(
      f64(x32),
      new Float32Array([3, 4]),
      new Float32Array([1]),
      new Float32Array([1]),
      1,
      2,
      1,
    );
    expect(g64.dx).toBeInstanceOf(Float64Array);
    expect(Array.from(g64.dx)).toEqual([3, 4]);
    expect(Array.from(g64.dw)).toEqual([1, 2]);
    expect(Array.from(g64.db)).toEqual([1]);
  });
});
