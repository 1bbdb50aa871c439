// next_item_xent's CPU references: what the loss is on a hand-sized case, the block and padding
// rules, shape errors, and the backward against float64 central finite differences (gradCheck).
import { describe, expect, it } from 'vitest';
import { nextItemXentBackwardReference, nextItemXentReference, NO_NEXT_ITEM } from './next_item_xent.ts';
import { gradCheck, testRng } from '../testing.ts';

describe('next_item_xent reference', () => {
  it('is the softmax cross-entropy of each row against its block, with logQ, accidental hits and padding', () => {
    // W = 1: logit(i, j) = q_i·t_j. Rows 0..2 form block 0, row 3 block 1 (alone: loss 0).
    const q = Float64Array.from([1, 2, 0.5, 3]);
    const t = Float64Array.from([1, -1, 2, 5]);
    const logq = [0, Math.log(0.5), 0, 0];
    const ids = [7, 8, 7, 9];
    const { loss } = nextItemXentReference(q, t, logq, ids, 4, 1, 3, 1);
    const lse = (xs: number[]) => Math.log(xs.reduce((s, x) => s + Math.exp(x), 0));
    // row 0 (item 7): row 2 is the same item, so not a negative; row 1's logit is −1 − log 0.5
    expect(loss[0]).toBeCloseTo(lse([1, -1 - Math.log(0.5)]) - 1, 12);
    expect(loss[1]).toBeCloseTo(lse([2, -2 - Math.log(0.5), 4]) - (-2 - Math.log(0.5)), 12);
    expect(loss[3]).toBe(0);
    const padded = nextItemXentReference(q, t, logq, [7, NO_NEXT_ITEM, 7, 9], 4, 1, 3, 1);
    expect(padded.loss[1]).toBe(0); // no next item: no loss, and not row 0's negative
    expect(padded.loss[0]).toBeCloseTo(0, 12);
  });

  it('names a wrong argument', () => {
    const a = new Float32Array(6);
    expect(() => nextItemXentReference(a, a, [0, 0], [1, 2], 2, 3, 0, 1)).toThrow(/M must be a positive integer/);
    expect(() => nextItemXentReference(a, a, [0], [1, 2], 2, 3, 2, 1)).toThrow(/logq has 1 values, expected 2/);
    expect(() => nextItemXentReference(a, a, [0, 0], [1, 2], 2, 3, 2, 0)).toThrow(/tau must be positive/);
  });

  it('backward matches central differences of the forward', () => {
    const [N, W, M, tau] = [11, 3, 4, 0.7];
    const rng = testRng(3);
    const logq = Array.from({ length: N }, () => Math.log(0.01 + rng.next()));
    const ids = Array.from({ length: N }, (_, i) => (i % 5 === 4 ? NO_NEXT_ITEM : rng.int(6)));
    const r = gradCheck(
      ([q, t]) => nextItemXentReference(q, t, logq, ids, N, W, M, tau).loss,
      ([q, t], dloss) => {
        const g = nextItemXentBackwardReference(q, t, logq, ids, dloss, N, W, M, tau, 1);
        return [g.dq, g.dt];
      },
      [Float64Array.from(rng.uniform(N * W)), Float64Array.from(rng.uniform(N * W))],
      { atol: 1e-7, rtol: 1e-5 },
    );
    expect(r.worst, r.detail).toBeLessThanOrEqual(1);
  });
});
