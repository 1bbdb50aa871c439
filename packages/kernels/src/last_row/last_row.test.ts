// last_row's CPU references: the row it picks, empty rows, shape errors, and the backward
// against float64 central finite differences of the forward (gradCheck).
import { describe, expect, it } from 'vitest';
import { lastRowBackwardReference, lastRowReference } from './last_row.ts';
import { gradCheck, testRng } from '../testing.ts';

describe('last_row reference', () => {
  it("picks each row's most recent valid position, and zeros for an empty row", () => {
    const [B, L, W] = [3, 4, 2];
    const x = Float32Array.from({ length: B * L * W }, (_, i) => i);
    expect(Array.from(lastRowReference(x, [2, 0, 4], B, L, W))).toEqual([2, 3, 0, 0, 22, 23]);
  });

  it('names a wrong argument', () => {
    const x = new Float32Array(2 * 3 * 4);
    expect(() => lastRowReference(x, [1, 4], 2, 3, 4)).toThrow(/lengths\[1\] = 4 is outside 0..L = 0..3/);
    expect(() => lastRowReference(x, [1], 2, 3, 4)).toThrow(/lengths has 1 values, expected B = 2/);
    expect(() => lastRowBackwardReference(new Float32Array(3), [1, 2], 2, 3, 4)).toThrow(/dy has 3 values/);
  });

  it('backward matches central differences of the forward', () => {
    const [B, L, W] = [4, 5, 3];
    const lengths = [5, 0, 1, 3];
    const rng = testRng(7);
    const r = gradCheck(
      ([x]) => lastRowReference(x, lengths, B, L, W),
      (_inputs, dy) => [lastRowBackwardReference(dy, lengths, B, L, W)],
      [Float64Array.from(rng.uniform(B * L * W))],
      { atol: 1e-7, rtol: 1e-5 },
    );
    expect(r.worst, r.detail).toBeLessThanOrEqual(1);
  });
});
