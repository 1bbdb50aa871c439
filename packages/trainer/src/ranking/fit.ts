// The ranker's training loop: seeded initialization, seeded shuffles per epoch, one RankingStep
// per batch, validation AUC several times an epoch with early stopping on it (click models
// overfit within an epoch or two: their embeddings memorise), checkpoints (at every evaluation
// and every N steps) that --resume continues from with the same bits, and NaN detection.
//
// Determinism: the initial weights come from rng.fork('init'), epoch e's order from
// rng.fork(`epoch-${e}`), and every kernel is free of float atomics, so one seed gives the same
// weights on every run — also across an interruption and --resume, since a checkpoint holds all
// state (weights, Adam moments, Adagrad accumulators, Adam's step, position in the epoch).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { auc, createRng, logLoss, readSafetensors, writeSafetensors, type Tensor } from '@vireo/core';
import { RankingModel, rankingParameters, sparseWidth, WIDE_WEIGHT, type RankingConfig } from '@vireo/models';
import type { Gpu } from '@vireo/kernels';
import { progress } from '../cli/progress.ts';
import { UsageError } from '../cli/args.ts';
import { gatherBatch, type RankingData, type RankingSplits } from './data.ts';
import { RankingStep, type RankingHyper } from '@vireo/models/training';

/** Everything that shapes a run (stored in checkpoints; --resume refuses a different one). */
export interface FitOptions extends RankingHyper {
  epochs: number;
  batch: number;
  seed: number;
  /** Validation AUC evaluations per epoch (the best weights are kept, so more catch the best moment). */
  evalsPerEpoch: number;
  /** Evaluations without a better validation score before stopping. */
  patience: number;
  /** What the validation score is (selectionScore; docs/ARCHITECTURE.md §4, "Which snapshot"). */
  select: SelectionCriterion;
  /** Write a checkpoint every N steps as well as every epoch (0: epochs only). */
  checkpointEvery: number;
  /** Read the loss back (and check it for NaN) every N steps. */
  lossEvery: number;
}

/**
 * Early-stopping criteria: `ctr-auc` the click AUC; `auc-mean` the mean of the click AUC and the cvr head's AUC on the
 * clicked rows; `log-loss` minus the sum of the click and ctcvr (pCTR·pCVR against conversion) log losses.
 */
export type SelectionCriterion = 'ctr-auc' | 'auc-mean' | 'log-loss';
export const SELECTION_CRITERIA: readonly SelectionCriterion[] = ['ctr-auc', 'auc-mean', 'log-loss'];
/** The trainer's weight of the direct cvr loss (RankingHyper.cvrWeight; docs/ARCHITECTURE.md §4, "Which snapshot"). */
export const DEFAULT_CVR_WEIGHT = 0;
/** `vireo train ranking`'s and the refresh's criterion (docs/ARCHITECTURE.md §4, "Which snapshot"). */
export const DEFAULT_SELECTION: SelectionCriterion = 'ctr-auc';

/**
 * The validation score (higher is better) of predictions pCtr, pCvr on rows with labels click and conversion.
 * Without a cvr head (pCvr null) every criterion is its click part.
 */
export function selectionScore(
  criterion: SelectionCriterion,
  y: { click: ArrayLike<number>; conversion: ArrayLike<number> },
  pCtr: ArrayLike<number>,
  pCvr: ArrayLike<number> | null,
): number {
  if (criterion === 'log-loss') {
    const loss = logLoss(y.click, pCtr);
    if (!pCvr) return -loss;
    const ctcvr = Float64Array.from(pCtr, (p, i) => p * pCvr[i]);
    return -(loss + logLoss(y.conversion, ctcvr));
  }
  const ctr = auc(y.click, pCtr);
  if (criterion === 'ctr-auc' || !pCvr) return ctr;
  const clicked: number[] = [];
  for (let i = 0; i < y.click.length; i++) if (y.click[i] > 0.5) clicked.push(i);
  const cvr = auc(
    clicked.map((i) => y.conversion[i]),
    clicked.map((i) => pCvr[i]),
  );
  return (ctr + (Number.isFinite(cvr) ? cvr : 0.5)) / 2;
}

/** One validation point: `epoch` is fractional (epochs trained so far); loss is since the last point. */
export interface EpochRecord {
  epoch: number;
  loss: [number, number, number];
  validAuc: number;
  /** The early-stopping criterion's score (selectionScore). */
  validScore: number;
  samplesPerSecond: number;
  seconds: number;
}

