// The logistic-regression baseline, on the ranker's own transformed features: the dense values
// as they are, and every sparse feature one-hot over its table rows (a multi-hot feature's
// non-PAD slots weigh 1/count each, the mean the ranker pools). Trained on the CPU by seeded
// Adagrad SGD with L2; the learning rate, the L2 strength and the number of epochs are chosen on the validation
// rows (never the test rows).
import { auc, createRng, logLoss } from '@vireo/core';
import { tableBases, type RankingConfig } from '@vireo/models';
import type { RankingData } from './data.ts';

export interface LogisticModel {
  /** (Nd + Σ R_f + 1): dense weights, then every table row's weight, then the bias. */
  weights: Float64Array;
  l2: number;
  /** Adagrad learning rate. */
  lr: number;
  epochs: number;
  validAuc: number;
}

/** One row's features as (index, value) pairs into the weight vector. */
function rowFeatures(
  c: RankingConfig,
  data: RankingData,
  bases: number[],
  r: number,
  idx: Int32Array,
  val: Float64Array,
): number {
  const Nd = c.denseFeatures.length;
  const S = c.sparseFeatures.reduce((s, f) => s + f.width, 0);
  let n = 0;
  for (let j = 0; j < Nd; j++) {
    idx[n] = j;
    val[n++] = data.dense[r * Nd + j];
  }
  let slot = r * S;
  c.sparseFeatures.forEach((f, k) => {
    const from = n;
    for (let l = 0; l < f.width; l++, slot++) {
      const v = data.sparse[slot];
      if (f.width > 1 && v === 0) continue;
      idx[n] = Nd + bases[k] + v;
      val[n++] = 1;
    }
    for (let i = from; i < n; i++) val[i] = 1 / (n - from);
  });
  return n;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Predicted probabilities of `rows` under `w`. */
export function logisticPredict(
  c: RankingConfig,
  data: RankingData,
  w: Float64Array,
  rows: ArrayLike<number>,
): Float64Array {
  return logisticLogits(c, data, w, rows).map(sigmoid);
}

/** Logits (w · x) of `rows` under `w`. */
export function logisticLogits(
  c: RankingConfig,
  data: RankingData,
  w: Float64Array,
  rows: ArrayLike<number>,
): Float64Array {
  const { bases } = tableBases(c);
  const width = c.denseFeatures.length + c.sparseFeatures.reduce((s, f) => s + f.width, 0);
  const idx = new Int32Array(width);
  const val = new Float64Array(width);
  const bias = w.length - 1;
  const out = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const n = rowFeatures(c, data, bases, rows[i], idx, val);
    let z = w[bias];
    for (let j = 0; j < n; j++) z += w[idx[j]] * val[j];
    out[i] = z;
  }
  return out;
}

/**
 * Fits logistic regression of label column `task` (0 click, 1 conversion) on `train`, choosing the
 * learning rate, the L2 strength and the epoch count by validation AUC.
 * @example const lr = fitLogistic(config, data, splits.train, splits.valid, 0, 7);
 */
export function fitLogistic(
  c: RankingConfig,
  data: RankingData,
  train: ArrayLike<number>,
  valid: ArrayLike<number>,
  task: number,
  seed: number,
  opts: { l2Grid?: number[]; lrGrid?: number[]; maxEpochs?: number } = {},
): LogisticModel {
  const { bases, totalRows } = tableBases(c);
  const P = c.denseFeatures.length + totalRows + 1;
  const width = c.denseFeatures.length + c.sparseFeatures.reduce((s, f) => s + f.width, 0);
  const idx = new Int32Array(width);
  const val = new Float64Array(width);
  const label = (r: number) => (data.labels[r * 3 + task] > 0.5 ? 1 : 0);
  const yValid = Float64Array.from({ length: valid.length }, (_, i) => label(valid[i]));
  const maxEpochs = opts.maxEpochs ?? 15;
  let best: LogisticModel | null = null;
  const grid = (opts.lrGrid ?? [0.03, 0.1]).flatMap((lr) =>
    (opts.l2Grid ?? [1e-5, 1e-4, 1e-3, 1e-2]).map((l2) => [lr, l2]),
  );
  for (const [lr, l2] of grid) {
    const w = new Float64Array(P);
    const g2 = new Float64Array(P).fill(1e-8);
    let rate = 0;
    for (let i = 0; i < train.length; i++) rate += label(train[i]);
    rate = Math.min(0.999, Math.max(0.001, rate / Math.max(1, train.length)));
    w[P - 1] = Math.log(rate / (1 - rate));
    let stale = 0;
    let bestHere = -Infinity;
    for (let epoch = 1; epoch <= maxEpochs && stale < 2; epoch++) {
      const order = createRng(seed).fork(`logistic-${epoch}`).shuffle(Uint32Array.from(train));
      for (let i = 0; i < order.length; i++) {
        const r = order[i];
        const n = rowFeatures(c, data, bases, r, idx, val);
        let z = w[P - 1];
        for (let j = 0; j < n; j++) z += w[idx[j]] * val[j];
        const g = sigmoid(z) - label(r);
        for (let j = 0; j < n; j++) {
          const k = idx[j];
          const gk = g * val[j] + l2 * w[k];
          g2[k] += gk * gk;
          w[k] -= (lr * gk) / Math.sqrt(g2[k]);
        }
        g2[P - 1] += g * g;
        w[P - 1] -= (lr * g) / Math.sqrt(g2[P - 1]);
      }
      const validAuc = valid.length ? auc(yValid, logisticPredict(c, data, w, valid)) : NaN;
      if (validAuc > bestHere || Number.isNaN(validAuc)) {
        bestHere = validAuc;
        stale = 0;
        if (!best || validAuc > best.validAuc || Number.isNaN(best.validAuc))
          best = { weights: w.slice(), l2, lr, epochs: epoch, validAuc };
      } else stale++;
    }
  }
  return best!;
}

/** Log loss of a logistic model on rows (for reports). */
export function logisticLogLoss(
  c: RankingConfig,
  data: RankingData,
  m: LogisticModel,
  rows: ArrayLike<number>,
  task: number,
): number {
  const y = Float64Array.from({ length: rows.length }, (_, i) => data.labels[rows[i] * 3 + task]);
  return logLoss(y, logisticPredict(c, data, m.weights, rows));
}
