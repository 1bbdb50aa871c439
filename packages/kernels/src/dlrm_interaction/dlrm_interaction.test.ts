// dlrm_interaction's CPU reference: DLRM's pair order, and the backward of `dot` and `cat`
// against float64 central finite differences of the forward.
import { describe, expect, it } from 'vitest';
import {
  dlrmInteractionBackwardReference,
  dlrmInteractionReference,
  dlrmInteractionWidth,
  type InteractionMode,
} from './dlrm_interaction.ts';
import { gradCheck, testRng } from '../testing.ts';

const f64 = (a: Float32Array) => Float64Array.from(a);

describe('dlrm_interaction reference', () => {
  it('orders pairs as DLRM does: i = 1..F, j = 0..i−1', () => {
    // z0 = [1, 0], z1 = [0, 2], z2 = [3, 1], z3 = [1, 1]
    const out = dlrmInteractionReference(
      new Float64Array([1, 0]),
      new Float64Array([0, 2, 3, 1, 1, 1]),
      1,
      3,
      2,
      'dot',
    );
    // (1,0) 0, (2,0) 3, (2,1) 2, (3,0) 1, (3,1) 2, (3,2) 4
    expect(Array.from(out)).toEqual([1, 0, 0, 3, 2, 1, 2, 4]);
    expect(dlrmInteractionWidth(26, 64, 'dot')).toBe(64 + 351);
    expect(dlrmInteractionWidth(26, 64, 'cat')).toBe(64 * 27);
  });
});

describe('dlrm_interaction backward (CPU reference) vs finite differences', () => {
  const cases: [number, number, number, InteractionMode][] = [
    [1, 1, 1, 'dot'],
    [1, 1, 1, 'cat'],
    [2, 3, 4, 'dot'],
    [3, 5, 7, 'dot'],
    [3, 4, 5, 'cat'],
  ];
  it.each(cases)('B=%i F=%i D=%i %s', (B, F, D, mode) => {
    const rng = testRng(B * 100 + F * 10 + D);
    const dense = f64(rng.uniform(B * D));
    const emb = f64(rng.uniform(B * F * D));
    const r = gradCheck(
      ([dense, emb]) => dlrmInteractionReference(dense, emb, B, F, D, mode),
      ([dense, emb], dy) => {
        const g = dlrmInteractionBackwardReference(dense, emb, dy, B, F, D, mode);
        return [g.dDense, g.dEmb];
      },
      [dense, emb],
      // bilinear in the inputs: float64 central differences are exact to rounding, ~1e-10.
      { atol: 1e-8, rtol: 1e-6 },
    );
    expect(r.worst, r.detail).toBeLessThanOrEqual(1);
  });
});
