// layernorm's CPU reference: normalised rows, and the backward against float64 central finite
// differences of the forward.
import { describe, expect, it } from 'vitest';
import { layernormBackwardReference, layernormReference } from './layernorm.ts';
import { gradCheck, testRng } from '../testing.ts';

const f64 = (a: Float32Array) => Float64Array.from(a);

describe('layernorm reference', () => {
  it('gives rows of mean 0 and variance 1 with gamma = 1, beta = 0', () => {
    const [M, D] = [3, 50];
    const x = f64(testRng(1).uniform(M * D, -3, 5));
    const { y, mean } = layernormReference(x, new Float64Array(D).fill(1), new Float64Array(D), M, D, 1e-12);
    for (let m = 0; m < M; m++) {
      const row = y.subarray(m * D, (m + 1) * D);
      const mu = row.reduce((s, v) => s + v, 0) / D;
      expect(Math.abs(mu)).toBeLessThan(1e-12);
      expect(row.reduce((s, v) => s + v * v, 0) / D).toBeCloseTo(1, 10);
      expect(mean[m]).toBeCloseTo(x.subarray(m * D, (m + 1) * D).reduce((s, v) => s + v, 0) / D, 12);
    }
  });
});

describe('layernorm backward (CPU reference) vs finite differences', () => {
  const cases: [number, number][] = [
    [1, 1],
    [1, 2],
    [3, 7],
    [5, 16],
    [4, 33],
  ];
  it.each(cases)('M=%i D=%i', (M, D) => {
    const rng = testRng(M * 100 + D);
    const x = f64(rng.uniform(M * D, -2, 2));
    const gamma = f64(rng.uniform(D, 0.5, 1.5));
    const beta = f64(rng.uniform(D));
    const r = gradCheck(
      ([x, gamma, beta]) => layernormReference(x, gamma, beta, M, D).y,
      ([x, gamma, beta], dy) => {
        const { mean, rstd } = layernormReference(x, gamma, beta, M, D);
        const g = layernormBackwardReference(x, gamma, mean, rstd, dy, M, D);
        return [g.dx, g.dgamma, g.dbeta];
      },
      [x, gamma, beta],
      // float64 differences with eps 1e-6 of a smooth O(1) function: truncation ~1e-12 · rstd³,
      // rounding ~1e-10.
      { atol: 1e-7, rtol: 1e-6 },
    );
    expect(r.worst, r.detail).toBeLessThanOrEqual(1);
  });
});
