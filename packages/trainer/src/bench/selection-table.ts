// Early-stopping criteria compared offline (docs/ARCHITECTURE.md §4, ranking): reads calibration-study.ts dumps made
// with --snapshots (the heads' logits at every validation point of a run that did not stop early), replays each
// criterion's early stopping (patience 4, as `vireo train ranking`), fits Platt on the validation rows of the kept
// snapshot and scores it on test: ctr on every row, cvr on the clicked ones, beside logistic regression.
//
//   node --import ./packages/trainer/bin/register.mjs packages/trainer/src/bench/selection-table.ts A.json [B.json ...]
import { readFileSync } from 'node:fs';
import { auc } from '@vireo/core';
import { fitPlatt } from '../ranking/calibrate.ts';
import { eceNoiseFloor, pointMetrics } from '../ranking/evaluate.ts';
import { selectionScore, type SelectionCriterion } from '../ranking/fit.ts';

interface Snapshot {
  epoch: number;
  valid: number[][];
  test: number[][];
}
interface Dump {
  dataset: string;
  labels: { valid: number[][]; test: number[][] };
  logistic: { click: number[]; cvr: number[] };
  seeds: Record<string, { evals: Snapshot[] }>;
}

const CRITERIA: SelectionCriterion[] = ['ctr-auc', 'auc-mean', 'log-loss'];
const PATIENCE = Number(process.env.PATIENCE ?? 4);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const f4 = (v: number) => v.toFixed(4);
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const sd = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + (x - mean(v)) ** 2, 0) / Math.max(1, v.length - 1));

const worlds = new Map<string, Dump>();
for (const file of process.argv.slice(2)) {
  const d = JSON.parse(readFileSync(file, 'utf8')) as Dump;
  const w = worlds.get(d.dataset);
  if (w) Object.assign(w.seeds, d.seeds);
  else worlds.set(d.dataset, d);
}

console.log(
  '| world | criterion | seeds: kept epoch | head | AUC | log loss (Platt) | ECE (Platt) | floor | LR log loss |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const [dataset, d] of worlds) {
  const clicked = (rows: number[]) => rows.map((c, i) => (c > 0.5 ? i : -1)).filter((i) => i >= 0);
  const keep = { valid: clicked(d.labels.valid[0]), test: clicked(d.labels.test[0]) };
  const yv = { click: d.labels.valid[0], conversion: d.labels.valid[1] };
  for (const criterion of CRITERIA) {
    const picked: { seed: string; epoch: number; snap: Snapshot }[] = [];
    for (const [seed, s] of Object.entries(d.seeds)) {
      let best = -Infinity;
      let kept = s.evals[0];
      let without = 0;
      for (const snap of s.evals) {
        const v = selectionScore(criterion, yv, snap.valid[0].map(sigmoid), snap.valid[1].map(sigmoid));
        if (v > best) {
          best = v;
          kept = snap;
          without = 0;
        } else if (++without >= PATIENCE) break;
      }
      picked.push({ seed, epoch: kept.epoch, snap: kept });
    }
    for (const [task, t] of [
      ['ctr', 0],
      ['cvr', 1],
    ] as const) {
      const rowsValid = t === 0 ? d.labels.valid[0].map((_, i) => i) : keep.valid;
      const rowsTest = t === 0 ? d.labels.test[0].map((_, i) => i) : keep.test;
      const yValid = rowsValid.map((i) => d.labels.valid[t][i]);
      const yTest = rowsTest.map((i) => d.labels.test[t][i]);
      const lr = pointMetrics(
        yTest,
        rowsTest.map((i) => (t === 0 ? d.logistic.click[i] : d.logistic.cvr[i])),
      );
      const per = picked.map(({ snap }) => {
        const { a, b } = fitPlatt(
          rowsValid.map((i) => snap.valid[t][i]),
          yValid,
        );
        const p = rowsTest.map((i) => sigmoid(a * snap.test[t][i] + b));
        return { ...pointMetrics(yTest, p), floor: eceNoiseFloor(p, 0, 100) };
      });
      const cell = (k: 'auc' | 'logLoss' | 'ece') =>
        `${per.map((r) => f4(r[k])).join(' / ')} (${f4(mean(per.map((r) => r[k])))} ± ${f4(sd(per.map((r) => r[k])))})`;
      console.log(
        `| ${dataset.split('/').pop()} | ${criterion} | ${picked.map((p) => `${p.seed}: ${p.epoch}`).join(', ')} | ` +
          `${task} | ${cell('auc')} | ${cell('logLoss')} | ${cell('ece')} | ${f4(mean(per.map((r) => r.floor)))} | ` +
          `${f4(lr.logLoss)} (AUC ${f4(lr.auc)}) |`,
      );
    }
  }
  // Each snapshot's test cvr AUC, to see where the cvr head peaks (informational; never used to choose).
  for (const [seed, s] of Object.entries(d.seeds)) {
    const line = s.evals.map((snap) => {
      const y = keep.test.map((i) => d.labels.test[1][i]);
      const cvr = auc(
        y,
        keep.test.map((i) => snap.test[1][i]),
      );
      const ctr = auc(d.labels.test[0], snap.test[0]);
      return `${snap.epoch}: ctr ${ctr.toFixed(3)} cvr ${cvr.toFixed(3)}`;
    });
    console.log(`\n${dataset.split('/').pop()} seed ${seed} test AUC by snapshot: ${line.join('; ')}`);
  }
}
