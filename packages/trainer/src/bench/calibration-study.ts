// The calibration study of docs/ARCHITECTURE.md §4 (ranking): trains the ranker per seed on a dataset (the flags of
// `vireo train ranking`, uncalibrated), and dumps the heads' logits on the validation and test rows with their labels,
// the oracle's probabilities and logistic regression's test predictions, so that calibration maps can be compared
// on the same models without retraining (`packages/trainer/src/bench/calibration-table.ts`).
//
//   node --import ./packages/trainer/bin/register.mjs packages/trainer/src/bench/calibration-study.ts \
//     DATASET OUT.json SEEDS EPOCHS [PATIENCE] [--snapshots]
//
// --snapshots also dumps the heads' logits at every validation point (`evals`), so that early-stopping criteria can be
// compared offline on one run per seed (selection-table.ts); give a PATIENCE above the evaluations to see them all.
// CTCVR_WEIGHT=X and CVR_WEIGHT=X in the environment set the ctcvr loss weight (default 1) and that of a direct cvr
// BCE on clicked rows (default: the trainer's); INTERACTION=cat concatenates the embeddings instead of their dots.
import { writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../ingest/index.ts';
import { openGpu } from '../node/gpu.ts';
import { rankingData, rankingSplits } from '../ranking/data.ts';
import { DEFAULT_CVR_WEIGHT, DEFAULT_SELECTION, fitRanking } from '../ranking/fit.ts';
import { logitsOf } from '../ranking/calibrate.ts';
import { fitLogistic, logisticPredict } from '../ranking/logistic.ts';
import { rankingConfigFor } from '../ranking/index.ts';
import { RankingModel } from '@vireo/models';

const snapshots = process.argv.includes('--snapshots');
const [dir, out, seedList = '1,2,3', epochs = '2', patience = '4'] = process.argv
  .slice(2)
  .filter((a) => a !== '--snapshots');
const ds = loadDataset(dir);
const data = rankingData(ds);
const splits = rankingSplits(data, 0.1);
const gpu = await openGpu();
const interaction = process.env.INTERACTION === 'cat' ? 'cat' : 'dot';
const config = rankingConfigFor(data, { dim: 16, bottom: [64], top: [64], tower: [16], interaction });
const col = (rows: Uint32Array, t: number) => Array.from(rows, (r) => data.labels[r * 3 + t]);
const result: Record<string, unknown> = {
  dataset: dir,
  rows: { train: splits.train.length, valid: splits.valid.length, test: splits.test.length },
  labels: {
    valid: [col(splits.valid, 0), col(splits.valid, 1)],
    test: [col(splits.test, 0), col(splits.test, 1)],
  },
  oracle: data.oracleClick
    ? {
        click: Array.from(splits.test, (r) => data.oracleClick![r]),
        conversion: data.oracleConversion ? Array.from(splits.test, (r) => data.oracleConversion![r]) : null,
      }
    : null,
  seeds: {} as Record<string, unknown>,
};
const isClicked = (r: number) => data.labels[r * 3] > 0.5;
const lr = {
  click: logisticPredict(
    config,
    data,
    fitLogistic(config, data, splits.train, splits.valid, 0, 1).weights,
    splits.test,
  ),
  cvr: logisticPredict(
    config,
    data,
    fitLogistic(config, data, splits.train.filter(isClicked), splits.valid.filter(isClicked), 1, 1).weights,
    splits.test,
  ),
};
result.logistic = { click: Array.from(lr.click), cvr: Array.from(lr.cvr) };
for (const seed of seedList.split(',').map(Number)) {
  const opts = {
    epochs: Number(epochs),
    batch: 256,
    lr: 1e-3,
    embLr: 0.05,
    weightDecay: 0,
    revenueWeight: 0.1,
    ctcvrWeight: Number(process.env.CTCVR_WEIGHT ?? 1),
    cvrWeight: Number(process.env.CVR_WEIGHT ?? DEFAULT_CVR_WEIGHT),
    seed,
    evalsPerEpoch: 4,
    patience: Number(patience),
    select: DEFAULT_SELECTION,
    checkpointEvery: 0,
    lossEvery: 10,
  };
  const t0 = performance.now();
  const pick = (a: Float32Array, t: number) => Array.from({ length: a.length / 3 }, (_, i) => a[i * 3 + t]);
  const round = (v: number[]) => v.map((x) => Math.round(x * 1e4) / 1e4);
  const evals: unknown[] = [];
  const fit = await fitRanking(gpu, config, data, splits, opts, {
    checkpointDir: mkdtempSync(join(tmpdir(), 'calib-')),
    resume: false,
    quiet: true,
    datasetId: dir,
    log: (l) => process.stderr.write(`${l}\n`),
    onEval: snapshots
      ? async (m, record) => {
          const v = await logitsOf(m, data, splits.valid);
          const t = await logitsOf(m, data, splits.test);
          evals.push({
            epoch: record.epoch,
            validAuc: record.validAuc,
            valid: [0, 1].map((h) => round(pick(v, h))),
            test: [0, 1].map((h) => round(pick(t, h))),
          });
          // Written as it goes, so a long run can be read before it ends.
          (result.seeds as Record<string, unknown>)[seed] = { evals };
          writeFileSync(out, JSON.stringify(result));
        }
      : undefined,
  });
  const model = await RankingModel.create(gpu, config, { maxBatch: 1000 });
  model.writeWeights(fit.params, fit.tables);
  const valid = await logitsOf(model, data, splits.valid);
  const test = await logitsOf(model, data, splits.test);
  model.destroy();
  (result.seeds as Record<string, unknown>)[seed] = {
    bestEpoch: fit.bestEpoch,
    bestValidAuc: fit.bestValidAuc,
    seconds: (performance.now() - t0) / 1000,
    valid: [pick(valid, 0), pick(valid, 1)],
    test: [pick(test, 0), pick(test, 1)],
    ...(snapshots ? { evals } : {}),
  };
  writeFileSync(out, JSON.stringify(result));
  process.stderr.write(`seed ${seed} done: best epoch ${fit.bestEpoch}, valid AUC ${fit.bestValidAuc.toFixed(4)}\n`);
}
gpu.destroy();
