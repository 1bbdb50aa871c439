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
//
// The wide term: per head, logistic regression on the same inputs (logistic.ts, fitted on the training rows) is
// stacked with the head's logit on the calibration rows, p = σ(a·z + c·z_lr + b), when 5-fold cross-fitting on those
// rows says the stack beats Platt's pair by at least two standard errors of the rows' paired log-loss difference
// (WIDE_MIN_T). a and b fold into the last layer as Platt's do; c times the regression's weights becomes the head's
// row of the model's `wide.weight` (RankingConfig.wide), which the GPU forward and the ONNX graph add to the logit.
// Where the DLRM reaches a per-item effect only through its pairwise dots, the regression carries it directly.
import { calibration, logLoss } from '@vireo/core';
import {
  RankingModel,
  rankingParameters,
  sparseWidth,
  WIDE_WEIGHT,
  wideWidth,
  type RankingConfig,
} from '@vireo/models';
import type { Gpu } from '@vireo/kernels';
import { gatherBatch, type RankingData, type RankingSplits } from './data.ts';
import { fitLogistic, logisticLogits } from './logistic.ts';

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

/** One head's Platt pair (or stack) and what it did to the calibration rows it was fitted on. */
export interface HeadCalibration {
  a: number;
  b: number;
  rows: number;
  before: { logLoss: number; ece: number };
  after: { logLoss: number; ece: number };
  /**
   * The wide term's test on these rows: the stack's cross-fitted log-loss gain over Platt ± its standard error, and
   * c, the weight of the regression's logit when the stack was taken (`stacked`).
   */
  wide?: {
    stacked: boolean;
    gain: number;
    se: number;
    c: number;
    logistic: { lr: number; l2: number; epochs: number };
  };
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
  wideOn?: { train: ArrayLike<number>; seed: number; log?: (line: string) => void },
): Promise<{ config: RankingConfig; params: Float32Array; calibration: Calibration }> {
  const model = await RankingModel.create(gpu, config, { maxBatch: 1000 });
  let logits: Float32Array;
  try {
    model.writeWeights(params, tables);
    logits = await logitsOf(model, data, rows);
  } finally {
    model.destroy();
  }
  // With a wide term the layers keep their offsets (wide.weight comes last), so the layers copy over as they are.
  const wideConfig: RankingConfig = { ...config, wide: true };
  const out = new Float32Array(wideOn ? rankingParameters(wideConfig).total : params.length);
  out.set(params.subarray(0, rankingParameters({ ...config, wide: false }).total));
  const wideRows: Array<[number, Float64Array]> = [];
  const result: Calibration = {};
  const heads: Array<['ctr' | 'cvr', number]> = [['ctr', 0]];
  if (config.heads.includes('cvr')) heads.push(['cvr', 1]);
  const isClicked = (r: number) => data.labels[r * 3] > 0.5;
  for (const [task, t] of heads) {
    const z: number[] = [];
    const y: number[] = [];
    const at: number[] = [];
    for (let i = 0; i < rows.length; i++) {
      if (task === 'cvr' && !isClicked(rows[i])) continue; // cvr: clicked rows only
      z.push(logits[i * 3 + t]);
      y.push(data.labels[rows[i] * 3 + t] > 0.5 ? 1 : 0);
      at.push(rows[i]);
    }
    const positives = y.reduce((s, v) => s + v, 0);
    if (positives === 0 || positives === y.length) continue;
    let { a, b } = fitPlatt(z, y);
    let zLr: Float64Array | null = null;
    let wide: HeadCalibration['wide'];
    if (wideOn) {
      const started = performance.now();
      const train = task === 'cvr' ? Array.from(wideOn.train).filter(isClicked) : wideOn.train;
      const lr = fitLogistic(config, data, train, at, t, wideOn.seed);
      zLr = logisticLogits(config, data, lr.weights, at);
      const test = stackTest(z, zLr, y);
      const stack = test.t >= WIDE_MIN_T ? fitStack(z, zLr, y) : null;
      const stacked = stack !== null && stack.a >= PLATT_MIN_SLOPE && stack.c >= 0;
      wide = {
        stacked,
        gain: test.gain,
        se: test.se,
        c: stacked ? stack.c : 0,
        logistic: { lr: lr.lr, l2: lr.l2, epochs: lr.epochs },
      };
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      wideOn.log?.(
        `wide ${task}: logistic regression on ${train.length} rows (${seconds} s); ` +
          `stacked on the calibration rows it gains ${test.gain.toFixed(4)} ± ${test.se.toFixed(4)} in cross-fitted ` +
          `log loss over Platt: ${stacked ? 'stacked' : `not stacked (needs ${WIDE_MIN_T} standard errors)`}`,
      );
      if (stacked) {
        ({ a, b } = stack);
        wideRows.push([config.heads.indexOf(task), lr.weights.map((w) => stack.c * w)]);
      } else zLr = null;
    }
    const before = z.map(sigmoid);
    const c = wide?.c ?? 0;
    const after = z.map((v, i) => sigmoid(a * v + b + (zLr ? c * zLr[i] : 0)));
    result[task] = {
      a,
      b,
      rows: y.length,
      before: { logLoss: logLoss(y, before), ece: calibration(y, before).ece },
      after: { logLoss: logLoss(y, after), ece: calibration(y, after).ece },
      ...(wide ? { wide } : {}),
    };
    foldPlatt(config, out, task, a, b);
  }
  if (wideRows.length === 0) return { config, params: out.slice(0, params.length), calibration: result };
  const e = rankingParameters(wideConfig).entries.find((x) => x.name === WIDE_WEIGHT)!;
  const Ww = wideWidth(wideConfig);
  for (const [head, w] of wideRows) out.set(w, e.offset + head * Ww);
  return { config: wideConfig, params: out, calibration: result };
}

