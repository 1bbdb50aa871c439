// The wide term measured before it was built (docs/ARCHITECTURE.md §4, "The wide term"): on the calibration study's
// dumps (calibration-study.ts: the trained heads' logits on the validation and test rows), logistic regression is
// fitted on the same dataset's training rows and stacked with each head on the validation rows, as
// `calibrateHeads` does; test rows score Platt alone, the regression with its own Platt pair and the stack, beside
// the cross-fitted test of the stack on the validation rows that decides it (WIDE_MIN_T).
//
//   node --import ./packages/trainer/bin/register.mjs packages/trainer/src/bench/wide-table.ts DUMP.json:DATASET ...
import { readFileSync } from 'node:fs';
import { auc, calibration, logLoss } from '@vireo/core';
import { loadDataset } from '../ingest/index.ts';
import { fitPlatt, fitStack, stackTest, WIDE_MIN_T } from '../ranking/calibrate.ts';
import { rankingData, rankingSplits } from '../ranking/data.ts';
import { rankingConfigFor } from '../ranking/index.ts';
import { fitLogistic, logisticLogits } from '../ranking/logistic.ts';
import { markdownTable } from './render.ts';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const rows: string[][] = [];
for (const arg of process.argv.slice(2)) {
  const [dump, dir] = arg.split(':');
  const study = JSON.parse(readFileSync(dump, 'utf8'));
  const data = rankingData(loadDataset(dir));
  const splits = rankingSplits(data, 0.1);
  const config = rankingConfigFor(data, { dim: 16, bottom: [64], top: [64], tower: [16], interaction: 'dot' });
  const clicked = (r: number) => data.labels[r * 3] > 0.5;
  for (const [h, head] of [
    [0, 'ctr'],
    [1, 'cvr'],
  ] as const) {
    const train = h === 0 ? splits.train : splits.train.filter(clicked);
    const valid = h === 0 ? splits.valid : splits.valid.filter(clicked);
    const lr = fitLogistic(config, data, train, valid, h, 1).weights;
    const lrValid = logisticLogits(config, data, lr, splits.valid);
    const lrTest = logisticLogits(config, data, lr, splits.test);
    for (const [seed, s] of Object.entries(study.seeds as Record<string, { valid: number[][]; test: number[][] }>)) {
      // The head's rows: every row for ctr, the clicked ones for cvr (P(conversion | click)).
      const pick = (labels: number[][]) => labels[0].flatMap((c, i) => (h === 0 || c > 0.5 ? [i] : []));
      const [iv, it] = [pick(study.labels.valid), pick(study.labels.test)];
      const yV = iv.map((i) => study.labels.valid[h][i]);
      const yT = it.map((i) => study.labels.test[h][i]);
      const zV = iv.map((i) => s.valid[h][i]);
      const zT = it.map((i) => s.test[h][i]);
      const [lV, lT] = [iv.map((i) => lrValid[i]), it.map((i) => lrTest[i])];
      const platt = fitPlatt(zV, yV);
      const lrPlatt = fitPlatt(lV, yV);
      const stack = fitStack(zV, lV, yV);
      const test = stackTest(zV, lV, yV);
      const score = (p: number[]) =>
        `${auc(yT, p).toFixed(4)} / ${logLoss(yT, p).toFixed(4)} / ${calibration(yT, p).ece.toFixed(4)}`;
      rows.push([
        dump,
        seed,
        head,
        String(it.length),
        score(zT.map((z) => sigmoid(platt.a * z + platt.b))),
        score(lT.map((z) => sigmoid(lrPlatt.a * z + lrPlatt.b))),
        score(zT.map((z, i) => sigmoid(stack.a * z + stack.c * lT[i] + stack.b))),
        `${stack.a.toFixed(3)}, ${stack.c.toFixed(3)}, ${stack.b.toFixed(3)}`,
        `${test.gain.toFixed(5)} ± ${test.se.toFixed(5)} (t ${test.t.toFixed(2)})` +
          (test.t >= WIDE_MIN_T ? ' stacked' : ''),
      ]);
    }
  }
}
process.stdout.write(
  `${markdownTable(
    [
      'dump',
      'seed',
      'head',
      'test rows',
      'Platt: AUC / log loss / ECE',
      'regression + Platt',
      'stack',
      'stack a, c, b',
      'valid cross-fitted gain',
    ],
    [false, false, false, true, false, false, false, false, false],
    rows,
  )}\n`,
);
