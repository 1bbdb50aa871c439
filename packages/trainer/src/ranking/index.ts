// `vireo train ranking` and `vireo eval ranking`: the DLRM ranker (CTR, CVR the ESMM way, revenue)
// trained on WebGPU through Dawn, written into a model bundle with its ONNX twin, and evaluated
// beside its baselines. The train / eval commands dispatch here.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { RankingConfig, RankingTask } from '@vireo/models';
import { numberFlag, parseFlags, UsageError } from '../cli/args.ts';
import { outputFolder } from '../cli/paths.ts';
import { loadDataset } from '../ingest/index.ts';
import { openGpu } from '../node/gpu.ts';
import { loadRankingBundle, writeRankingBundle, rankingOnnx } from '@vireo/models/training';
import { rankingData, rankingFeatures, rankingSplits, type RankingData } from './data.ts';
import { calibrateHeads, calibrationHoldout } from './calibrate.ts';
import {
  BOOTSTRAP_REPLICATES,
  ECE_BINS,
  evaluateRanking,
  formatReport,
  type RankingReport,
  type TaskMetrics,
} from './evaluate.ts';
import { seedStat, type SeedStat } from '../eval/retrieval-seeds.ts';
import type { Gpu } from '@vireo/kernels';
import {
  DEFAULT_CVR_WEIGHT,
  DEFAULT_SELECTION,
  fitRanking,
  SELECTION_CRITERIA,
  type FitOptions,
  type SelectionCriterion,
} from './fit.ts';

export { rankingData, rankingSplits } from './data.ts';
export { evaluateRanking } from './evaluate.ts';
export { fitRanking } from './fit.ts';
export { rankingOnnx } from '@vireo/models/training';
export { loadRankingBundle } from '@vireo/models/training';

/**
 * The share of the training rows (the latest) that is held out to calibrate the heads; 0: the validation rows
 * calibrate. Held out, it cost AUC on every world measured and lowered ECE only on the factorization-machine world
 * (docs/ARCHITECTURE.md §4), so the default keeps every training row.
 */
export const DEFAULT_CALIBRATION_HOLDOUT = 0;

const denseWidthOf = (c: RankingConfig) => Math.max(1, c.denseFeatures.length);

