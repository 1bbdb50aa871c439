// Evaluation metrics. Retrieval: per-user ranking metrics over the full catalogue with binary
// relevance (the user's held-out items), averaged over users by the caller. Ranking: AUC, log loss
// and calibration over (label, probability) pairs.

/** Item indices the user holds out (relevant), as a Set or a list. */
export type Relevant = ReadonlySet<number> | ArrayLike<number>;

function asSet(relevant: Relevant): ReadonlySet<number> {
  if (relevant instanceof Set) return relevant;
  return new Set(Array.from(relevant as ArrayLike<number>));
}

/**
 * Indices of the `k` highest scores, best first, skipping `exclude` (e.g. the user's training items).
 * Ties go to the lower index, so results are deterministic. O(N log k).
 * @example topK(new Float32Array([0.1, 0.9, 0.5]), 2) // Int32Array [1, 2]
 */
export function topK(scores: ArrayLike<number>, k: number, exclude?: ReadonlySet<number>): Int32Array {
  const heap = new Int32Array(Math.max(0, k)); // a min-heap of indices by (score, -index)
  let size = 0;
  // worse(a, b): a ranks below b
  const worse = (a: number, b: number) => scores[a] < scores[b] || (scores[a] === scores[b] && a > b);
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && worse(heap[l], heap[m])) m = l;
      if (r < size && worse(heap[r], heap[m])) m = r;
      if (m === i) return;
      const t = heap[i];
      heap[i] = heap[m];
      heap[m] = t;
      i = m;
    }
  };
  for (let i = 0; i < scores.length; i++) {
    if (exclude?.has(i) || Number.isNaN(scores[i])) continue;
    if (size < k) {
      heap[size] = i;
      let c = size++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!worse(heap[c], heap[p])) break;
        const t = heap[c];
        heap[c] = heap[p];
        heap[p] = t;
        c = p;
      }
    } else if (k > 0 && worse(heap[0], i)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  const out = Array.from(heap.subarray(0, size)).sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
  return Int32Array.from(out);
}

/**
 * Recall@K: the share of relevant items found in the first K of the ranking (|hits| / |relevant|).
 * 0 when there is nothing relevant.
 * @example recallAtK([5, 3, 9], new Set([3, 7]), 2) // 0.5
 */
export function recallAtK(ranked: ArrayLike<number>, relevant: Relevant, k: number): number {
  const rel = asSet(relevant);
  if (rel.size === 0) return 0;
  let hits = 0;
  for (let i = 0; i < Math.min(k, ranked.length); i++) if (rel.has(ranked[i])) hits++;
  return hits / rel.size;
}

/**
 * HitRate@K: 1 if any relevant item is in the first K, else 0.
 * @example hitRateAtK([5, 3, 9], [9], 2) // 0
 */
export function hitRateAtK(ranked: ArrayLike<number>, relevant: Relevant, k: number): number {
  const rel = asSet(relevant);
  for (let i = 0; i < Math.min(k, ranked.length); i++) if (rel.has(ranked[i])) return 1;
  return 0;
}

/**
 * NDCG@K with binary gains: DCG = Σ_{hits at rank r (1-based)} 1/log2(r+1), divided by the DCG of
 * the ideal ranking (min(K, |relevant|) hits at the top).
 * @example ndcgAtK([5, 3], [3], 2) // 1/log2(3) ≈ 0.6309
 */
export function ndcgAtK(ranked: ArrayLike<number>, relevant: Relevant, k: number): number {
  const rel = asSet(relevant);
  if (rel.size === 0) return 0;
  let dcg = 0;
  for (let i = 0; i < Math.min(k, ranked.length); i++) if (rel.has(ranked[i])) dcg += 1 / Math.log2(i + 2);
  let ideal = 0;
  for (let i = 0; i < Math.min(k, rel.size); i++) ideal += 1 / Math.log2(i + 2);
  return dcg / ideal;
}

