// Baselines the retrieval model is judged against, computed in the same run from the same split:
// most-popular (training positives per item), item-kNN (co-occurrence cosine over the users'
// training positives) over the whole history and over the last positive only, a last-item + mean-history softmax
// model trained on the CPU, and on a generated world its oracle: the synthetic world's true next-click ranking, the
// sequential world's posterior oracle.
import { FIRST_INDEX, createRng } from '@vireo/core';
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

/** Hyperparameters of the last-item softmax baseline (lastItemSoftmaxScorer). */
export interface LastItemSoftmaxOptions {
  dim: number;
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  /** History items averaged (the most recent positives). */
  history: number;
  /** Skip when catalogue items × training pairs exceeds this (a full softmax costs items × pairs × dim per epoch). */
  maxWork: number;
}

export const LAST_ITEM_SOFTMAX: LastItemSoftmaxOptions = {
  dim: 32,
  epochs: 8,
  batch: 128,
  lr: 0.005,
  seed: 1,
  history: 50,
  maxWork: 1e8,
};

/**
 * The last-item-aware reference of issue 17 ("last-item embedding + mean of history, softmax, 8 epochs"):
 * u = E_last[last] + mean of E_hist over the positives among the last `history` events, score(j) = u · V_j + b_j,
 * trained with a full softmax cross-entropy over the catalogue on every training pair (a user's earlier positives →
 * the next train positive) with Adam, seeded. CPU float32, no GPU. Returns a reason instead when items × pairs
 * exceeds `maxWork` (MovieLens-size data: the full softmax would take minutes on the CPU).
 */
export function lastItemSoftmaxScorer(
  ds: Dataset,
  events: UserEvents,
  options: Partial<LastItemSoftmaxOptions> = {},
): CaseScorer | string {
  const o = { ...LAST_ITEM_SOFTMAX, ...options };
  const it = ds.interactions!;
  const N = ds.items!.rows;
  const D = o.dim;
  const U = events.start.length - 1;
  // Training pairs: each train positive with at least one earlier positive; history = event rows [from, to).
  const target: number[] = [];
  const from: number[] = [];
  const to: number[] = [];
  for (let u = 0; u < U; u++) {
    const hist: number[] = [];
    for (let e = events.start[u]; e < events.start[u + 1]; e++) {
      if (!it.positive[e]) continue;
      if (it.split[e] !== SPLIT_TRAIN) continue; // a held-out positive neither trains nor is history
      if (hist.length > 0) {
        target.push(it.item[e]);
        from.push(hist[Math.max(0, hist.length - o.history)]);
        to.push(e);
      }
      hist.push(e);
    }
  }
  const P = target.length;
  if (N * P > o.maxWork)
    return `skipped: ${N} items × ${P} training pairs exceeds ${o.maxWork.toExponential(0)} (full softmax on the CPU)`;
  const rng = createRng(o.seed);
  const init = (n: number, scale: number) => Float32Array.from({ length: n }, () => scale * rng.normal());
  // Parameters: [E_last (N·D) | E_hist (N·D) | V (N·D) | b (N)], one Adam over all of them.
  const theta = new Float32Array(3 * N * D + N);
  theta.set(init(3 * N * D, 0.1));
  const eLast = theta.subarray(0, N * D);
  const eHist = theta.subarray(N * D, 2 * N * D);
  const V = theta.subarray(2 * N * D, 3 * N * D);
  const bias = theta.subarray(3 * N * D);
  const grad = new Float32Array(theta.length);
  const gLast = grad.subarray(0, N * D);
  const gHist = grad.subarray(N * D, 2 * N * D);
  const gV = grad.subarray(2 * N * D, 3 * N * D);
  const gBias = grad.subarray(3 * N * D);
  const m = new Float32Array(theta.length);
  const v = new Float32Array(theta.length);
  const B = o.batch;
  const u = new Float32Array(D);
  const dUser = new Float32Array(D);
  const logits = new Float32Array(N);
  // u = E_last[last] + mean E_hist over the positive events [a, b) (event b − 1 the last), as the user tower reads
  // events (item:id indices) so that a case's history is what it shows. Sets `count` (positives in [a, b)) and
  // `last` (the newest of them, or a − 1) for the backward pass.
  let count = 0;
  let last = 0;
  const encode = (a: number, b: number, out: Float32Array) => {
    out.fill(0);
    count = 0;
    for (let e = a; e < b; e++) if (events.positive[e]) count++;
    for (let e = a; e < b; e++) {
      if (!events.positive[e]) continue;
      const h = (events.items[e] - FIRST_INDEX) * D;
      for (let d = 0; d < D; d++) out[d] += eHist[h + d] / count;
    }
    last = b - 1;
    while (last >= a && !events.positive[last]) last--;
    if (last >= a) for (let d = 0; d < D; d++) out[d] += eLast[(events.items[last] - FIRST_INDEX) * D + d];
  };
  const scoreAll = (u: Float32Array, out: Float32Array) => {
    for (let j = 0; j < N; j++) {
      let s = bias[j];
      const r = j * D;
      for (let d = 0; d < D; d++) s += u[d] * V[r + d];
      out[j] = s;
    }
  };
  const order = Int32Array.from({ length: P }, (_, i) => i);
  let step = 0;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    rng.shuffle(order);
    for (let start = 0; start < P; start += B) {
      const size = Math.min(B, P - start);
      grad.fill(0);
      for (let k = 0; k < size; k++) {
        const p = order[start + k];
        encode(from[p], to[p], u);
        scoreAll(u, logits);
        let max = -Infinity;
        for (let j = 0; j < N; j++) max = Math.max(max, logits[j]);
        let sum = 0;
        for (let j = 0; j < N; j++) sum += logits[j] = Math.exp(logits[j] - max);
        // dL/dlogit_j = (softmax_j − [j = target]) / size.
        dUser.fill(0);
        for (let j = 0; j < N; j++) {
          const g = (logits[j] / sum - (j === target[p] ? 1 : 0)) / size;
          gBias[j] += g;
          const r = j * D;
          for (let d = 0; d < D; d++) {
            gV[r + d] += g * u[d];
            dUser[d] += g * V[r + d];
          }
        }
        const l = (events.items[last] - FIRST_INDEX) * D;
        for (let d = 0; d < D; d++) gLast[l + d] += dUser[d];
        for (let e = from[p]; e < to[p]; e++) {
          if (!events.positive[e]) continue;
          const h = (events.items[e] - FIRST_INDEX) * D;
          for (let d = 0; d < D; d++) gHist[h + d] += dUser[d] / count;
        }
      }
      // Adam (β 0.9, 0.999), bias-corrected.
      step++;
      const c1 = 1 / (1 - 0.9 ** step);
      const c2 = 1 / (1 - 0.999 ** step);
      for (let i = 0; i < theta.length; i++) {
        const g = grad[i];
        m[i] = 0.9 * m[i] + 0.1 * g;
        v[i] = 0.999 * v[i] + 0.001 * g * g;
        theta[i] -= (o.lr * m[i] * c1) / (Math.sqrt(v[i] * c2) + 1e-8);
      }
    }
  }
  return (c, _i, out) => {
    // The window training used: the last `history` positives (not events) before the case.
    let a = c.historyEnd;
    for (let n = 0; a > c.historyStart && n < o.history; ) if (events.positive[--a]) n++;
    encode(a, c.historyEnd, u);
    scoreAll(u, out);
  };
}
