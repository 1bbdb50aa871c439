// Baselines the retrieval model is judged against, computed in the same run from the same split:
// most-popular (training positives per item), item-kNN (co-occurrence cosine over the users'
// training positives) over the whole history and over the last positive only, and on a generated world its
// oracle: the synthetic world's true next-click ranking, the sequential world's posterior oracle.
import { FIRST_INDEX } from '@vireo/core';
import {
  SPLIT_TRAIN,
  loadOracle,
  loadSequentialTruth,
  nextClickScores,
  sequentialOracleScores,
  type Dataset,
} from '../ingest/index.ts';
import type { RetrievalCase, UserEvents } from '../retrieval/data.ts';

/** Scores every item (N) for one case into `out`. */
export type CaseScorer = (c: RetrievalCase, caseIndex: number, out: Float32Array) => void;

/** Training positives per item (N). */
export function trainCounts(ds: Dataset): Float64Array {
  const it = ds.interactions!;
  const count = new Float64Array(ds.items!.rows);
  for (let e = 0; e < it.item.length; e++) if (it.positive[e] && it.split[e] === SPLIT_TRAIN) count[it.item[e]]++;
  return count;
}

/** Most-popular: every user gets the items with the most training positives. */
export function mostPopularScorer(ds: Dataset): CaseScorer {
  const count = trainCounts(ds);
  return (_c, _i, out) => {
    for (let i = 0; i < out.length; i++) out[i] = count[i];
  };
}

/**
 * Item-kNN: score(j) = Σ_{h in the user's earlier positives} cos(h, j), with cos(h, j) = co(h, j) / √(n_h·n_j)
 * over the sets of training positives of every user (co: users holding both, n: users holding
 * one). Computed per case through the users who share a history item, without the N×N matrix.
 * Ties (items no history item co-occurs with) are broken by popularity. `lastOnly`: the history is the user's
 * most recent positive alone (the last-item baseline: what order alone gives item-kNN).
 */
export function itemKnnScorer(ds: Dataset, events: UserEvents, opts: { lastOnly?: boolean } = {}): CaseScorer {
  const it = ds.interactions!;
  const U = events.start.length - 1;
  const N = ds.items!.rows;
  // Each user's set of training positives (item rows), and each item's users.
  const userItems: Int32Array[] = [];
  const n = new Float64Array(N);
  for (let u = 0; u < U; u++) {
    const set = new Set<number>();
    for (let e = events.start[u]; e < events.start[u + 1]; e++)
      if (it.positive[e] && it.split[e] === SPLIT_TRAIN) set.add(it.item[e]);
    userItems.push(Int32Array.from(set));
    for (const i of set) n[i]++;
  }
  const itemUsersStart = new Int32Array(N + 1);
  for (let i = 0; i < N; i++) itemUsersStart[i + 1] = itemUsersStart[i] + n[i];
  const itemUsers = new Int32Array(itemUsersStart[N]);
  const fill = itemUsersStart.slice(0, N);
  for (let u = 0; u < U; u++) for (const i of userItems[u]) itemUsers[fill[i]++] = u;
  const count = trainCounts(ds);
  let maxCount = 1;
  for (let i = 0; i < N; i++) maxCount = Math.max(maxCount, count[i]);
  const weight = new Float64Array(U);
  const touched: number[] = [];
  const acc = new Float64Array(N);
  return (c, _index, out) => {
    acc.fill(0);
    const history = new Set<number>();
    for (let e = c.historyEnd - 1; e >= c.historyStart; e--) {
      if (!events.positive[e]) continue;
      history.add(events.items[e] - FIRST_INDEX);
      if (opts.lastOnly) break;
    }
    for (const h of history) {
      if (n[h] === 0) continue;
      const w = 1 / Math.sqrt(n[h]);
      for (let k = itemUsersStart[h]; k < itemUsersStart[h + 1]; k++) {
        const v = itemUsers[k];
        if (weight[v] === 0) touched.push(v);
        weight[v] += w;
      }
    }
    for (const v of touched) {
      const w = weight[v];
      for (const j of userItems[v]) acc[j] += w;
      weight[v] = 0;
    }
    touched.length = 0;
    for (let j = 0; j < N; j++) out[j] = (n[j] > 0 ? acc[j] / Math.sqrt(n[j]) : 0) + 1e-9 * (count[j] / maxCount);
  };
}

/**
 * A generated world's oracle, null for real data. Synthetic: log P(shown) + log P(click | shown) for every item at
 * the held-out event's time, hour and device (the best achievable next-click ranking). Sequential: the posterior
 * oracle, log P(next | the history the case shows).
 */
export function oracleScorer(ds: Dataset, events: UserEvents): CaseScorer | null {
  const sequential = loadSequentialTruth(ds);
  if (sequential) {
    return (c, _i, out) => {
      const history = events.items.subarray(c.historyStart, c.historyEnd).map((i) => i - FIRST_INDEX);
      sequentialOracleScores(sequential, history, out);
    };
  }
  const truth = loadOracle(ds);
  if (!truth) return null;
  const im = ds.impressions;
  const hour = im?.columns.get('context:hour')?.data as Int32Array | undefined;
  const device = im?.columns.get('context:device')?.data as Int32Array | undefined;
  return (c, _i, out) => {
    const h = c.context >= 0 && hour ? hour[c.context] - FIRST_INDEX : new Date(c.ts * 1000).getUTCHours();
    const d = c.context >= 0 && device ? Math.max(0, device[c.context] - FIRST_INDEX) : 0;
    nextClickScores(truth, c.user, c.ts, h, d, out);
  };
}
