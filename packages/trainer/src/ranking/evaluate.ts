// The ranker's evaluation on the time-split test rows, with its baselines computed in the same
// run on the same transformed features: the constant rate (the training rate for everyone),
// logistic regression (fitted here, see logistic.ts) and, on synthetic worlds, the oracle (the
// true probabilities the world drew its labels from).
//
// Tasks: ctr — P(click) on every impression; ctcvr — P(click ∧ conversion) = pCtr·pCvr on every
// impression (ESMM's supervised quantity); cvr — pCvr = P(conversion | click) on clicked
// impressions; revenue — RMSE of the predicted log1p revenue on conversions.
import { auc, calibration, logLoss } from '@vireo/core';
import { RankingModel, type RankingConfig } from '@vireo/models';
import type { Gpu } from '@vireo/kernels';
import type { RankingData, RankingSplits } from './data.ts';
import { scoreRows } from './fit.ts';
import { fitLogistic, logisticPredict } from './logistic.ts';

export interface TaskMetrics {
  auc: number;
  logLoss: number;
  /** Expected calibration error over 10 bins. */
  ece: number;
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
  split: { train: number; valid: number; test: number; validFrom: string };
  model: { ctr: TaskMetrics; ctcvr?: TaskMetrics; cvr?: TaskMetrics; revenue?: { rmseLog1p: number; rows: number } };
  baselines: {
    constant: { ctr: TaskMetrics; ctcvr?: TaskMetrics };
    logistic: { ctr: TaskMetrics & LogisticChoice; ctcvr?: TaskMetrics & LogisticChoice };
    oracle?: { ctr: TaskMetrics; ctcvr?: TaskMetrics };
  };
}

function metrics(labels: ArrayLike<number>, p: ArrayLike<number>): TaskMetrics {
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i] > 0.5 ? 1 : 0;
  return {
    auc: auc(labels, p),
    logLoss: logLoss(labels, p),
    ece: calibration(labels, p).ece,
    rows: labels.length,
    positives,
  };
}

/** Rate of label column `task` over `rows`. */
function rate(data: RankingData, rows: ArrayLike<number>, task: number): number {
  let s = 0;
  for (let i = 0; i < rows.length; i++) s += data.labels[rows[i] * 3 + task];
  return s / Math.max(1, rows.length);
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
  const lrCtr = fitLogistic(config, data, train, valid, 0, seed);
  const report: RankingReport = {
    split: { train: train.length, valid: valid.length, test: n, validFrom: splits.validFrom },
    model: { ctr: metrics(click, pCtr) },
    baselines: {
      constant: { ctr: metrics(click, new Float64Array(n).fill(rate(data, train, 0))) },
      logistic: {
        ctr: {
          ...metrics(click, logisticPredict(config, data, lrCtr.weights, test)),
          l2: lrCtr.l2,
          lr: lrCtr.lr,
          epochs: lrCtr.epochs,
        },
      },
    },
  };

  if (config.heads.includes('cvr')) {
    const pCvr = col(scores, 1);
    report.model.ctcvr = metrics(
      conversion,
      pCtr.map((p, i) => p * pCvr[i]),
    );
    const clicked = Array.from({ length: n }, (_, i) => i).filter((i) => click[i] > 0.5);
    report.model.cvr = metrics(
      clicked.map((i) => conversion[i]),
      clicked.map((i) => pCvr[i]),
    );
    report.baselines.constant.ctcvr = metrics(conversion, new Float64Array(n).fill(rate(data, train, 1)));
    const lrConv = fitLogistic(config, data, train, valid, 1, seed);
    report.baselines.logistic.ctcvr = {
      ...metrics(conversion, logisticPredict(config, data, lrConv.weights, test)),
      l2: lrConv.l2,
      lr: lrConv.lr,
      epochs: lrConv.epochs,
    };
  }
  if (config.heads.includes('revenue')) {
    let se = 0;
    let rows = 0;
    for (let i = 0; i < n; i++) {
      if (conversion[i] < 0.5) continue;
      se += (scores[i * 3 + 2] - Math.log1p(data.labels[test[i] * 3 + 2])) ** 2;
      rows++;
    }
    report.model.revenue = { rmseLog1p: rows ? Math.sqrt(se / rows) : NaN, rows };
  }
  if (data.oracleClick) {
    const pClick = Float64Array.from(test, (r) => data.oracleClick![r]);
    report.baselines.oracle = { ctr: metrics(click, pClick) };
    if (data.oracleConversion && config.heads.includes('cvr'))
      report.baselines.oracle.ctcvr = metrics(
        conversion,
        pClick.map((p, i) => p * data.oracleConversion![test[i]]),
      );
  }
  return report;
}

/** The report as aligned text lines for the terminal. */
export function formatReport(r: RankingReport): string {
  const f = (m: TaskMetrics | undefined) =>
    m ? `AUC ${m.auc.toFixed(4)}  log loss ${m.logLoss.toFixed(4)}  ECE ${m.ece.toFixed(4)}` : '—';
  const lines = [
    `test rows ${r.split.test} (train ${r.split.train}, early ` +
      `stopping on ${r.split.valid} from the ${r.split.validFrom})`,
    `ctr    model     ${f(r.model.ctr)}`,
    `       logistic  ${f(r.baselines.logistic.ctr)}`,
    `       constant  ${f(r.baselines.constant.ctr)}`,
  ];
  if (r.baselines.oracle) lines.push(`       oracle    ${f(r.baselines.oracle.ctr)}`);
  if (r.model.ctcvr) {
    lines.push(
      `ctcvr  model     ${f(r.model.ctcvr)}`,
      `       logistic  ${f(r.baselines.logistic.ctcvr)}`,
      `       constant  ${f(r.baselines.constant.ctcvr)}`,
    );
    if (r.baselines.oracle?.ctcvr) lines.push(`       oracle    ${f(r.baselines.oracle.ctcvr)}`);
    lines.push(`cvr    model     ${f(r.model.cvr)}   (on ${r.model.cvr!.rows} clicked impressions)`);
  }
  if (r.model.revenue)
    lines.push(
      `revenue model    RMSE log1p ${r.model.revenue.rmseLog1p.toFixed(4)} on ${r.model.revenue.rows} conversions`,
    );
  return lines.join('\n');
}