/** How many standard errors the stack's cross-fitted gain over Platt must reach to be taken (see the top). */
export const WIDE_MIN_T = 2;

/**
 * 5-fold cross-fitting of Platt on z against the stack on (z, zLr): the mean per-row log-loss gain of the stack, its
 * standard error (over rows, paired) and their ratio t. Folds are the rows' positions mod 5.
 */
export function stackTest(
  z: ArrayLike<number>,
  zLr: ArrayLike<number>,
  y: ArrayLike<number>,
): { gain: number; se: number; t: number } {
  const K = 5;
  const n = y.length;
  const gains = new Float64Array(n);
  const nll = (p: number, label: number) => -Math.log(Math.min(1 - 1e-12, Math.max(1e-12, label ? p : 1 - p)));
  for (let k = 0; k < K; k++) {
    const fit: number[] = [];
    for (let i = 0; i < n; i++) if (i % K !== k) fit.push(i);
    const pick = (v: ArrayLike<number>) => fit.map((i) => v[i]);
    const platt = fitPlatt(pick(z), pick(y));
    const stack = fitStack(pick(z), pick(zLr), pick(y));
    for (let i = k; i < n; i += K) {
      const p1 = sigmoid(platt.a * z[i] + platt.b);
      const p2 = sigmoid(stack.a * z[i] + stack.c * zLr[i] + stack.b);
      gains[i] = nll(p1, y[i]) - nll(p2, y[i]);
    }
  }
  let mean = 0;
  for (const g of gains) mean += g / n;
  let ss = 0;
  for (const g of gains) ss += (g - mean) ** 2;
  const se = Math.sqrt(ss / Math.max(1, n - 1) / n);
  return { gain: mean, se, t: se > 0 ? mean / se : 0 };
}

/**
 * Fits p = σ(a·z + c·zLr + b) by Newton's method on the log loss (a tiny ridge on a − 1, c and b), from the identity
 * on z. The stack of the head's logit with the regression's.
 * @example fitStack(headLogits, regressionLogits, labels) // { a: 0.6, c: 0.3, b: -0.2 }
 */
export function fitStack(
  z: ArrayLike<number>,
  zLr: ArrayLike<number>,
  y: ArrayLike<number>,
): { a: number; c: number; b: number } {
  const n = y.length;
  const ridge = 1e-6 * n;
  let w = [1, 0, 0]; // a, c, b
  for (let iter = 0; iter < 100; iter++) {
    const g = [ridge * (w[0] - 1), ridge * w[1], ridge * w[2]];
    const H = [
      [ridge, 0, 0],
      [0, ridge, 0],
      [0, 0, ridge],
    ];
    for (let i = 0; i < n; i++) {
      const x = [z[i], zLr[i], 1];
      const p = sigmoid(w[0] * x[0] + w[1] * x[1] + w[2]);
      const r = p - y[i];
      const h = Math.max(p * (1 - p), 1e-12);
      for (let j = 0; j < 3; j++) {
        g[j] += r * x[j];
        for (let k = 0; k < 3; k++) H[j][k] += h * x[j] * x[k];
      }
    }
    const d = solve3(H, g);
    if (!d?.every(Number.isFinite)) break;
    w = w.map((v, j) => v - d[j]);
    if (Math.abs(d[0]) + Math.abs(d[1]) + Math.abs(d[2]) < 1e-10) break;
  }
  return { a: w[0], c: w[1], b: w[2] };
}

/** Solves H d = g for a symmetric positive definite 3×3 H (Cholesky); null when it is not. */
function solve3(H: number[][], g: number[]): number[] | null {
  const L = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j <= i; j++) {
      let s = H[i][j];
      for (let k = 0; k < j; k++) s -= L[i][k] * L[j][k];
      if (i === j) {
        if (!(s > 0)) return null;
        L[i][i] = Math.sqrt(s);
      } else L[i][j] = s / L[j][j];
    }
  }
  const u = [0, 0, 0];
  for (let i = 0; i < 3; i++) u[i] = (g[i] - L[i].slice(0, i).reduce((s, l, k) => s + l * u[k], 0)) / L[i][i];
  const d = [0, 0, 0];
  for (let i = 2; i >= 0; i--) {
    let s = u[i];
    for (let k = i + 1; k < 3; k++) s -= L[k][i] * d[k];
    d[i] = s / L[i][i];
  }
  return d;
}