export interface FitResult {
  params: Float32Array;
  tables: Float32Array[];
  /** Epochs trained (fractional) when the kept weights (best validation score) were taken. */
  bestEpoch: number;
  /** The kept weights' validation CTR AUC. */
  bestValidAuc: number;
  history: EpochRecord[];
  /** Training throughput over the whole run (samples through forward + backward + update). */
  samplesPerSecond: number;
  steps: number;
  resumedFrom: { epoch: number; step: number } | null;
}

/** Training stopped because the loss stopped being a number. */
export class DivergedError extends UsageError {
  constructor(message: string) {
    super(message, 1);
    this.name = 'DivergedError';
  }
}

/** Thrown by the `stopAfterSteps` test seam: a run cut short right after a checkpoint, as a crash would. */
export class InterruptedError extends Error {
  constructor(readonly steps: number) {
    super(`training interrupted after ${steps} steps (stopAfterSteps)`);
    this.name = 'InterruptedError';
  }
}

/**
 * Seeded initial weights: weights N(0, √(2/(K+N))) as DLRM, biases 0 except the output layers',
 * set to the training set's prior (logit of the click rate, of the conversion rate among clicks,
 * the mean log1p revenue of conversions); tables U(±√(1/R)) as DLRM.
 */
export function initialWeights(
  c: RankingConfig,
  seed: number,
  prior: { ctr: number; cvr: number; revenue: number },
): { params: Float32Array; tables: Float32Array[] } {
  const rng = createRng(seed).fork('init');
  const { entries, total } = rankingParameters(c);
  const params = new Float32Array(total);
  for (const e of entries) {
    if (e.name.endsWith('.weight') && e.name !== WIDE_WEIGHT) {
      const [N, K] = e.shape;
      const std = Math.sqrt(2 / (N + K));
      for (let i = 0; i < e.size; i++) params[e.offset + i] = rng.normal() * std;
    }
  }
  const logit = (p: number) => Math.log(Math.min(0.999, Math.max(1e-3, p)) / (1 - Math.min(0.999, Math.max(1e-3, p))));
  for (const task of c.heads) {
    const bias = entries.find((e) => e.name === `tower.${task}.${c.towerMlp.length}.bias`)!;
    params[bias.offset] = task === 'revenue' ? prior.revenue : logit(prior[task]);
  }
  const tables = c.sparseFeatures.map((f) => {
    const t = new Float32Array(f.rows * c.embeddingDim);
    const a = Math.sqrt(1 / f.rows);
    for (let i = 0; i < t.length; i++) t[i] = (rng.next() * 2 - 1) * a;
    return t;
  });
  return { params, tables };
}

/** The priors of initialWeights from the training rows. */
export function labelPriors(data: RankingData, rows: ArrayLike<number>): { ctr: number; cvr: number; revenue: number } {
  let clicks = 0;
  let conversions = 0;
  let revenue = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    clicks += data.labels[r * 3];
    if (data.labels[r * 3 + 1] > 0.5) {
      conversions++;
      revenue += Math.log1p(data.labels[r * 3 + 2]);
    }
  }
  return {
    ctr: clicks / Math.max(1, rows.length),
    cvr: conversions / Math.max(1, clicks),
    revenue: conversions ? revenue / conversions : 0,
  };
}

/** Scores rows through the model's WGSL forward: (rows, 3) = pCtr, pCvr, log1p revenue. */
export async function scoreRows(
  model: RankingModel,
  data: RankingData,
  rows: ArrayLike<number>,
): Promise<Float32Array> {
  const c = model.config;
  const Nd = c.denseFeatures.length;
  const S = sparseWidth(c);
  const n = rows.length;
  const B = model.maxBatch;
  const batch = { dense: new Float32Array(B * Nd), sparse: new Int32Array(B * S), labels: new Float32Array(B * 3) };
  const out = new Float32Array(n * 3);
  for (let start = 0; start < n; start += B) {
    const b = Math.min(B, n - start);
    gatherBatch(data, rows, start, b, batch);
    out.set(
      await model.score(Nd ? batch.dense.subarray(0, b * Nd) : null, batch.sparse.subarray(0, b * S), b),
      start * 3,
    );
  }
  return out;
}

