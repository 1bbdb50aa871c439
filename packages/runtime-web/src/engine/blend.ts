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