const TRAIN_FLAGS = {
  data: { type: 'string' },
  out: { type: 'string' },
  epochs: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  'emb-lr': { type: 'string' },
  'weight-decay': { type: 'string' },
  'revenue-weight': { type: 'string' },
  'cvr-weight': { type: 'string' },
  dim: { type: 'string' },
  bottom: { type: 'string' },
  top: { type: 'string' },
  tower: { type: 'string' },
  interaction: { type: 'string' },
  seed: { type: 'string' },
  patience: { type: 'string' },
  select: { type: 'string' },
  'evals-per-epoch': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  holdout: { type: 'string' },
  'calibration-holdout': { type: 'string' },
  wide: { type: 'string' },
  resume: { type: 'boolean' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const TRAIN_HELP = `usage: vireo train ranking --data DATASET --out BUNDLE [flags]

Trains the DLRM ranker (bottom MLP, one embedding table per categorical feature, pairwise-dot
interaction, shared top MLP, one tower per task: CTR, CVR (ESMM), revenue) on the dataset's
ranking view, early-stopping on its validation rows, and writes ranking.safetensors and
ranking.onnx into BUNDLE (beside a retrieval model already there, or as a new bundle).

flags:
  --epochs N            passes over the training rows (default 10)
  --batch N             samples per step (default 256)
  --lr X                AdamW learning rate of the dense layers (default 0.001)
  --emb-lr X            row-wise Adagrad learning rate of the tables (default 0.05)
  --weight-decay X      AdamW weight decay on weights (default 0)
  --revenue-weight X    loss weight of the revenue regression (default 0.1)
  --cvr-weight X        loss weight of a direct CVR BCE on clicked rows beside ESMM's CTCVR
                        (default ${DEFAULT_CVR_WEIGHT})
  --dim D               embedding width (default 64; 16 on a CPU adapter)
  --bottom A,B          bottom MLP hidden widths; D is appended (default 512,256; 64 on a CPU adapter)
  --top A,B             shared top MLP widths (default 512,256; 64 on a CPU adapter)
  --tower A             per-task tower widths (default 64; 16 on a CPU adapter; "" for none)
  --interaction dot|cat (default dot)
  --seed N              initialization and shuffles (default 1): one seed, one set of weights
  --evals-per-epoch N   validation checks per epoch; the best weights are kept (default 4)
  --patience N          checks without a better validation score before stopping (default 4)
  --select ctr-auc|auc-mean|log-loss
                        the validation score: CTR AUC, the mean of CTR AUC and CVR AUC on clicked rows, or the
                        CTR + CTCVR log loss (default ${DEFAULT_SELECTION})
  --checkpoint-every N  also checkpoint every N steps (default 0: every epoch)
  --holdout F           without validation rows, the last F of train (by time) stops early (default 0.1)
  --calibration-holdout F
                        fit the heads' Platt calibration on the last F of train (by time), left out of training
                        and early stopping (default ${DEFAULT_CALIBRATION_HOLDOUT}: on the validation rows)
  --wide on|off         stack a logistic regression on the same inputs with each probability head, on the
                        calibration rows, where cross-fitting there says it helps (default on)
  --resume              continue from BUNDLE/checkpoint (the same flags; --epochs may grow)
  --json                print the training and evaluation summary as JSON on stdout
  --quiet               no progress bar
`;

function widths(value: string | undefined, name: string, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  if (value.trim() === '') return [];
  const out = value.split(',').map((v) => Number(v.trim()));
  if (!out.every((n) => Number.isInteger(n) && n > 0))
    throw new UsageError(`--${name} must be comma-separated positive integers, got '${value}'.`);
  return out;
}

/** The dataset's identity for checkpoints: its folder and creation time. */
function datasetId(data: { dir: string; createdAt: string }): string {
  return `${resolve(data.dir)}@${data.createdAt}`;
}

/** Builds the model config for a dataset's features and the architecture flags. */
export function rankingConfigFor(
  data: RankingData,
  arch: { dim: number; bottom: number[]; top: number[]; tower: number[]; interaction: 'dot' | 'cat' },
): RankingConfig {
  return {
    denseFeatures: data.features.dense,
    sparseFeatures: data.features.sparse,
    embeddingDim: arch.dim,
    bottomMlp: [...arch.bottom, arch.dim],
    topMlp: arch.top,
    towerMlp: arch.tower,
    interaction: arch.interaction,
    heads: data.tasks as RankingTask[],
  };
}

type Values = {
  [K in keyof typeof TRAIN_FLAGS]?: (typeof TRAIN_FLAGS)[K]['type'] extends 'boolean' ? boolean : string;
};

/** The architecture (per adapter size) and the fit options from the training flags; checks them all. */
function trainingChoices(values: Values): {
  shape: (small: boolean) => Parameters<typeof rankingConfigFor>[1];
  opts: FitOptions;
  calibrationShare: number;
  wide: boolean;
} {
  const interaction = values.interaction ?? 'dot';
  if (interaction !== 'dot' && interaction !== 'cat')
    throw new UsageError(`--interaction must be dot or cat, got '${interaction}'.`);
  const dim = values.dim;
  const shape = (small: boolean) => ({
    dim: numberFlag(dim, 'dim', small ? 16 : 64, { integer: true, min: 1, max: 1024 }),
    bottom: widths(values.bottom, 'bottom', small ? [64] : [512, 256]),
    top: widths(values.top, 'top', small ? [64] : [512, 256]),
    tower: widths(values.tower, 'tower', small ? [16] : [64]),
    interaction: interaction as 'dot' | 'cat',
  });
  shape(false); // check the flags before any work
  const select = (values.select ?? DEFAULT_SELECTION) as SelectionCriterion;
  if (!SELECTION_CRITERIA.includes(select))
    throw new UsageError(`--select must be one of ${SELECTION_CRITERIA.join(', ')}, got '${values.select}'.`);
  const opts: FitOptions = {
    epochs: numberFlag(values.epochs, 'epochs', 10, { integer: true, min: 1 }),
    batch: numberFlag(values.batch, 'batch', 256, { integer: true, min: 1, max: 65536 }),
    lr: numberFlag(values.lr, 'lr', 1e-3, { min: 0 }),
    embLr: numberFlag(values['emb-lr'], 'emb-lr', 0.05, { min: 0 }),
    weightDecay: numberFlag(values['weight-decay'], 'weight-decay', 0, { min: 0 }),
    revenueWeight: numberFlag(values['revenue-weight'], 'revenue-weight', 0.1, { min: 0 }),
    cvrWeight: numberFlag(values['cvr-weight'], 'cvr-weight', DEFAULT_CVR_WEIGHT, { min: 0 }),
    seed: numberFlag(values.seed, 'seed', 1, { integer: true, min: 0 }),
    evalsPerEpoch: numberFlag(values['evals-per-epoch'], 'evals-per-epoch', 4, { integer: true, min: 1 }),
    patience: numberFlag(values.patience, 'patience', 4, { integer: true, min: 1 }),
    select,
    checkpointEvery: numberFlag(values['checkpoint-every'], 'checkpoint-every', 0, { integer: true, min: 0 }),
    lossEvery: 10,
  };
  const calibrationShare = numberFlag(
    values['calibration-holdout'],
    'calibration-holdout',
    DEFAULT_CALIBRATION_HOLDOUT,
    { min: 0, max: 0.5 },
  );
  const wide = values.wide ?? 'on';
  if (wide !== 'on' && wide !== 'off') throw new UsageError(`--wide must be on or off, got '${values.wide}'.`);
  return { shape, opts, calibrationShare, wide: wide === 'on' };
}

/** True on a CPU adapter (SwiftShader, llvmpipe), where the small architecture is the default. */
function cpuAdapter(gpu: Gpu): boolean {
  return gpu.info.isFallbackAdapter || /swiftshader|llvmpipe/i.test(`${gpu.info.architecture} ${gpu.info.description}`);
}

/**
 * Trains the ranker on the training rows less the calibration slice (the latest `calibrationShare` of them), then
 * fits the Platt calibration of its heads on that slice and folds it into the weights: what `vireo train ranking`
 * writes and `vireo eval ranking --seeds` evaluates.
 */
async function trainCalibrated(
  gpu: Gpu,
  config: RankingConfig,
  data: RankingData,
  splits: ReturnType<typeof rankingSplits>,
  opts: FitOptions,
  calibrationShare: number,
  wide: boolean,
  io: Parameters<typeof fitRanking>[5],
) {
  const { fit: fitSplits, calibrate } = calibrationHoldout(data, splits, calibrationShare);
  const on: 'validation' | 'calibration' = fitSplits === splits ? 'validation' : 'calibration';
  // A checkpoint made with another slice trained on other rows: --resume must refuse it.
  const datasetId = `${io.datasetId}#calibration-holdout=${calibrationShare}`;
  const fit = await fitRanking(gpu, config, data, fitSplits, opts, { ...io, datasetId });
  // Platt scaling per probability head, folded into the heads' last layers: the bundle, the engine and the ONNX
  // export all carry the calibrated model.
  const calibrated = await calibrateHeads(
    gpu,
    config,
    fit.params,
    fit.tables,
    data,
    calibrate,
    wide ? { train: fitSplits.train, seed: opts.seed, log: io.log } : undefined,
  );
  for (const [task, c] of Object.entries(calibrated.calibration))
    io.log(
      `calibration ${task}: p = σ(${c.a.toFixed(3)}·z ${c.b >= 0 ? '+' : '−'} ${Math.abs(c.b).toFixed(3)}) on ` +
        `${c.rows} ${on} rows: ECE ${c.before.ece.toFixed(4)} → ${c.after.ece.toFixed(4)}, log loss ` +
        `${c.before.logLoss.toFixed(4)} → ${c.after.logLoss.toFixed(4)}`,
    );
  return {
    fit,
    config: calibrated.config,
    params: calibrated.params,
    calibration: calibrated.calibration,
    split: { fit: fitSplits.train.length, calibrate: calibrate.length, calibrateFrom: on },
  };
}

/**
 * `vireo train ranking --data DATASET --out BUNDLE [flags]`; returns the exit code.
 * @example await trainRanking(['--data', 'ds/', '--out', 'bundle/', '--epochs', '3']);
 */
export async function trainRanking(argv: string[], testing: { stopAfterSteps?: number } = {}): Promise<number> {
  const { values } = parseFlags(argv, TRAIN_FLAGS, 'vireo train ranking');
  if (values.help) {
    process.stdout.write(TRAIN_HELP);
    return 0;
  }
  if (!values.data) throw new UsageError('--data DATASET is required (a folder written by vireo ingest).');
  if (!values.out) throw new UsageError('--out BUNDLE is required (the bundle folder to write the ranker into).');
  outputFolder(values.out, '--out');
  const { shape, opts, calibrationShare, wide } = trainingChoices(values);
  const holdout = numberFlag(values.holdout, 'holdout', 0.1, { min: 0.01, max: 0.5 });
  const quiet = Boolean(values.quiet || values.json);
  const log = (line: string) => {
    if (!quiet) process.stderr.write(`${line}\n`);
  };

  const ds = loadDataset(values.data);
  const data = rankingData(ds);
  for (const note of data.notes) process.stderr.write(`vireo train ranking: ${note}\n`);
  const splits = rankingSplits(data, holdout);
  const gpu = await openGpu();
  try {
    // The DLRM shape (docs/ARCHITECTURE.md, "Training") on a GPU; on a CPU adapter (SwiftShader) a small model,
    // since a 512-256 MLP trains at a few samples per second there.
    const cpu = cpuAdapter(gpu);
    const config = rankingConfigFor(data, shape(cpu));
    log(
      `ranking ${ds.summary.name}: ${splits.train.length} train · ${splits.valid.length} valid ` +
        `(${splits.validFrom}) · ${splits.test.length} test rows; heads ` +
        `${config.heads.join(', ')}; ` +
        `${config.denseFeatures.length} dense, ${config.sparseFeatures.length} sparse features`,
    );
    log(
      `model: dim ${config.embeddingDim}, bottom ${denseWidthOf(config)}→${config.bottomMlp.join('→')}, ` +
        `${config.interaction} interaction, top [${config.topMlp.join(', ')}], towers ` +
        `[${config.towerMlp.join(', ')}]${cpu ? ' (small defaults on a CPU adapter)' : ''}`,
    );
    const {
      fit,
      config: served,
      params,
      calibration: calibrated,
      split,
    } = await trainCalibrated(gpu, config, data, splits, opts, calibrationShare, wide, {
      checkpointDir: join(values.out, 'checkpoint'),
      resume: Boolean(values.resume),
      quiet,
      datasetId: datasetId({ dir: ds.dir, createdAt: ds.summary.createdAt }),
      log,
      stopAfterSteps: testing.stopAfterSteps,
    });
    // The served model: the trained one with the wide term where calibration stacked it.
    const report = await evaluateRanking(gpu, served, params, fit.tables, data, splits, opts.seed);
    report.split.calibration = split;
    const onnx = rankingOnnx(served, params, fit.tables);
    const training = {
      bestEpoch: fit.bestEpoch,
      bestValidAuc: fit.bestValidAuc,
      epochs: fit.history,
      samplesPerSecond: fit.samplesPerSecond,
      steps: fit.steps,
      resumedFrom: fit.resumedFrom,
      adapter: gpu.info,
    };
    const manifest = await writeRankingBundle(values.out, {
      config: served,
      params,
      tables: fit.tables,
      onnx,
      spec: ds.spec,
      vocabularies: ds.vocabularies,
      name: ds.summary.name,
      trainingData: {
        dataset: ds.summary.name,
        source: ds.summary.source,
        split: report.split,
        labels: data.labelOf,
        options: opts,
      },
      metrics: { test: report, training, calibration: calibrated },
      items: ds.items,
    });
    if (values.json)
      process.stdout.write(
        JSON.stringify(
          {
            bundle: values.out,
            version: manifest.version,
            training,
            calibration: calibrated,
            evaluation: report,
          },
          null,
          2,
        ) + '\n',
      );
    else {
      process.stdout.write(`${formatReport(report)}\n`);
      process.stdout.write(
        `best epoch ${fit.bestEpoch} (valid AUC ${fit.bestValidAuc.toFixed(4)}), ` +
          `${fit.samplesPerSecond.toFixed(0)} training samples/s on ${gpu.info.description || gpu.info.vendor}\n`,
      );
      process.stdout.write(
        `wrote ${join(values.out, 'ranking.safetensors')}, ` +
          `ranking.onnx and manifest.json (${manifest.name}@${manifest.version})\n`,
      );
    }
    return 0;
  } finally {
    gpu.destroy();
  }
}

const EVAL_FLAGS = {
  ...TRAIN_FLAGS,
  bundle: { type: 'string' },
  seeds: { type: 'string' },
} as const;

export const EVAL_HELP = `usage: vireo eval ranking --bundle BUNDLE --data DATASET [--json]
       vireo eval ranking --data DATASET --seeds N [training flags] [--json]

Scores the dataset's time-split test rows with the bundle's ranker (through the WGSL forward) and
reports per task (ctr, ctcvr, cvr) AUC, log loss and ECE (${ECE_BINS} equal-width bins) beside the
constant rate, logistic regression (fitted in the same run on the same features and split, chosen on
the validation rows) and, on synthetic worlds, the oracle (the true probabilities); revenue as RMSE
of log1p revenue on conversions. Every metric comes with its bootstrap standard error
(${BOOTSTRAP_REPLICATES} resamples of the test rows).

With --seeds N it trains N rankers (seeds --seed, --seed+1, …; the flags of vireo train ranking,
calibrated as it does) instead of reading a bundle, and reports each metric as the mean ± sd over seeds.
`;

/** The metrics that --seeds averages, per row of the report. */
type SeedRow = Record<'auc' | 'logLoss' | 'ece' | 'eceDebiased', SeedStat>;
export interface RankingSeedsReport {
  seeds: number[];
  split: RankingReport['split'];
  /** `model.ctr`, `logistic.ctr`, `oracle.cvr`, …: mean ± sd over seeds. */
  rows: Record<string, SeedRow>;
  revenue: SeedStat | null;
  reports: RankingReport[];
}

/** Combines per-seed reports into mean ± sd per row, task and metric. */
export function combineRankingSeeds(reports: RankingReport[], seeds: number[]): RankingSeedsReport {
  const rows: Record<string, SeedRow> = {};
  const sources = (r: RankingReport) => ({ model: r.model, ...r.baselines }) as Record<string, Record<string, unknown>>;
  for (const [name, tasks] of Object.entries(sources(reports[0])))
    for (const task of ['ctr', 'ctcvr', 'cvr'])
      if (tasks[task]) {
        const of = (k: keyof SeedRow) => seedStat(reports.map((r) => (sources(r)[name][task] as TaskMetrics)[k]));
        rows[`${name}.${task}`] = {
          auc: of('auc'),
          logLoss: of('logLoss'),
          ece: of('ece'),
          eceDebiased: of('eceDebiased'),
        };
      }
  // No conversions among the test rows: nothing measured the revenue head (its RMSE is NaN), so no row for it.
  const revenue = reports[0].model.revenue?.rows ? seedStat(reports.map((r) => r.model.revenue!.rmseLog1p)) : null;
  return { seeds, split: reports[0].split, rows, revenue, reports };
}

/** The seeds report as lines for people. */
export function formatRankingSeeds(r: RankingSeedsReport): string {
  // One seed has no spread over seeds: its values alone (the run's report gives bootstrap SEs).
  const one = r.seeds.length === 1;
  const s = (x: SeedStat) => (one ? x.mean.toFixed(4) : `${x.mean.toFixed(4)} ± ${x.sd.toFixed(4)}`);
  const lines = [
    (one
      ? `one seed (${r.seeds[0]}): no spread over seeds (bootstrap SEs are in the seed's report); `
      : `${r.seeds.length} seeds (${r.seeds.join(', ')}), mean ± sd over seeds; `) +
      `test rows ${r.split.test}; ECE over ${ECE_BINS} equal-width bins; ` +
      'debiased ECE = ECE − the ECE calibrated predictions score by chance',
  ];
  for (const [name, m] of Object.entries(r.rows))
    lines.push(
      `${name.padEnd(15)} AUC ${s(m.auc)}  log loss ${s(m.logLoss)}  ECE ${s(m.ece)}  debiased ${s(m.eceDebiased)}`,
    );
  if (r.revenue) lines.push(`${'model.revenue'.padEnd(15)} RMSE log1p ${s(r.revenue)}`);
  return lines.join('\n');
}

/** `vireo eval ranking --data DATASET --seeds N [training flags]`: N trained seeds, mean ± sd. */
async function evalRankingSeeds(values: Values & { seeds?: string }, n: number): Promise<number> {
  const { shape, opts, calibrationShare, wide } = trainingChoices(values);
  const ds = loadDataset(values.data!);
  const data = rankingData(ds);
  for (const note of data.notes) process.stderr.write(`vireo eval ranking: ${note}\n`);
  const splits = rankingSplits(data, numberFlag(values.holdout, 'holdout', 0.1, { min: 0.01, max: 0.5 }));
  const quiet = Boolean(values.quiet || values.json);
  const log = (line: string) => {
    if (!quiet) process.stderr.write(`${line}\n`);
  };
  const seeds = Array.from({ length: n }, (_, i) => opts.seed + i);
  const reports: RankingReport[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'vireo-eval-ranking-'));
  const gpu = await openGpu();
  try {
    const config = rankingConfigFor(data, shape(cpuAdapter(gpu)));
    for (const seed of seeds) {
      log(`seed ${seed}:`);
      const run = { ...opts, seed };
      const {
        fit,
        config: served,
        params,
        split,
      } = await trainCalibrated(gpu, config, data, splits, run, calibrationShare, wide, {
        checkpointDir: join(dir, `seed-${seed}`),
        resume: false,
        quiet,
        datasetId: datasetId({ dir: ds.dir, createdAt: ds.summary.createdAt }),
        log,
      });
      const report = await evaluateRanking(gpu, served, params, fit.tables, data, splits, seed);
      report.split.calibration = split;
      log(formatReport(report));
      reports.push(report);
    }
  } finally {
    gpu.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  const combined = combineRankingSeeds(reports, seeds);
  if (values.json) process.stdout.write(JSON.stringify(combined, null, 2) + '\n');
  else process.stdout.write(`${formatRankingSeeds(combined)}\n`);
  return 0;
}

/**
 * `vireo eval ranking --bundle BUNDLE --data DATASET [--json]` (or `--data DATASET --seeds N [training flags]`);
 * returns the exit code.
 * @example await evalRanking(['--bundle', 'bundle/', '--data', 'ds/', '--json']);
 */
export async function evalRanking(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, EVAL_FLAGS, 'vireo eval ranking');
  if (values.help) {
    process.stdout.write(EVAL_HELP);
    return 0;
  }
  if (!values.data) throw new UsageError('--data DATASET is required (the dataset to evaluate on, as ingested).');
  if (values.seeds !== undefined) {
    if (values.bundle)
      throw new UsageError('--seeds trains its own rankers: give --seeds N or --bundle BUNDLE, not both.');
    return evalRankingSeeds(values, numberFlag(values.seeds, 'seeds', 1, { integer: true, min: 1, max: 100 }));
  }
  if (!values.bundle)
    throw new UsageError(
      '--bundle BUNDLE is required (a folder with manifest.json and ranking.safetensors), or --seeds N to train.',
    );
  const trainOnly = Object.keys(TRAIN_FLAGS).filter(
    (k) => !['data', 'seed', 'holdout', 'json', 'help', 'quiet'].includes(k) && values[k as keyof Values] !== undefined,
  );
  if (trainOnly.length)
    throw new UsageError(`--${trainOnly[0]} is a training flag: it applies with --seeds N, not to a --bundle.`);
  const { config, params, tables } = await loadRankingBundle(values.bundle);
  const ds = loadDataset(values.data);
  const features = rankingFeatures(ds.spec, ds.vocabularies);
  const want = JSON.stringify({ dense: config.denseFeatures, sparse: config.sparseFeatures });
  if (JSON.stringify(features) !== want) {
    throw new UsageError(
      `the ranker in ${values.bundle} was trained on other features than ${values.data} ` +
        `has (its tables or vocabularies differ); evaluate it on the dataset it was trained on.`,
    );
  }
  const data = rankingData(ds);
  const splits = rankingSplits(data, numberFlag(values.holdout, 'holdout', 0.1, { min: 0.01, max: 0.5 }));
  const gpu = await openGpu();
  let report: RankingReport;
  try {
    report = await evaluateRanking(
      gpu,
      config,
      params,
      tables,
      data,
      splits,
      numberFlag(values.seed, 'seed', 1, { integer: true, min: 0 }),
    );
  } finally {
    gpu.destroy();
  }
  if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(`${formatReport(report)}\n`);
  return 0;
}
