// Retrieval evaluation: full-catalogue ranking of the held-out split (no sampled negatives), the
// user's earlier items excluded, Recall@10/50/100/1000, NDCG@10, HitRate@10 and MRR per user and
// averaged; the model (float32 and int8 item embeddings) beside the baselines and, on a synthetic
// world, the oracle — all from one split in one run.
import { hitRateAtK, ndcgAtK, recallAtK, topK } from '@vireo/core';
import type { RetrievalCase } from '../retrieval/data.ts';
import type { CaseScorer } from './retrieval-baselines.ts';

export const RECALL_KS = [10, 50, 100, 1000] as const;

/** Averages over the evaluated users. */
export interface RetrievalMetrics {
  users: number;
  'recall@10': number;
  'recall@50': number;
  'recall@100': number;
  'recall@1000': number;
  'ndcg@10': number;
  'hitrate@10': number;
  mrr: number;
  /** Standard error of each mean over the evaluated users (sd / √users). */
  se: Record<MetricName, number>;
}

export const METRIC_NAMES = [
  'recall@10',
  'recall@50',
  'recall@100',
  'recall@1000',
  'ndcg@10',
  'hitrate@10',
  'mrr',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/**
 * 1-based rank of the best relevant item in the full ranking of `scores` without `exclude` (ties
 * go to the lower index, as topK orders them); Infinity when every relevant item is excluded.
 */
export function bestRank(scores: ArrayLike<number>, relevant: ArrayLike<number>, exclude: ReadonlySet<number>): number {
  let best = Infinity;
  for (let r = 0; r < relevant.length; r++) {
    const t = relevant[r];
    if (exclude.has(t)) continue;
    const s = scores[t];
    let rank = 1;
    for (let i = 0; i < scores.length; i++) {
      if (i === t || exclude.has(i)) continue;
      if (scores[i] > s || (scores[i] === s && i < t)) rank++;
    }
    best = Math.min(best, rank);
  }
  return best;
}

/**
 * Ranks the whole catalogue (N items) for every case with `score` and averages the metrics.
 * @example const m = rankingMetrics(cases, N, mostPopularScorer(ds, positives)); // m['recall@100']
 */
export function rankingMetrics(cases: readonly RetrievalCase[], N: number, score: CaseScorer): RetrievalMetrics {
  const sums = Object.fromEntries(METRIC_NAMES.map((k) => [k, 0])) as Record<MetricName, number>;
  const squares = { ...sums };
  const scores = new Float32Array(N);
  const kMax = Math.min(N, RECALL_KS[RECALL_KS.length - 1]);
  const add = (k: MetricName, v: number) => {
    sums[k] += v;
    squares[k] += v * v;
  };
  cases.forEach((c, index) => {
    score(c, index, scores);
    const ranked = topK(scores, kMax, c.exclude);
    for (const k of RECALL_KS) add(`recall@${k}`, recallAtK(ranked, c.relevant, k));
    add('ndcg@10', ndcgAtK(ranked, c.relevant, 10));
    add('hitrate@10', hitRateAtK(ranked, c.relevant, 10));
    const rank = bestRank(scores, c.relevant, c.exclude);
    add('mrr', Number.isFinite(rank) ? 1 / rank : 0);
  });
  const n = Math.max(1, cases.length);
  const out = { users: cases.length, se: {} } as RetrievalMetrics;
  for (const k of METRIC_NAMES) {
    const mean = sums[k] / n;
    out[k] = mean;
    // Sample standard deviation of the per-user values over √n: the standard error of the mean.
    const variance = n > 1 ? Math.max(0, (squares[k] - n * mean * mean) / (n - 1)) : 0;
    out.se[k] = Math.sqrt(variance / n);
  }
  return out;
}

/** Scores by dot product of case vectors (C, D) with item vectors (N, D). */
export function dotScorer(userVectors: Float32Array, items: Float32Array, D: number): CaseScorer {
  return (_c, index, out) => {
    const u = userVectors.subarray(index * D, (index + 1) * D);
    for (let i = 0; i < out.length; i++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += u[d] * items[i * D + d];
      out[i] = s;
    }
  };
}

/** Scores against int8 item rows with per-row scales: s_i · (u · q_i). */
export function int8Scorer(userVectors: Float32Array, values: Int8Array, scales: Float32Array, D: number): CaseScorer {
  return (_c, index, out) => {
    const u = userVectors.subarray(index * D, (index + 1) * D);
    for (let i = 0; i < out.length; i++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += u[d] * values[i * D + d];
      out[i] = s * scales[i];
    }
  };
}

/** A table of named metric rows for people: each mean with its standard error over users. */
export function formatMetrics(rows: Record<string, RetrievalMetrics>): string {
  const width = Math.max(12, ...Object.keys(rows).map((k) => k.length));
  const cell = (m: RetrievalMetrics, c: MetricName) => `${m[c].toFixed(4)} ±${m.se[c].toFixed(4)}`.padStart(15);
  const head = `${'model'.padEnd(width)}  ${METRIC_NAMES.map((c) => c.padStart(15)).join(' ')}`;
  const lines = Object.entries(rows).map(
    ([name, m]) => `${name.padEnd(width)}  ${METRIC_NAMES.map((c) => cell(m, c)).join(' ')}`,
  );
  return [head, ...lines].join('\n');
}
