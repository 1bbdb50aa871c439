// softmax_xent's CPU backward against float64 central finite differences of its CPU forward,
// at the score level (the kernels' contract) and at the tower level (U, V: the trainer's loss).
import { describe, expect, it } from 'vitest';
import {
  inBatchSoftmaxBackwardReference,
  inBatchSoftmaxReference,
  softmaxXentBackwardReference,
  softmaxXentReference,
} from './softmax_xent.ts';
import { gradCheck, testRng } from '../testing.ts';

const mean = (a: ArrayLike<number>) => Float64Array.of(Array.from(a).reduce((s, x) => s + x, 0) / a.length);

function inputs(B: number, D: number, seed: number, idRange: number) {
  const rng = testRng(seed);
  return {
    u: Float64Array.from(rng.uniform(B * D)),
    v: Float64Array.from(rng.uniform(B * D)),
    logq: Float64Array.from(rng.uniform(B, 1e-3, 1e-1), Math.log),
    ids: Uint32Array.from({ length: B }, () => rng.int(idRange)),
  };
}

// float64 differences with eps 1e-6 of logits of size ≤ ~|u||v|/τ ≈ 20: truncation ~1e-10,
// rounding ~1e-9 relative; atol 1e-7, rtol 1e-5 leave a wide margin and still catch a wrong term.
const TOL = { atol: 1e-7, rtol: 1e-5 };

describe('softmax_xent backward (CPU reference) vs finite differences', () => {
  it.each([
    [1, 1, 0.5, 1],
    [3, 2, 0.3, 3],
    [8, 5, 0.1, 4], // ids in 0..3: several accidental hits to mask
    [16, 8, 0.05, 16],
  ])('B=%i D=%i tau=%f (ids < %i)', (B, D, tau, idRange) => {
    const { u, v, logq, ids } = inputs(B, D, B * 31 + D, idRange);
    // tower level: the mean loss against u and v
    const tower = gradCheck(
      ([u, v]) => mean(inBatchSoftmaxReference(u, v, logq, ids, B, D, tau).loss),
      ([u, v], g) => {
        const { du, dv } = inBatchSoftmaxBackwardReference(u, v, logq, ids, B, D, tau, g[0] / B);
        return [du, dv];
      },
      [u, v],
      TOL,
    );
    expect(tower.worst, tower.detail).toBeLessThanOrEqual(1);
    // score level: the kernels' own contract (G = dL/dS), with the forward's lse
    const scores = Float64Array.from({ length: B * B }, (_, k) => (k % (B + 1) === 0 ? 2 : 1) * Math.sin(k + 1));
    const level = gradCheck(
      ([s]) => mean(softmaxXentReference(s, logq, ids, B, tau).loss),
      ([s], g) => [
        softmaxXentBackwardReference(logq, ids, softmaxXentReference(s, logq, ids, B, tau).lse, s, B, tau, g[0] / B),
      ],
      [scores],
      TOL,
    );
    expect(level.worst, level.detail).toBeLessThanOrEqual(1);
  });

  it('masks accidental hits, applies logQ to every column and gives the known two-item loss', () => {
    // B = 2, u·v = identity scores, tau = 1, logq = [0, ln 2]: row 0 = log(e^1 + e^(0 − ln2)) − 1.
    const u = Float64Array.of(1, 0, 0, 1);
    const v = Float64Array.of(1, 0, 0, 1);
    const logq = Float64Array.of(0, Math.log(2));
    const distinct = inBatchSoftmaxReference(u, v, logq, Uint32Array.of(7, 8), 2, 2, 1);
    expect(distinct.loss[0]).toBeCloseTo(Math.log(Math.E + 0.5) - 1, 12);
    expect(distinct.loss[1]).toBeCloseTo(Math.log(1 + 0.5 * Math.E) - (1 - Math.log(2)), 12);
    // the same item twice: each row keeps only its diagonal, the loss is 0 and so is the gradient
    const same = inBatchSoftmaxReference(u, v, logq, Uint32Array.of(7, 7), 2, 2, 1);
    expect(Array.from(same.loss)).toEqual([0, 0]);
    const g = inBatchSoftmaxBackwardReference(u, v, logq, Uint32Array.of(7, 7), 2, 2, 1, 0.5);
    expect(Array.from(g.du)).toEqual([0, 0, 0, 0]);
  });
});
