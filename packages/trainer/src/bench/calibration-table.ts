// The table of the calibration study (docs/ARCHITECTURE.md §4, ranking): every calibration map fitted on the
// validation rows' logits that calibration-study.ts dumped, scored on the test rows (ctr on every row, cvr on the
// clicked ones) beside logistic regression and the oracle: AUC, log loss, ECE, its noise floor, debiased ECE.
//
//   node --import ./packages/trainer/bin/register.mjs packages/trainer/src/bench/calibration-table.ts A.json B.json
import { readFileSync } from 'node:fs';
import { eceNoiseFloor, pointMetrics } from '../ranking/evaluate.ts';
import {
  applyCalibrationMap,
  type CalibrationMap,
  type CalibrationMethod,
  fitCalibrationMap,
} from './calibration-maps.ts';

const METHODS: CalibrationMethod[] = ['none', 'platt', 'temperature', 'bias', 'beta', 'isotonic'];
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

interface Dump {
  dataset: string;
  rows: { train: number; valid: number; test: number };
  labels: { valid: number[][]; test: number[][] };
  oracle: { click: number[]; conversion: number[] | null } | null;
  logistic: { click: number[]; cvr: number[] };
  seeds: Record<string, { bestEpoch: number; valid: number[][]; test: number[][] }>;
}

type Row = { auc: number; logLoss: number; ece: number; floor: number; debiased: number };
const score = (y: number[], p: number[]): Row => {
  const m = pointMetrics(y, p);
  const floor = eceNoiseFloor(p, 0, 100);
  return { ...m, floor, debiased: m.ece - floor };
};
const f4 = (v: number) => v.toFixed(4);
const params = (m: CalibrationMap) =>
  m.kind === 'affine'
    ? `a ${m.a.toFixed(3)}, b ${m.b.toFixed(3)}`
    : m.kind === 'beta'
      ? `a ${m.a.toFixed(3)}, b ${m.b.toFixed(3)}, c ${m.c.toFixed(3)}`
      : `${m.x.length} knots`;
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const sd = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + (x - mean(v)) ** 2, 0) / Math.max(1, v.length - 1));

const compact = process.argv.includes('--compact');
const compactLines: string[] = [];
const out = (line: string) => {
  if (!compact) console.log(line);
};
for (const file of process.argv.slice(2).filter((a) => a !== '--compact')) {
  const d = JSON.parse(readFileSync(file, 'utf8')) as Dump;
  const name = d.dataset.split('/').pop();
  out(`\n## ${name}: ${d.rows.train} train · ${d.rows.valid} valid · ${d.rows.test} test rows`);
  for (const [task, t] of [
    ['ctr', 0],
    ['cvr', 1],
  ] as const) {
    const keepValid = d.labels.valid[0].map((c, i) => (t === 0 || c > 0.5 ? i : -1)).filter((i) => i >= 0);
    const keepTest = d.labels.test[0].map((c, i) => (t === 0 || c > 0.5 ? i : -1)).filter((i) => i >= 0);
    const yValid = keepValid.map((i) => d.labels.valid[t][i]);
    const yTest = keepTest.map((i) => d.labels.test[t][i]);
    const lr = score(
      yTest,
      keepTest.map((i) => (t === 0 ? d.logistic.click[i] : d.logistic.cvr[i])),
    );
    const oracleP = d.oracle && (t === 0 ? d.oracle.click : d.oracle.conversion);
    const oracle = oracleP
      ? score(
          yTest,
          keepTest.map((i) => oracleP[i]),
        )
      : null;
    out(
      `\n### ${task} (${yTest.length} test rows): logistic AUC ${f4(lr.auc)} log loss ${f4(lr.logLoss)} ECE ` +
        `${f4(lr.ece)}` +
        (oracle
          ? `; oracle AUC ${f4(oracle.auc)} log loss ${f4(oracle.logLoss)} ECE ${f4(oracle.ece)} ` +
            `(floor ${f4(oracle.floor)})`
          : ''),
    );
    out('| method | seed | AUC | log loss | ECE | floor | debiased | valid log loss (5-fold) | map |');
    out('|---|---|---|---|---|---|---|---|---|');
    for (const method of METHODS) {
      const per: Row[] = [];
      const cvLoss: number[] = [];
      for (const [seed, s] of Object.entries(d.seeds)) {
        const zValid = keepValid.map((i) => s.valid[t][i]);
        const zTest = keepTest.map((i) => s.test[t][i]);
        const map = fitCalibrationMap(method, zValid, yValid);
        // Chosen on validation, never test: 5-fold cross-fitted log loss on the validation rows (interleaved folds).
        const cv = new Float64Array(zValid.length);
        for (let k = 0; k < 5; k++) {
          const fold = (i: number) => i % 5 === k;
          const idx = zValid.map((_, i) => i);
          const m = fitCalibrationMap(
            method,
            idx.filter((i) => !fold(i)).map((i) => zValid[i]),
            idx.filter((i) => !fold(i)).map((i) => yValid[i]),
          );
          for (const i of idx.filter(fold)) cv[i] = sigmoid(applyCalibrationMap(m, zValid[i]));
        }
        const validLoss = pointMetrics(yValid, cv).logLoss;
        cvLoss.push(validLoss);
        const r = score(
          yTest,
          zTest.map((z) => sigmoid(applyCalibrationMap(map, z))),
        );
        per.push(r);
        out(
          `| ${method} | ${seed} | ${f4(r.auc)} | ${f4(r.logLoss)} | ${f4(r.ece)} | ${f4(r.floor)} | ` +
            `${f4(r.debiased)} | ${f4(validLoss)} | ${params(map)} |`,
        );
      }
      const ms = (k: keyof Row) => `${f4(mean(per.map((r) => r[k])))} ± ${f4(sd(per.map((r) => r[k])))}`;
      // The docs' form: one line per world, task and method, each seed's value then mean ± sd.
      const seeds = (k: keyof Row) => `${per.map((r) => r[k].toFixed(4)).join(' / ')} (${ms(k)})`;
      if (compact) {
        compactLines.push(
          `| ${name} | ${task} | ${method} | ${seeds('auc')} | ${seeds('logLoss')} | ${seeds('ece')} | ` +
            `${f4(mean(per.map((r) => r.floor)))} | ${seeds('debiased')} | ${f4(lr.logLoss)} |`,
        );
        continue;
      }
      out(
        `| **${method}** | mean ± sd | ${ms('auc')} | ${ms('logLoss')} | ${ms('ece')} | ${ms('floor')} | ` +
          `${ms('debiased')} | ${f4(mean(cvLoss))} ± ${f4(sd(cvLoss))} | |`,
      );
    }
  }
}
if (compact) {
  console.log('| world | head | map | AUC | log loss | ECE | floor | debiased ECE | LR log loss |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const line of compactLines) console.log(line);
}
