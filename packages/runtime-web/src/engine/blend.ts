// Blending the ranker's heads into one value per candidate, and bucketing users into variants.
import { fnv1a32 } from '@vireo/core';

/** Every score of one candidate. */
export interface CandidateScores {
  retrievalScore: number;
  pCtr: number;
  pCvr: number;
  /** Expected revenue of a conversion (the head's log1p undone). */
  revenue: number;
}

/** A blend: a function of the scores, or weights of a linear mix. */
export type Blend =
  | ((s: CandidateScores) => number)
  | { ctr?: number; cvr?: number; revenue?: number; expectedValue?: number; retrieval?: number };

/** Default: expected value pCtr · pCvr · revenue. */
export const expectedValue = (s: CandidateScores): number => s.pCtr * s.pCvr * s.revenue;

/** The blend as a function. */
export function blendFunction(blend: Blend | undefined): (s: CandidateScores) => number {
  if (blend === undefined) return expectedValue;
  if (typeof blend === 'function') return blend;
  const w = { ctr: 0, cvr: 0, revenue: 0, expectedValue: 0, retrieval: 0, ...blend };
  return (s) =>
    w.ctr * s.pCtr +
    w.cvr * s.pCvr +
    w.revenue * s.revenue +
    w.expectedValue * expectedValue(s) +
    w.retrieval * s.retrievalScore;
}

/**
 * Every candidate's blended value into `out` (n): the blend of its scores (heads (n, 3): pCtr, pCvr,
 * log1p revenue), or its retrieval score without heads. Weights (and the default) are computed
 * from the numbers, with the same arithmetic as blendFunction's; only a blend function gets a
 * CandidateScores object per candidate.
 */
export function blendScores(
  blend: Blend | undefined,
  retrievalScores: ArrayLike<number>,
  heads: Float32Array | null,
  n: number,
  out: Float64Array,
): void {
  if (!heads) {
    for (let j = 0; j < n; j++) out[j] = retrievalScores[j];
    return;
  }
  if (typeof blend === 'function') {
    for (let j = 0; j < n; j++) out[j] = blend(candidateScores(retrievalScores[j], heads, j));
    return;
  }
  const w = { ctr: 0, cvr: 0, revenue: 0, expectedValue: 0, retrieval: 0, ...blend };
  for (let j = 0; j < n; j++) {
    const pCtr = heads[j * 3];
    const pCvr = heads[j * 3 + 1];
    const revenue = Math.expm1(heads[j * 3 + 2]);
    const ev = pCtr * pCvr * revenue;
    out[j] =
      blend === undefined
        ? ev
        : w.ctr * pCtr + w.cvr * pCvr + w.revenue * revenue + w.expectedValue * ev + w.retrieval * retrievalScores[j];
  }
}

/** Candidate j's scores from the ranker's heads (n, 3) (revenue: the head's log1p undone). */
export function candidateScores(retrievalScore: number, heads: Float32Array | null, j: number): CandidateScores {
  return {
    retrievalScore,
    pCtr: heads ? heads[j * 3] : 0,
    pCvr: heads ? heads[j * 3 + 1] : 0,
    revenue: heads ? Math.expm1(heads[j * 3 + 2]) : 0,
  };
}

/**
 * The positions of the `k` best of `n` candidates, best first, in the order of `before` (a strict
 * order: the same as sorting all n and keeping k, at O(n log k) compares for small k).
 */
export function bestK(n: number, k: number, before: (a: number, b: number) => boolean): number[] {
  const top: number[] = [];
  for (let j = 0; j < n; j++) {
    if (top.length === k && !before(j, top[k - 1])) continue;
    let lo = 0;
    let hi = top.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(top[mid], j)) lo = mid + 1;
      else hi = mid;
    }
    top.splice(lo, 0, j);
    if (top.length > k) top.pop();
  }
  return top;
}

/**
 * The user's bucket in [0, 1): deterministic in (salt, userId), uniform over users.
 * @example bucketOf('exp1', 'u42') < 0.1 // in the 10 % treatment
 */
export function bucketOf(salt: string, userId: string): number {
  // FNV-1a's high bits barely move with the last byte (u1, u2, …): finish with murmur3's fmix32.
  let h = fnv1a32(`${salt}\u0000${userId}`);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}
