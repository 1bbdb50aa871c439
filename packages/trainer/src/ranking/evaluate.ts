// The ranker's evaluation on the time-split test rows, with its baselines computed in the same
// run on the same transformed features: the constant rate (the training rate for everyone),
// logistic regression (fitted here, see logistic.ts) and, on synthetic worlds, the oracle (the
// true probabilities the world drew its labels from).
//
// Tasks: ctr — P(click) on every impression; ctcvr — P(click ∧ conversion) = pCtr·pCvr on every
// impression (ESMM's supervised quantity); cvr — pCvr = P(conversion | click) on clicked
// impressions; revenue — RMSE of the predicted log1p revenue on conversions.
//
// Every metric carries its standard error: the standard deviation over BOOTSTRAP_REPLICATES resamples (with
// replacement, seeded) of the evaluated rows, the same resamples for the model and its baselines. ECE is the
// expected calibration error over ECE_BINS equal-width bins of the predicted probability on [0, 1]:
// Σ_b (n_b / n) · |mean prediction_b − observed rate_b| (docs/ARCHITECTURE.md §4, Eval).
//
// ECE is biased upwards on few rows: even the true probabilities score about √(p(1−p)/n_b) per bin by chance
// (0.025 on 1,500 rows of the start world). Beside it the report gives its noise floor, the mean ECE the same
// predictions score against labels drawn from themselves (y* ~ Bernoulli(p), NOISE_REPLICATES draws: what perfectly
// calibrated predictions would score on this many rows), and the debiased ECE, ECE − noise floor (0 when calibrated;
// the true ECE when it is far above the floor, a little under it near the floor).
import { auc, calibration, createRng, logLoss } from '@vireo/core';
import { RankingModel, type RankingConfig } from '@vireo/models';
import type { Gpu } from '@vireo/kernels';
import type { RankingData, RankingSplits } from './data.ts';
import { scoreRows } from './fit.ts';
import { fitLogistic, logisticPredict } from './logistic.ts';

/** Bootstrap resamples behind every standard error. */
export const BOOTSTRAP_REPLICATES = 200;
/** Equal-width probability bins of the ECE. */
export const ECE_BINS = 10;
/** Label draws behind the ECE's noise floor. */
export const NOISE_REPLICATES = 200;

export interface TaskMetrics {
  auc: number;
  logLoss: number;
  /** Expected calibration error over ECE_BINS equal-width bins. */
  ece: number;
  /** The ECE's noise floor: its mean over labels drawn from the predictions themselves (eceNoiseFloor). */
  eceNoise: number;
  /** ece − eceNoise: the calibration error beyond what chance gives on this many rows. */
  eceDebiased: number;
  /** Bootstrap standard errors of the three (BOOTSTRAP_REPLICATES resamples of the rows). */
  se: { auc: number; logLoss: number; ece: number };
  rows: number;
  positives: number;
}

/** The logistic baseline's hyper-parameters, chosen on the validation rows. */
export interface LogisticChoice {
  l2: number;
  lr: number;
  epochs: number;
}

export interface RankingReport {
  split: {
    train: number;
    valid: number;
    test: number;
    validFrom: string;
    /** Set by training: the rows the ranker trained on and the rows its heads were calibrated on. */
    calibration?: { fit: number; calibrate: number; calibrateFrom: 'calibration' | 'validation' };
  };
  model: {
    ctr: TaskMetrics;
    ctcvr?: TaskMetrics;
    cvr?: TaskMetrics;
    revenue?: { rmseLog1p: number; se: number; rows: number };
  };
  baselines: {
    constant: { ctr: TaskMetrics; ctcvr?: TaskMetrics; cvr?: TaskMetrics };
    logistic: {
      ctr: TaskMetrics & LogisticChoice;
      ctcvr?: TaskMetrics & LogisticChoice;
      cvr?: TaskMetrics & LogisticChoice;
    };
    oracle?: { ctr: TaskMetrics; ctcvr?: TaskMetrics; cvr?: TaskMetrics };
  };
}

/** AUC, log loss and ECE of one set of predictions, without standard errors. */
export function pointMetrics(
  labels: ArrayLike<number>,
  p: ArrayLike<number>,
): { auc: number; logLoss: number; ece: number } {
  return { auc: auc(labels, p), logLoss: logLoss(labels, p), ece: calibration(labels, p, ECE_BINS).ece };
}

/** Row resamples (with replacement) of n rows, seeded: the same for every prediction scored on those rows. */
export function bootstrapResamples(n: number, seed: number, replicates = BOOTSTRAP_REPLICATES): Uint32Array[] {
  const rng = createRng(seed).fork(`bootstrap-${n}`);
  return Array.from({ length: n ? replicates : 0 }, () => Uint32Array.from({ length: n }, () => rng.int(n)));
}

const sd = (v: number[]) => {
  const m = v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  return v.length > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1)) : NaN;
};