/**
 * Reciprocal rank of the first relevant item (1/rank, 1-based), 0 if none within the first `k`
 * (default: the whole ranking). Average over users for MRR.
 * @example reciprocalRank([5, 3, 9], [9]) // 1/3
 */
export function reciprocalRank(ranked: ArrayLike<number>, relevant: Relevant, k = Infinity): number {
  const rel = asSet(relevant);
  for (let i = 0; i < Math.min(k, ranked.length); i++) if (rel.has(ranked[i])) return 1 / (i + 1);
  return 0;
}

/**
 * Mean reciprocal rank over users: `rankings[u]` against `relevant[u]`.
 * @example mrr([[1, 2], [2, 1]], [[2], [2]]) // (1/2 + 1) / 2 = 0.75
 */
export function mrr(
  rankings: ReadonlyArray<ArrayLike<number>>,
  relevant: ReadonlyArray<Relevant>,
  k = Infinity,
): number {
  if (rankings.length === 0) return 0;
  let sum = 0;
  for (let u = 0; u < rankings.length; u++) sum += reciprocalRank(rankings[u], relevant[u], k);
  return sum / rankings.length;
}

/**
 * Exact ROC AUC: the probability that a random positive outscores a random negative, ties counting
 * one half (Mann–Whitney U with mid-ranks). NaN when either class is absent. O(n log n).
 * @example auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) // 0.75
 */
export function auc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = labels.length;
  if (scores.length !== n) throw new RangeError(`auc: ${n} labels but ${scores.length} scores`);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0; // sum of the mid-ranks (1-based) of the positives
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const midRank = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) {
      if (labels[order[t]] > 0.5) {
        positives++;
        rankSum += midRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * Mean binary cross-entropy, probabilities clamped to [eps, 1 - eps].
 * @example logLoss([1, 0], [0.9, 0.2]) // (−ln 0.9 − ln 0.8) / 2 ≈ 0.1643
 */
export function logLoss(labels: ArrayLike<number>, probabilities: ArrayLike<number>, eps = 1e-7): number {
  const n = labels.length;
  if (probabilities.length !== n)
    throw new RangeError(`logLoss: ${n} labels but ${probabilities.length} probabilities`);
  if (n === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(1 - eps, Math.max(eps, probabilities[i]));
    const y = labels[i];
    sum -= y * Math.log(p) + (1 - y) * Math.log(1 - p);
  }
  return sum / n;
}

/** One calibration bin: predictions in [lower, upper). */
export interface CalibrationBin {
  lower: number;
  upper: number;
  count: number;
  /** Mean predicted probability in the bin (NaN when empty). */
  predicted: number;
  /** Observed positive rate in the bin (NaN when empty). */
  observed: number;
}

/**
 * Calibration: predictions binned into `bins` equal-width bins over [0, 1] (1 falls in the last),
 * with the mean prediction and the observed rate per bin, and the expected calibration error
 * ECE = Σ (count / n) · |predicted − observed|.
 * @example calibration([0, 1, 1, 1], [0.2, 0.4, 0.8, 0.9], 2) // bins: [0,.5): pred .3 obs .5; [.5,1]: pred .85 obs 1
 */
export function calibration(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  bins = 10,
): { bins: CalibrationBin[]; ece: number } {
  const n = labels.length;
  if (probabilities.length !== n)
    throw new RangeError(`calibration: ${n} labels but ${probabilities.length} probabilities`);
  const count = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const p = Math.min(1, Math.max(0, probabilities[i]));
    const b = Math.min(bins - 1, Math.floor(p * bins));
    count[b]++;
    sumP[b] += p;
    sumY[b] += labels[i];
  }
  const out: CalibrationBin[] = [];
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    const predicted = count[b] ? sumP[b] / count[b] : NaN;
    const observed = count[b] ? sumY[b] / count[b] : NaN;
    if (count[b]) ece += (count[b] / n) * Math.abs(predicted - observed);
    out.push({ lower: b / bins, upper: (b + 1) / bins, count: count[b], predicted, observed });
  }
  return { bins: out, ece: n ? ece : NaN };
}
