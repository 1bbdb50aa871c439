// embedding_bag's CPU reference: hand-checked values, the sort plan, and the backward against
// float64 central finite differences of the forward.
import { describe, expect, it } from 'vitest';
import {
  embeddingBagBackwardReference,
  embeddingBagPlan,
  embeddingBagReference,
  type BagMode,
} from './embedding_bag.ts';
import { gradCheck, testRng } from '../testing.ts';

const u32 = (...v: number[]) => new Uint32Array(v);

describe('embedding_bag reference', () => {
  it('pools hand-checked values', () => {
    const table = Float64Array.from({ length: 8 }, (_, i) => i); // R = 4, D = 2
    expect(Array.from(embeddingBagReference(table, u32(3, 1, 1), null, null, 4, 2))).toEqual([6, 7, 2, 3, 2, 3]);
    expect(Array.from(embeddingBagReference(table, u32(3, 1, 0), u32(0, 2, 2, 3), null, 4, 2, 'mean'))).toEqual([
      4, 5, 0, 0, 0, 1,
    ]);
    expect(Array.from(embeddingBagReference(table, u32(3, 1), u32(0, 2), new Float64Array([0.5, 2]), 4, 2))).toEqual([
      7, 9.5,
    ]);
  });
});

describe('embeddingBagPlan', () => {
  it('groups positions by row, in position order', () => {
    const plan = embeddingBagPlan(u32(5, 2, 5, 9, 2, 5), u32(0, 2, 2, 6));
    expect(Array.from(plan.rows)).toEqual([2, 5, 9]);
    expect(Array.from(plan.segments)).toEqual([0, 2, 5, 6]);
    expect(Array.from(plan.sortedPos)).toEqual([1, 4, 0, 2, 5, 3]);
    expect(Array.from(plan.sortedBag)).toEqual([0, 2, 0, 2, 2, 2]);
  });

  it('sorts (index, position) pairs for indices of every byte width, up to 2³² − 1', () => {
    const rng = testRng(21);
    for (const R of [1, 2, 255, 256, 70_000, 2 ** 24 + 3, 2 ** 32]) {
      const nnz = 500;
      const indices = Uint32Array.from({ length: nnz }, () =>
        Math.min(R - 1, rng.int(Math.min(R, 40)) * Math.floor(R / 40) + rng.int(2)),
      );
      indices[7] = R - 1;
      const plan = embeddingBagPlan(indices, null);
      for (let k = 1; k < nnz; k++) {
        const [a, b] = [plan.sortedPos[k - 1], plan.sortedPos[k]];
        expect(indices[a] < indices[b] || (indices[a] === indices[b] && a < b), `order at ${k}`).toBe(true);
      }
      expect(new Set(plan.sortedPos).size).toBe(nnz);
      expect(Array.from(plan.rows)).toEqual([...new Set(indices)].sort((a, b) => a - b));
      plan.rows.forEach((row, u) => {
        for (let k = plan.segments[u]; k < plan.segments[u + 1]; k++) expect(indices[plan.sortedPos[k]]).toBe(row);
      });
      expect(Array.from(plan.sortedBag)).toEqual(Array.from(plan.sortedPos)); // plain lookup: bag = position
    }
  });

  it('handles an empty batch', () => {
    const plan = embeddingBagPlan(u32(), u32(0, 0));
    expect(plan.rows.length).toBe(0);
    expect(Array.from(plan.segments)).toEqual([0]);
  });
});

describe('embedding_bag backward (CPU reference) vs finite differences', () => {
  // [R, D, B, max bag length (0: plain lookup), mode, weighted]
  const cases: [number, number, number, number, BagMode, boolean][] = [
    [1, 1, 1, 0, 'sum', false],
    [7, 3, 5, 0, 'sum', false],
    [11, 4, 6, 5, 'sum', false],
    [13, 5, 7, 6, 'mean', false],
    [9, 3, 8, 4, 'sum', true],
  ];
  it.each(cases)('R=%i D=%i B=%i bags≤%i %s weighted=%s', (R, D, B, len, mode, weighted) => {
    const rng = testRng(R * 100 + D * 10 + B);
    const offsets = len === 0 ? null : new Uint32Array(B + 1);
    if (offsets) for (let b = 0; b < B; b++) offsets[b + 1] = offsets[b] + rng.int(len + 1);
    const nnz = offsets ? offsets[B] : B;
    const indices = Uint32Array.from({ length: nnz }, () => rng.int(R)); // repeats: rows hit several times
    const table = Float64Array.from(rng.uniform(R * D));
    const weights = Float64Array.from(rng.uniform(nnz, 0, 2));
    const inputs = weighted ? [table, weights] : [table];
    const r = gradCheck(
      ([t, w]) => embeddingBagReference(t, indices, offsets, weighted ? w : null, R, D, mode),
      ([t, w], dy) => {
        const g = embeddingBagBackwardReference(t, indices, offsets, weighted ? w : null, dy, R, D, mode);
        const dTable = new Float64Array(R * D); // rows not touched have zero gradient
        g.rows.forEach((row, u) => dTable.set(g.dRows.subarray(u * D, (u + 1) * D), row * D));
        return weighted ? [dTable, g.dWeights!] : [dTable];
      },
      inputs,
      // linear in table and weights: float64 differences with eps 1e-6 are exact to ~1e-10.
      { atol: 1e-8, rtol: 1e-6 },
    );
    expect(r.worst, r.detail).toBeLessThanOrEqual(1);
  });
});
