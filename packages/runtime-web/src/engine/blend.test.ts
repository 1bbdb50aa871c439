// blendScores and bestK, the engine's step 5, against what it did before them: a CandidateScores
// object and blendFunction per candidate, then a sort of every candidate (blended, retrieval score,
// item id), the first k kept.
import { describe, expect, it } from 'vitest';
import { testRng } from '@vireo/kernels';
import { bestK, blendFunction, blendScores, candidateScores, type Blend } from './blend.ts';

function sortedBefore(blend: Blend | undefined, rs: number[], heads: Float32Array | null, ids: string[], k: number) {
  const f = blendFunction(blend);
  const blended = rs.map((r, j) => (heads ? f(candidateScores(r, heads, j)) : r));
  const order = rs.map((_, j) => j);
  order.sort((a, b) => blended[b] - blended[a] || rs[b] - rs[a] || (ids[a] < ids[b] ? -1 : 1));
  return { order: order.slice(0, k), blended };
}

describe('blendScores + bestK keep what blendFunction + a full sort gave', () => {
  const blends: [string, Blend | undefined][] = [
    ['default (expected value)', undefined],
    ['weights', { ctr: 0.5, cvr: 2, revenue: 0.01, expectedValue: 3, retrieval: 0.2 }],
    ['a function', (s) => s.pCtr - s.retrievalScore],
  ];
  for (const [name, blend] of blends)
    it(`${name}: the same values and the same first k, ties included`, () => {
      const rng = testRng(41);
      for (let trial = 0; trial < 60; trial++) {
        const n = rng.int(300);
        const k = 1 + rng.int(40);
        // Few distinct values, so that blended and retrieval ties happen and the id decides.
        const rs = Array.from({ length: n }, () => Math.fround(rng.int(6) / 4));
        const heads = trial % 7 === 0 ? null : Float32Array.from({ length: n * 3 }, () => rng.int(4) / 4);
        const ids = Array.from({ length: n }, (_, j) => `i${(j * 7919) % 1009}`);
        const want = sortedBefore(blend, rs, heads, ids, k);
        const blended = new Float64Array(n);
        blendScores(blend, rs, heads, n, blended);
        expect(Array.from(blended), `trial ${trial}`).toEqual(want.blended);
        const got = bestK(
          n,
          k,
          (a, b) =>
            blended[a] > blended[b] ||
            (blended[a] === blended[b] && (rs[a] > rs[b] || (rs[a] === rs[b] && ids[a] < ids[b]))),
        );
        expect(got, `trial ${trial}`).toEqual(want.order);
      }
    });
});