/**
 * The ECE that perfectly calibrated predictions score on this many rows by chance: the mean ECE of `p` against
 * labels drawn from `p` itself (y*_i ~ Bernoulli(p_i)), over `replicates` seeded draws.
 * @example eceNoiseFloor(new Array(1500).fill(0.3), 1) // ≈ 0.0095 (√(0.21 / 1500) · √(2/π))
 */
export function eceNoiseFloor(p: ArrayLike<number>, seed: number, replicates = NOISE_REPLICATES): number {
  if (p.length === 0) return NaN;
  const rng = createRng(seed).fork(`ece-noise-${p.length}`);
  const y = new Float64Array(p.length);
  let sum = 0;
  for (let k = 0; k < replicates; k++) {
    for (let i = 0; i < p.length; i++) y[i] = rng.next() < p[i] ? 1 : 0;
    sum += calibration(y, p, ECE_BINS).ece;
  }
  return sum / replicates;
}

/**
 * The metrics of predictions `p` against `labels`, with bootstrap standard errors over `resamples`.
 * @example taskMetrics([0, 1], [0.2, 0.7], bootstrapResamples(2, 1)).ece // 0.25
 */
export function taskMetrics(labels: ArrayLike<number>, p: ArrayLike<number>, resamples: Uint32Array[]): TaskMetrics {
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i] > 0.5 ? 1 : 0;
  const reps = { auc: [] as number[], logLoss: [] as number[], ece: [] as number[] };
  const y = new Float64Array(labels.length);
  const q = new Float64Array(labels.length);
  for (const idx of resamples) {
    for (let i = 0; i < idx.length; i++) {
      y[i] = labels[idx[i]];
      q[i] = p[idx[i]];
    }
    const m = pointMetrics(y, q);
    // A resample with one class has no AUC; it still has a log loss and an ECE.
    if (Number.isFinite(m.auc)) reps.auc.push(m.auc);
    reps.logLoss.push(m.logLoss);
    reps.ece.push(m.ece);
  }
  const point = pointMetrics(labels, p);
  const eceNoise = eceNoiseFloor(p, 0);
  return {
    ...point,
    eceNoise,
    eceDebiased: point.ece - eceNoise,
    se: { auc: sd(reps.auc), logLoss: sd(reps.logLoss), ece: sd(reps.ece) },
    rows: labels.length,
    positives,
  };
}

/** Rate of label column `task` over `rows` (where `keep`, if given). */
function rate(data: RankingData, rows: ArrayLike<number>, task: number, keep?: (r: number) => boolean): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < rows.length; i++) {
    if (keep && !keep(rows[i])) continue;
    s += data.labels[rows[i] * 3 + task];
    n++;
  }
  return s / Math.max(1, n);
}

/**
 * Scores the test rows through the WGSL forward and reports the model beside its baselines.
 * @example const report = await evaluateRanking(gpu, config, params, tables, data, splits, 1);
 */
