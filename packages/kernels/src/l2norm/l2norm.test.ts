// l2norm's CPU reference: unit rows, and the backward against float64 central finite
// differences of the forward (also where the eps clamp holds).
import { describe, expect, it } from 'vitest';
import { l2normBackwardReference, l2normReference } from './l2norm.ts';
import { gradCheck, testRng } from '../testing.ts';

const f64 = (a: Float32Array) => Float64Array.from(a);

describe('l2norm reference', () => {
  it('gives unit rows and keeps a zero row at zero', () => {
    const { y, norm } = l2normReference(new Float64Array([3, 4, 0, 0]), 2, 2);
    [0.6, 0.8, 0, 0].forEach((v, i) => expect(y[i]).toBeCloseTo(v, 15));
    expect(Array.from(norm)).toEqual([5, 0]);
  });
});

describe('l2norm backward (CPU reference) vs finite differences', () => {
  const cases: [number, number, number][] = [
    [1, 1, 1e-12],
    [1, 2, 1e-12],
    [3, 7, 1e-12],
    [6, 33, 1e-12],
    [2, 5, 10],
  ];
  it.each(cases)('M=%i D=%i eps=%s', (M, D, eps) => {
    const rng = testRng(M * 100 + D);
    // eps = 10 puts every row (‖x‖ ≤ √5) under the clamp: y = x/eps there.
    const x = f64(rng.uniform(M * D, -1, 1));
    const r = gradCheck(
      ([x]) => l2normReference(x, M, D, eps).y,
      ([x], dy) => [l2normBackwardReference(x, l2normReference(x, M, D, eps).norm, dy, M, D, eps)],
      [x],
      // float64 differences with eps 1e-6 of a smooth function of O(1) rows: ~1e-10.
      { atol: 1e-7, rtol: 1e-6 },
    );
    expect(r.worst, r.detail).toBeLessThanOrEqual(1);
  });
});
