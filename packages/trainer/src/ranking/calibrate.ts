// Calibration of the ranker's probability heads (Platt scaling): per head, p = σ(a·z + b) on its logit z. The pair is
// folded into the head's last layer (weight · a, bias · a + b), so the bundle's weights are the calibrated model:
// the engine's forward (GPU and CPU) and the ONNX export apply it without knowing; the pairs are recorded in the
// manifest's metrics (docs/ARCHITECTURE.md §4, ranking). ctr is fitted on every calibration row, cvr on the clicked
// ones (P(conversion | click)).
//
// The calibration rows are the validation rows, or with --calibration-holdout F their own slice
// (calibrationHoldout): the last F of the training rows by time, left out of training and of early stopping. On one
// time slice of a few thousand rows the fitted slope a moves with the slice's make-up by more than the calibration
// error it corrects; a slice of its own is not chosen on anything else, but it costs training rows
// (docs/ARCHITECTURE.md §4).
import { calibration, logLoss } from '@vireo/core';
import { RankingModel, rankingParameters, sparseWidth, type RankingConfig } from '@vireo/models';
import type { Gpu } from '@vireo/kernels';
import { gatherBatch, type RankingData, type RankingSplits } from './data.ts';

/**
 * Carves the calibration rows out of the training rows: the last `fraction` of them by time (the rows nearest the
 * validation and test periods). Returns the splits to train and early-stop on (valid and test unchanged) and the
 * calibration rows. With fraction 0 (the default), nothing is carved and the validation rows calibrate.
 * @example const { fit, calibrate } = calibrationHoldout(data, splits, 0.1);
 */
export function calibrationHoldout(
  data: RankingData,
  splits: RankingSplits,
  fraction: number,
): { fit: RankingSplits; calibrate: Uint32Array } {
  const n = Math.round(splits.train.length * fraction);
  if (n === 0 || n >= splits.train.length) return { fit: splits, calibrate: splits.valid };
  const order = Array.from(splits.train).sort((a, b) => data.ts[a] - data.ts[b] || a - b);
  const cut = order.length - n;
  return {
    fit: { ...splits, train: Uint32Array.from(order.slice(0, cut)).sort() },
    calibrate: Uint32Array.from(order.slice(cut)).sort(),
  };
}

/** One head's Platt pair and what it did to the calibration rows it was fitted on. */
export interface HeadCalibration {
  a: number;
  b: number;
  rows: number;
  before: { logLoss: number; ece: number };
  after: { logLoss: number; ece: number };
}

export type Calibration = Partial<Record<'ctr' | 'cvr', HeadCalibration>>;

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * The least slope a Platt pair may have. Calibration must keep the head's order: a head that ranks the calibration
 * rows worse than chance would otherwise get a < 0 and be turned upside down in the engine's blend. At the bound
 * (the log loss is convex in (a, b), so its constrained minimum lies there) the head's values flatten towards the
 * base rate and keep their order.
 */
export const PLATT_MIN_SLOPE = 0.01;

/**
 * Fits p = σ(a·z + b) to binary labels by Newton's method on the log loss (two parameters, a tiny ridge on a − 1 and
 * b for rows that separate perfectly), with a ≥ PLATT_MIN_SLOPE. Starts from the identity (a = 1, b = 0).
 * @example fitPlatt(logits, labels) // { a: 0.8, b: -0.1 }
 */
export function fitPlatt(z: ArrayLike<number>, y: ArrayLike<number>): { a: number; b: number } {
  const free = fitPlattFree(z, y);
  if (free.a >= PLATT_MIN_SLOPE) return free;
  // The bound binds: the best intercept at a = PLATT_MIN_SLOPE (Newton on b alone).
  const a = PLATT_MIN_SLOPE;
  let b = 0;
  for (let iter = 0; iter < 50; iter++) {
    let g = 0;
    let h = 1e-12;
    for (let i = 0; i < z.length; i++) {
      const p = sigmoid(a * z[i] + b);
      g += p - y[i];
      h += Math.max(p * (1 - p), 1e-12);
    }
    b -= g / h;
    if (Math.abs(g / h) < 1e-10) break;
  }
  return { a, b };
}