export async function evaluateRanking(
  gpu: Gpu,
  config: RankingConfig,
  params: Float32Array,
  tables: Float32Array[],
  data: RankingData,
  splits: RankingSplits,
  seed: number,
): Promise<RankingReport> {
  const model = await RankingModel.create(gpu, config, { maxBatch: 1000 });
  model.writeWeights(params, tables);
  const { test, train, valid } = splits;
  const scores = await scoreRows(model, data, test);
  model.destroy();

  const n = test.length;
  const col = (a: Float32Array, t: number, rows: ArrayLike<number> | null = null) =>
    Float64Array.from({ length: n }, (_, i) => a[(rows ? rows[i] : i) * 3 + t]);
  const click = col(data.labels, 0, test);
  const conversion = col(data.labels, 1, test);
  const pCtr = col(scores, 0);
  const all = bootstrapResamples(n, seed);
  const lrCtr = fitLogistic(config, data, train, valid, 0, seed);
  const withChoice = (m: TaskMetrics, lr: { l2: number; lr: number; epochs: number }) => ({
    ...m,
    l2: lr.l2,
    lr: lr.lr,
    epochs: lr.epochs,
  });
  const report: RankingReport = {
    split: { train: train.length, valid: valid.length, test: n, validFrom: splits.validFrom },
    model: { ctr: taskMetrics(click, pCtr, all) },
    baselines: {
      constant: { ctr: taskMetrics(click, new Float64Array(n).fill(rate(data, train, 0)), all) },
      logistic: { ctr: withChoice(taskMetrics(click, logisticPredict(config, data, lrCtr.weights, test), all), lrCtr) },
    },
  };

  const clicked = Array.from({ length: n }, (_, i) => i).filter((i) => click[i] > 0.5);
  const onClicked = bootstrapResamples(clicked.length, seed);
  const clickedLabels = clicked.map((i) => conversion[i]);
  const isClicked = (r: number) => data.labels[r * 3] > 0.5;
  if (config.heads.includes('cvr')) {
    const pCvr = col(scores, 1);
    report.model.ctcvr = taskMetrics(
      conversion,
      pCtr.map((p, i) => p * pCvr[i]),
      all,
    );
    report.model.cvr = taskMetrics(
      clickedLabels,
      clicked.map((i) => pCvr[i]),
      onClicked,
    );
    report.baselines.constant.ctcvr = taskMetrics(conversion, new Float64Array(n).fill(rate(data, train, 1)), all);
    report.baselines.constant.cvr = taskMetrics(
      clickedLabels,
      new Float64Array(clicked.length).fill(rate(data, train, 1, isClicked)),
      onClicked,
    );
    const lrConv = fitLogistic(config, data, train, valid, 1, seed);
    report.baselines.logistic.ctcvr = withChoice(
      taskMetrics(conversion, logisticPredict(config, data, lrConv.weights, test), all),
      lrConv,
    );
    // P(conversion | click): logistic regression on the clicked training rows, chosen on the clicked valid rows.
    const lrCvr = fitLogistic(config, data, train.filter(isClicked), valid.filter(isClicked), 1, seed);
    report.baselines.logistic.cvr = withChoice(
      taskMetrics(
        clickedLabels,
        logisticPredict(
          config,
          data,
          lrCvr.weights,
          clicked.map((i) => test[i]),
        ),
        onClicked,
      ),
      lrCvr,
    );
  }
  if (config.heads.includes('revenue')) {
    const errors: number[] = [];
    for (let i = 0; i < n; i++) {
      if (conversion[i] < 0.5) continue;
      errors.push((scores[i * 3 + 2] - Math.log1p(data.labels[test[i] * 3 + 2])) ** 2);
    }
    const rmse = (e: ArrayLike<number>) => {
      let s = 0;
      for (let i = 0; i < e.length; i++) s += e[i];
      return e.length ? Math.sqrt(s / e.length) : NaN;
    };
    const reps = bootstrapResamples(errors.length, seed).map((idx) => rmse(Array.from(idx, (j) => errors[j])));
    report.model.revenue = { rmseLog1p: rmse(errors), se: sd(reps), rows: errors.length };
  }
  if (data.oracleClick) {
    const pClick = Float64Array.from(test, (r) => data.oracleClick![r]);
    report.baselines.oracle = { ctr: taskMetrics(click, pClick, all) };
    if (data.oracleConversion && config.heads.includes('cvr')) {
      report.baselines.oracle.ctcvr = taskMetrics(
        conversion,
        pClick.map((p, i) => p * data.oracleConversion![test[i]]),
        all,
      );
      report.baselines.oracle.cvr = taskMetrics(
        clickedLabels,
        clicked.map((i) => data.oracleConversion![test[i]]),
        onClicked,
      );
    }
  }
  return report;
}

/** One metric as `0.8412 ± 0.0051`. */
const pm = (v: number, se: number) => `${v.toFixed(4)} ± ${Number.isFinite(se) ? se.toFixed(4) : '—'}`;

/** The report as aligned text lines for the terminal. */
export function formatReport(r: RankingReport): string {
  const f = (m: TaskMetrics | undefined) =>
    m
      ? `AUC ${pm(m.auc, m.se.auc)}  log loss ${pm(m.logLoss, m.se.logLoss)}  ECE ${pm(m.ece, m.se.ece)} ` +
        `(floor ${m.eceNoise.toFixed(4)}, debiased ${m.eceDebiased.toFixed(4)})`
      : '—';
  const c = r.split.calibration;
  const trained = c?.calibrateFrom === 'calibration' ? `${c.fit} + ${c.calibrate} calibration` : `${r.split.train}`;
  const lines = [
    `test rows ${r.split.test} (train ${trained}, early ` +
      `stopping on ${r.split.valid} from the ${r.split.validFrom}); ± bootstrap standard errors ` +
      `(${BOOTSTRAP_REPLICATES} resamples); ECE over ${ECE_BINS} equal-width bins; its floor is the ECE calibrated ` +
      `predictions score on this many rows by chance, debiased = ECE − floor`,
  ];
  const block = (task: 'ctr' | 'ctcvr' | 'cvr', note = '') => {
    const b = r.baselines;
    lines.push(`${task.padEnd(6)} model     ${f(r.model[task])}${note}`);
    if (b.logistic[task]) lines.push(`       logistic  ${f(b.logistic[task])}`);
    if (b.constant[task]) lines.push(`       constant  ${f(b.constant[task])}`);
    if (b.oracle?.[task]) lines.push(`       oracle    ${f(b.oracle[task])}`);
  };
  block('ctr');
  if (r.model.ctcvr) block('ctcvr');
  if (r.model.cvr) block('cvr', `   (on ${r.model.cvr.rows} clicked impressions)`);
  // No conversion among the test rows leaves nothing to measure the revenue head on (before: "RMSE log1p NaN").
  if (r.model.revenue)
    lines.push(
      r.model.revenue.rows === 0
        ? 'revenue model    not evaluated: no conversions among the test rows'
        : `revenue model    RMSE log1p ${pm(r.model.revenue.rmseLog1p, r.model.revenue.se)} on ` +
            `${r.model.revenue.rows} conversions`,
    );
  return lines.join('\n');
}