/** CTR AUC of scores (rows, 3) against the rows' click labels. */
export function ctrAuc(data: RankingData, rows: ArrayLike<number>, scores: Float32Array): number {
  const y = new Float32Array(rows.length);
  const p = new Float32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    y[i] = data.labels[rows[i] * 3];
    p[i] = scores[i * 3];
  }
  return auc(y, p);
}

interface CheckpointMeta {
  format: 'vireo-ranking-checkpoint';
  config: RankingConfig;
  options: FitOptions;
  dataset: string;
  /** Next position: epoch (0-based) and step within it. */
  epoch: number;
  stepInEpoch: number;
  adamStep: number;
  bestEpoch: number;
  bestValidAuc: number;
  bestScore: number;
  evalsWithoutGain: number;
  history: EpochRecord[];
  /** Loss sums of the epoch in progress. */
  partial: { loss: [number, number, number]; reads: number; samples: number; seconds: number };
}

function sameShape(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Options added after checkpoints were first written, with the values those checkpoints trained with. */
const OLDER_CHECKPOINTS: Partial<FitOptions> = { select: 'ctr-auc', ctcvrWeight: 1, cvrWeight: 0 };

/**
 * A checkpoint's stored options with what an older checkpoint did not store filled in as it trained (only the
 * options this run has), so that `--resume` accepts a checkpoint written before an option existed.
 */
export function checkpointOptions(saved: Partial<FitOptions>, mine: FitOptions): Partial<FitOptions> {
  const filled: Record<string, unknown> = { ...saved };
  for (const [key, value] of Object.entries(OLDER_CHECKPOINTS))
    if (key in mine && !(key in filled)) filled[key] = value;
  return filled as Partial<FitOptions>;
}

/**
 * Trains the ranker on `splits.train`, early-stopping on `splits.valid`; checkpoints go to
 * `checkpointDir` and `resume` continues from the last one there.
 */
export async function fitRanking(
  gpu: Gpu,
  config: RankingConfig,
  data: RankingData,
  splits: RankingSplits,
  opts: FitOptions,
  io: {
    checkpointDir: string;
    resume: boolean;
    quiet: boolean;
    datasetId: string;
    log: (line: string) => void;
    stopAfterSteps?: number;
    /** Weights to start from instead of the seeded ones (a warm start: refresh/warm.ts). */
    init?: { params: Float32Array; tables: Float32Array[] };
    /** Called at every validation point with the current weights loaded (a study seam: bench/calibration-study.ts). */
    onEval?: (model: RankingModel, record: EpochRecord) => Promise<void>;
  },
): Promise<FitResult> {
  const nTrain = splits.train.length;
  const B = Math.min(opts.batch, nTrain);
  const stepsPerEpoch = Math.floor(nTrain / B);
  const model = await RankingModel.create(gpu, config, { maxBatch: B });
  const step = await RankingStep.create(gpu, model, opts);
  const Nd = config.denseFeatures.length;
  const S = sparseWidth(config);
  const batch = { dense: new Float32Array(B * Nd), sparse: new Int32Array(B * S), labels: new Float32Array(B * 3) };
  const ckptPath = join(io.checkpointDir, 'ranking.ckpt.safetensors');
  const bestPath = join(io.checkpointDir, 'ranking.best.safetensors');

  let meta: CheckpointMeta = {
    format: 'vireo-ranking-checkpoint',
    config,
    options: opts,
    dataset: io.datasetId,
    epoch: 0,
    stepInEpoch: 0,
    adamStep: 0,
    bestEpoch: 0,
    bestValidAuc: -Infinity,
    bestScore: -Infinity,
    evalsWithoutGain: 0,
    history: [],
    partial: { loss: [0, 0, 0], reads: 0, samples: 0, seconds: 0 },
  };
  let best: { params: Float32Array; tables: Float32Array[] };
  let resumedFrom: FitResult['resumedFrom'] = null;

  if (io.resume) {
    if (!existsSync(ckptPath))
      throw new UsageError(`--resume: there is no checkpoint at ${ckptPath}; start without --resume.`);
    const ck = readSafetensors(readFileSync(ckptPath));
    const saved = JSON.parse(ck.metadata.meta) as CheckpointMeta;
    const { epochs: _a, ...mine } = opts;
    const { epochs: _b, ...theirs } = checkpointOptions(saved.options, opts);
    if (saved.dataset !== io.datasetId || !sameShape(saved.config, config) || !sameShape(mine, theirs)) {
      throw new UsageError(
        `--resume: the checkpoint in ${io.checkpointDir} was made with other data, ` +
          `architecture or flags (only --epochs may change); start a new --out or drop --resume.`,
      );
    }
    // A checkpoint from before the criterion was an option selected on the click AUC.
    meta = { ...saved, bestScore: saved.bestScore ?? saved.bestValidAuc, options: opts };
    const t = (name: string) => ck.tensors.get(name)!.data as Float32Array;
    model.writeWeights(
      t('params'),
      config.sparseFeatures.map((_, f) => t(`table.${f}`)),
    );
    step.writeState({
      m: t('adam.m'),
      v: t('adam.v'),
      acc: model.shards.map((_, s) => t(`adagrad.acc.${s}`)),
      step: saved.adamStep,
    });
    const b = readSafetensors(readFileSync(bestPath));
    best = {
      params: b.tensors.get('params')!.data as Float32Array,
      tables: config.sparseFeatures.map((_, f) => b.tensors.get(`table.${f}`)!.data as Float32Array),
    };
    resumedFrom = { epoch: meta.epoch + 1, step: meta.stepInEpoch };
    io.log(`resuming from ${ckptPath}: epoch ${meta.epoch + 1}, step ${meta.stepInEpoch} of ${stepsPerEpoch}`);
  } else {
    const init = io.init ?? initialWeights(config, opts.seed, labelPriors(data, splits.train));
    model.writeWeights(init.params, init.tables);
    best = init;
  }
  mkdirSync(io.checkpointDir, { recursive: true });

  const writeAtomically = (path: string, bytes: Uint8Array) => {
    writeFileSync(`${path}.tmp`, bytes);
    renameSync(`${path}.tmp`, path);
  };
  const saveBest = () => {
    const tensors: Record<string, Tensor> = {
      params: { dtype: 'F32', shape: [best.params.length], data: best.params },
    };
    best.tables.forEach((t, f) => (tensors[`table.${f}`] = { dtype: 'F32', shape: [t.length], data: t }));
    writeAtomically(bestPath, writeSafetensors(tensors));
  };
  const checkpoint = async (partial = meta.partial) => {
    const w = await model.readWeights();
    const state = await step.readState();
    const tensors: Record<string, Tensor> = {
      params: { dtype: 'F32', shape: [w.params.length], data: w.params },
      'adam.m': { dtype: 'F32', shape: [state.m.length], data: state.m },
      'adam.v': { dtype: 'F32', shape: [state.v.length], data: state.v },
    };
    w.tables.forEach((t, f) => (tensors[`table.${f}`] = { dtype: 'F32', shape: [t.length], data: t }));
    state.acc.forEach((a, s) => (tensors[`adagrad.acc.${s}`] = { dtype: 'F32', shape: [a.length], data: a }));
    meta.adamStep = step.step;
    writeAtomically(ckptPath, writeSafetensors(tensors, { meta: JSON.stringify({ ...meta, partial }) }));
  };
  if (!io.resume) saveBest();

  const totalSteps = opts.epochs * stepsPerEpoch;
  const bar = progress('train ranking', totalSteps, { quiet: io.quiet });
  let doneSteps = meta.epoch * stepsPerEpoch + meta.stepInEpoch;
  let runSamples = 0;
  let runSeconds = 0;

  const evalEvery = Math.max(1, Math.ceil(stepsPerEpoch / opts.evalsPerEpoch));
  let stop = meta.evalsWithoutGain >= opts.patience;
  for (let epoch = meta.epoch; epoch < opts.epochs && !stop; epoch++) {
    const order = createRng(opts.seed).fork(`epoch-${epoch}`).shuffle(Uint32Array.from(splits.train));
    let segmentStart = performance.now();
    for (let s = meta.stepInEpoch; s < stepsPerEpoch && !stop; s++) {
      gatherBatch(data, order, s * B, B, batch);
      step.run(Nd ? batch.dense : null, batch.sparse, batch.labels, B);
      meta.partial.samples += B;
      doneSteps++;
      meta.stepInEpoch = s + 1;
      const atEval = (s + 1) % evalEvery === 0 || s + 1 === stepsPerEpoch;
      if ((s + 1) % opts.lossEvery === 0 || atEval) {
        const loss = await step.readLoss(B);
        if (!loss.every(Number.isFinite)) {
          throw new DivergedError(
            `training diverged: the loss is ${loss.map((l) => l.toPrecision(4)).join(' / ')} at epoch ` +
              `${epoch + 1} step ${s + 1}; lower --lr or --emb-lr and ` +
              `start again (the last good checkpoint is in ${io.checkpointDir}).`,
          );
        }
        for (let t = 0; t < 3; t++) meta.partial.loss[t] += loss[t];
        meta.partial.reads++;
        const seconds = meta.partial.seconds + (performance.now() - segmentStart) / 1000;
        bar.update(doneSteps, {
          epoch: epoch + 1,
          loss: loss[0] + loss[1] + loss[2],
          'samples/s': meta.partial.samples / Math.max(1e-9, seconds),
        });
      }
      if (atEval) {
        // Validation: keep the best weights; stop after `patience` evaluations without a gain.
        await gpu.idle();
        const seconds = meta.partial.seconds + (performance.now() - segmentStart) / 1000;
        runSeconds += seconds;
        runSamples += meta.partial.samples;
        const scores = await scoreRows(model, data, splits.valid);
        const validAuc = ctrAuc(data, splits.valid, scores);
        const nv = splits.valid.length;
        const validScore = selectionScore(
          opts.select,
          {
            click: Float32Array.from(splits.valid, (r) => data.labels[r * 3]),
            conversion: Float32Array.from(splits.valid, (r) => data.labels[r * 3 + 1]),
          },
          Float32Array.from({ length: nv }, (_, i) => scores[i * 3]),
          config.heads.includes('cvr') ? Float32Array.from({ length: nv }, (_, i) => scores[i * 3 + 1]) : null,
        );
        const reads = Math.max(1, meta.partial.reads);
        const record: EpochRecord = {
          epoch: Number((epoch + (s + 1) / stepsPerEpoch).toFixed(3)),
          loss: meta.partial.loss.map((l) => l / reads) as [number, number, number],
          validAuc,
          validScore,
          samplesPerSecond: meta.partial.samples / Math.max(1e-9, seconds),
          seconds,
        };
        meta.history.push(record);
        await io.onEval?.(model, record);
        if (validScore > meta.bestScore || !Number.isFinite(meta.bestScore)) {
          meta.bestScore = validScore;
          meta.bestValidAuc = validAuc;
          meta.bestEpoch = record.epoch;
          meta.evalsWithoutGain = 0;
          best = await model.readWeights();
          saveBest();
        } else meta.evalsWithoutGain++;
        stop = meta.evalsWithoutGain >= opts.patience;
        const losses = ['ctr', 'ctcvr', 'revenue']
          .map((t, i) => `${t} ${record.loss[i].toFixed(4)}`)
          .filter((_, i) => i === 0 || config.heads.includes(i === 1 ? 'cvr' : 'revenue'));
        io.log(
          `epoch ${record.epoch}: train loss ${losses.join(', ')}; valid CTR AUC ` +
            `${validAuc.toFixed(4)}` +
            (opts.select === 'ctr-auc' ? '' : `, ${opts.select} ${validScore.toFixed(4)}`) +
            `; ${record.samplesPerSecond.toFixed(0)} samples/s`,
        );
        meta.partial = { loss: [0, 0, 0], reads: 0, samples: 0, seconds: 0 };
        if (s + 1 === stepsPerEpoch) {
          meta.epoch = epoch + 1;
          meta.stepInEpoch = 0;
        }
        await checkpoint();
        segmentStart = performance.now();
      } else if (opts.checkpointEvery > 0 && (s + 1) % opts.checkpointEvery === 0) {
        const paused = performance.now();
        await checkpoint({ ...meta.partial, seconds: meta.partial.seconds + (paused - segmentStart) / 1000 });
        segmentStart += performance.now() - paused; // checkpoint time is not training time
      } else continue;
      if (io.stopAfterSteps !== undefined && doneSteps >= io.stopAfterSteps) throw new InterruptedError(doneSteps);
    }
  }
  bar.finish({ 'best epoch': meta.bestEpoch, 'valid AUC': meta.bestValidAuc });
  const result: FitResult = {
    params: best.params,
    tables: best.tables,
    bestEpoch: meta.bestEpoch,
    bestValidAuc: meta.bestValidAuc,
    history: meta.history,
    samplesPerSecond: runSamples / Math.max(1e-9, runSeconds),
    steps: doneSteps,
    resumedFrom,
  };
  step.destroy();
  model.destroy();
  return result;
}