function fitPlattFree(z: ArrayLike<number>, y: ArrayLike<number>): { a: number; b: number } {
  const ridge = 1e-6 * z.length;
  // The penalized log loss at (a, b), for the line search that keeps Newton from overshooting (far from the
  // optimum, e.g. for a head that ranks backwards, a full step can run off to a huge slope).
  const loss = (a: number, b: number) => {
    let l = 0.5 * ridge * ((a - 1) ** 2 + b ** 2);
    for (let i = 0; i < z.length; i++) {
      const t = a * z[i] + b;
      // −log σ(t) for y = 1, −log(1 − σ(t)) for y = 0, computed stably.
      const m = y[i] > 0.5 ? -t : t;
      l += m > 0 ? m + Math.log1p(Math.exp(-m)) : Math.log1p(Math.exp(m));
    }
    return l;
  };
  let a = 1;
  let b = 0;
  let current = loss(a, b);
  for (let iter = 0; iter < 100; iter++) {
    let ga = ridge * (a - 1);
    let gb = ridge * b;
    let haa = ridge;
    let hab = 0;
    let hbb = ridge;
    for (let i = 0; i < z.length; i++) {
      const p = sigmoid(a * z[i] + b);
      const r = p - y[i];
      const w = Math.max(p * (1 - p), 1e-12);
      ga += r * z[i];
      gb += r;
      haa += w * z[i] * z[i];
      hab += w * z[i];
      hbb += w;
    }
    const det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    let step = 1;
    let next = loss(a - da, b - db);
    while (!(next <= current) && step > 1e-6) {
      step /= 2;
      next = loss(a - step * da, b - step * db);
    }
    if (!(next <= current)) break;
    a -= step * da;
    b -= step * db;
    current = next;
    if (step * (Math.abs(da) + Math.abs(db)) < 1e-10) break;
  }
  return { a, b };
}

/** Logits (rows, 3) of `rows` through the WGSL forward: [ctr logit, cvr logit, revenue]. */
export async function logitsOf(model: RankingModel, data: RankingData, rows: ArrayLike<number>): Promise<Float32Array> {
  const c = model.config;
  const Nd = c.denseFeatures.length;
  const S = sparseWidth(c);
  const B = model.maxBatch;
  const batch = { dense: new Float32Array(B * Nd), sparse: new Int32Array(B * S), labels: new Float32Array(B * 3) };
  const out = new Float32Array(rows.length * 3);
  for (let start = 0; start < rows.length; start += B) {
    const n = Math.min(B, rows.length - start);
    gatherBatch(data, rows, start, n, batch);
    const scores = await model.score(Nd ? batch.dense.subarray(0, n * Nd) : null, batch.sparse.subarray(0, n * S), n, {
      logits: true,
    });
    out.set(scores, start * 3);
  }
  return out;
}

/** Multiplies head `task`'s last layer by a and adds b to its bias, in place: σ(a·z + b) at serving. */
export function foldPlatt(c: RankingConfig, params: Float32Array, task: 'ctr' | 'cvr', a: number, b: number): void {
  const last = `tower.${task}.${c.towerMlp.length}`;
  const { entries } = rankingParameters(c);
  const w = entries.find((e) => e.name === `${last}.weight`)!;
  const bias = entries.find((e) => e.name === `${last}.bias`)!;
  for (let i = 0; i < w.size; i++) params[w.offset + i] *= a;
  params[bias.offset] = a * params[bias.offset] + b;
}

/**
 * Fits a Platt pair per probability head on the calibration rows `rows` and returns calibrated weights (a copy) with
 * the pairs. Heads without positives and negatives there keep the identity.
 */
export async function calibrateHeads(
  gpu: Gpu,
  config: RankingConfig,
  params: Float32Array,
  tables: Float32Array[],
  data: RankingData,
  rows: ArrayLike<number>,
): Promise<{ params: Float32Array; calibration: Calibration }> {
  const model = await RankingModel.create(gpu, config, { maxBatch: 1000 });
  let logits: Float32Array;
  try {
    model.writeWeights(params, tables);
    logits = await logitsOf(model, data, rows);
  } finally {
    model.destroy();
  }
  const out = params.slice();
  const result: Calibration = {};
  const heads: Array<['ctr' | 'cvr', number]> = [['ctr', 0]];
  if (config.heads.includes('cvr')) heads.push(['cvr', 1]);
  for (const [task, t] of heads) {
    const z: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < rows.length; i++) {
      if (task === 'cvr' && data.labels[rows[i] * 3] < 0.5) continue; // cvr: clicked rows only
      z.push(logits[i * 3 + t]);
      y.push(data.labels[rows[i] * 3 + t] > 0.5 ? 1 : 0);
    }
    const positives = y.reduce((s, v) => s + v, 0);
    if (positives === 0 || positives === y.length) continue;
    const { a, b } = fitPlatt(z, y);
    const before = z.map(sigmoid);
    const after = z.map((v) => sigmoid(a * v + b));
    result[task] = {
      a,
      b,
      rows: y.length,
      before: { logLoss: logLoss(y, before), ece: calibration(y, before).ece },
      after: { logLoss: logLoss(y, after), ece: calibration(y, after).ece },
    };
    foldPlatt(config, out, task, a, b);
  }
  return { params: out, calibration: result };
}
