// Retrieval metrics and baselines on hand-made cases whose answers are known.
import { describe, expect, it } from 'vitest';
import type { RetrievalCase } from '../retrieval/data.ts';
import { bestRank, dotScorer, int8Scorer, rankingMetrics } from './retrieval.ts';
import { seedStat } from './retrieval-seeds.ts';
import { itemKnnScorer } from './retrieval-baselines.ts';
import type { Dataset } from '../ingest/index.ts';
import { FIRST_INDEX } from '@vireo/core';
import { quantizeRows } from '@vireo/models';

const one = (relevant: number[], exclude: number[] = []): RetrievalCase => ({
  user: 0,
  row: 0,
  ts: 0,
  relevant: Int32Array.from(relevant),
  historyStart: 0,
  historyEnd: 0,
  exclude: new Set(exclude),
  context: -1,
});

describe('retrieval metrics over a full ranking', () => {
  it('ranks with exclusions and ties going to the lower index', () => {
    const scores = [0.5, 0.9, 0.5, 0.1, 0.7];
    expect(bestRank(scores, [2], new Set())).toBe(4); // 0.9, 0.7, 0.5 (index 0), then 2
    expect(bestRank(scores, [2], new Set([1, 0]))).toBe(2);
    expect(bestRank(scores, [2, 4], new Set())).toBe(2);
    expect(bestRank(scores, [3], new Set([3]))).toBe(Infinity);
  });

  it('averages Recall@K, NDCG@10, HitRate@10 and MRR over users', () => {
    // 20 items; user A's item ranks 1st, user B's ranks 12th, user C's item is excluded.
    const N = 20;
    const scores = Float32Array.from({ length: N }, (_, i) => N - i); // item i ranks i+1
    const cases = [one([0]), one([11]), one([5], [5])];
    const m = rankingMetrics(cases, N, (_c, _i, out) => out.set(scores));
    expect(m.users).toBe(3);
    expect(m['recall@10']).toBeCloseTo(1 / 3, 12);
    expect(m['recall@50']).toBeCloseTo(2 / 3, 12);
    expect(m['hitrate@10']).toBeCloseTo(1 / 3, 12);
    expect(m['ndcg@10']).toBeCloseTo(1 / 3, 12);
    expect(m.mrr).toBeCloseTo((1 + 1 / 12) / 3, 12);
    // Standard errors over users: Recall@10 per user (1, 0, 0): sd = √(1/3), se = sd/√3 = 1/3.
    expect(m.se['recall@10']).toBeCloseTo(1 / 3, 12);
    expect(m.se['recall@50']).toBeCloseTo(1 / 3, 12); // (1, 1, 0)
    // MRR per user (1, 1/12, 0).
    const rr = [1, 1 / 12, 0];
    const mean = rr.reduce((a, b) => a + b) / 3;
    const sd = Math.sqrt(rr.reduce((s, v) => s + (v - mean) ** 2, 0) / 2);
    expect(m.se.mrr).toBeCloseTo(sd / Math.sqrt(3), 12);
  });

  it('combines seeds into mean ± sample sd', () => {
    expect(seedStat([1, 2, 3])).toEqual({ mean: 2, sd: 1, values: [1, 2, 3] });
    expect(seedStat([0.25])).toEqual({ mean: 0.25, sd: 0, values: [0.25] });
  });

  it('scores int8 rows with their scales close to float32', () => {
    const D = 4;
    const items = Float32Array.from([0.5, -0.5, 0.5, 0.5, 0.1, 0.2, -0.9, 0.3]);
    const user = Float32Array.from([0.3, 0.1, -0.2, 0.9]);
    const { values, scales } = quantizeRows(items, 2, D);
    const f = new Float32Array(2);
    const q = new Float32Array(2);
    dotScorer(user, items, D)(one([0]), 0, f);
    int8Scorer(user, values, scales, D)(one([0]), 0, q);
    for (let i = 0; i < 2; i++) expect(Math.abs(f[i] - q[i])).toBeLessThan(0.01);
  });
});

describe('item-kNN baseline', () => {
  it('scores items by co-occurrence cosine with the history', () => {
    // Users' training positives: u0 {0,1}, u1 {0,1,2}, u2 {2,3}. Item users: n0=2, n1=2, n2=2, n3=1.
    // History {0}: cos(0,1) = 2/√(2·2) = 1, cos(0,2) = 1/2, cos(0,3) = 0.
    const sets = [
      [0, 1],
      [0, 1, 2],
      [2, 3],
    ];
    const user: number[] = [];
    const item: number[] = [];
    sets.forEach((s, u) =>
      s.forEach((i) => {
        user.push(u);
        item.push(i);
      }),
    );
    const E = user.length;
    const userOffsets = new Int32Array([0, 2, 5, 7]);
    const ds = {
      items: { rows: 4 },
      interactions: {
        user: Int32Array.from(user),
        item: Int32Array.from(item),
        positive: new Uint8Array(E).fill(1),
        split: new Uint8Array(E),
        userOffsets,
      },
    } as unknown as Dataset;
    const events = {
      start: userOffsets,
      items: Int32Array.from(item, (i) => i + FIRST_INDEX),
      positive: new Uint8Array(E).fill(1),
    };
    const scores = new Float32Array(4);
    // u0's first positive: item 0
    itemKnnScorer(ds, events)({ ...one([1]), historyStart: 0, historyEnd: 1 }, 0, scores);
    expect(scores[1]).toBeCloseTo(1, 6);
    expect(scores[2]).toBeCloseTo(0.5, 6);
    expect(scores[3]).toBeCloseTo(0, 6);
  });
});
