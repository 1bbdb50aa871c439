import { describe, expect, it } from 'vitest';
import { auc, calibration, hitRateAtK, logLoss, mrr, ndcgAtK, recallAtK, reciprocalRank, topK } from './metrics.ts';

describe('retrieval metrics (hand-computed cases)', () => {
  const ranked = [7, 3, 9, 1, 4];
  const relevant = new Set([3, 4, 8]);
  it('Recall@K', () => {
    expect(recallAtK(ranked, relevant, 1)).toBe(0);
    expect(recallAtK(ranked, relevant, 2)).toBeCloseTo(1 / 3, 12);
    expect(recallAtK(ranked, relevant, 5)).toBeCloseTo(2 / 3, 12);
    expect(recallAtK(ranked, [], 5)).toBe(0);
  });
  it('HitRate@K', () => {
    expect(hitRateAtK(ranked, relevant, 1)).toBe(0);
    expect(hitRateAtK(ranked, relevant, 2)).toBe(1);
  });
  it('NDCG@K', () => {
    // hits at ranks 2 and 5; ideal: 3 hits at ranks 1..3 (K = 5)
    const dcg = 1 / Math.log2(3) + 1 / Math.log2(6);
    const idcg = 1 + 1 / Math.log2(3) + 1 / Math.log2(4);
    expect(ndcgAtK(ranked, relevant, 5)).toBeCloseTo(dcg / idcg, 12);
    // K = 2: one hit at rank 2; ideal has 2 hits
    expect(ndcgAtK(ranked, relevant, 2)).toBeCloseTo(1 / Math.log2(3) / (1 + 1 / Math.log2(3)), 12);
    expect(ndcgAtK([3, 4, 8], relevant, 3)).toBeCloseTo(1, 12);
  });
  it('MRR', () => {
    expect(reciprocalRank(ranked, relevant)).toBe(0.5);
    expect(reciprocalRank(ranked, [4])).toBe(0.2);
    expect(reciprocalRank(ranked, [4], 3)).toBe(0);
    expect(mrr([ranked, [4, 7]], [[4], [4]])).toBeCloseTo((0.2 + 1) / 2, 12);
  });
  it('topK over the catalogue, excluding training items, ties to the lower index', () => {
    const scores = Float32Array.from([0.5, 0.9, 0.1, 0.9, 0.7, 0.3]);
    expect([...topK(scores, 3)]).toEqual([1, 3, 4]);
    expect([...topK(scores, 3, new Set([1, 4]))]).toEqual([3, 0, 5]);
    expect([...topK(scores, 10)]).toEqual([1, 3, 4, 0, 5, 2]);
    expect([...topK(scores, 0)]).toEqual([]);
  });
});

describe('ranking metrics (hand-computed cases)', () => {
  it('AUC counts ordered pairs, ties as one half', () => {
    // pairs (pos, neg): (0.35,0.1) ✓ (0.35,0.4) ✗ (0.8,0.1) ✓ (0.8,0.4) ✓ → 3/4
    expect(auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBe(0.75);
    // all tied → 0.5; one tie between a pos and a neg → (1 + 0.5) / 2
    expect(auc([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3])).toBe(0.5);
    expect(auc([0, 1, 1], [0.2, 0.2, 0.9])).toBe(0.75);
    expect(auc([1, 1], [0.2, 0.9])).toBeNaN();
    // brute force on a random case with many ties
    const labels: number[] = [];
    const scores: number[] = [];
    for (let i = 0; i < 200; i++) {
      labels.push((i * 7919) % 3 === 0 ? 1 : 0);
      scores.push(((i * 104729) % 11) / 10);
    }
    let wins = 0;
    let pairs = 0;
    for (let i = 0; i < 200; i++)
      for (let j = 0; j < 200; j++)
        if (labels[i] === 1 && labels[j] === 0) {
          pairs++;
          wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
        }
    expect(auc(labels, scores)).toBeCloseTo(wins / pairs, 12);
  });
  it('log loss, clamped', () => {
    expect(logLoss([1, 0], [0.9, 0.2])).toBeCloseTo((-Math.log(0.9) - Math.log(0.8)) / 2, 12);
    expect(logLoss([1], [0])).toBeCloseTo(-Math.log(1e-7), 9);
  });
  it('calibration bins and ECE', () => {
    const { bins, ece } = calibration([0, 1, 1, 1], [0.2, 0.4, 0.8, 1.0], 2);
    expect(bins[0]).toMatchObject({ lower: 0, upper: 0.5, count: 2, observed: 0.5 });
    expect(bins[0].predicted).toBeCloseTo(0.3, 12);
    expect(bins[1]).toMatchObject({ count: 2, observed: 1 });
    expect(bins[1].predicted).toBeCloseTo(0.9, 12);
    expect(ece).toBeCloseTo(0.5 * 0.2 + 0.5 * 0.1, 12);
    expect(calibration([1], [0.5], 4).bins[3].count).toBe(0);
  });
});
