// `vireo train retrieval`: the training loop. Examples are shuffled per epoch from (seed, epoch);
// user-id dropout draws from (seed, epoch) too, so an epoch's batches depend on nothing else. A
// checkpoint after every epoch holds the weights, the optimizer state and the step count:
// `--resume` continues from it to the same bits as an uninterrupted run. The loss of every step
// is read back; a non-finite loss stops the run naming the step and the parameter that went bad.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRng, readSafetensors, writeSafetensors, type Tensor } from '@vireo/core';
import { RetrievalWeights, retrievalParamLayout, tableFields, type RetrievalConfig } from '@vireo/models';
import type { Gpu } from '@vireo/kernels';
import { UsageError } from '../cli/args.ts';
import { progress } from '../cli/progress.ts';
import { loadDataset, type Dataset } from '../ingest/index.ts';
import { contextRows, itemLogQ, trainingExamples, userEvents, type Examples, type UserEvents } from './data.ts';
import {
  readBundle,
  initialWeights,
  warmStart,
  type WarmStartReport,
  RetrievalTraining,
  type RetrievalHyper,
} from '@vireo/models/training';
import { FeatureReader, retrievalConfig, type RetrievalShape } from './features.ts';

/** Everything a training run is configured by. */
export interface TrainRetrievalOptions {
  data: string;
  out: string;
  epochs: number;
  batch: number;
  shape: RetrievalShape;
  hyper: Omit<RetrievalHyper, 'temperature'>;
  seed: number;
  /** Probability of leaving a training example's user:id out. */
  userIdDropout: number;
  /** Strength α of the logQ correction: logits less α·log q(item) (0: none, 1: the full correction, the default). */
  logqStrength?: number;
  resume: boolean;
  /** A previous bundle to start from. */
  initFrom?: string;
  quiet: boolean;
  /** Stop after this many steps in total (benchmarks and tests). */
  maxSteps?: number;
  /**
   * The order ablation: every training example reads its history in a random order (seeded), so that whatever the
   * model gains from order is lost; evaluation still reads the true order.
   */
  shuffleHistory?: boolean;
}

/** A training run that diverged: one sentence naming the step and the parameter. */
export class TrainingDivergedError extends UsageError {
  constructor(message: string) {
    super(message, 1);
    this.name = 'TrainingDivergedError';
  }
}

/** Opens a dataset folder; a missing or broken one is one sentence (exit 2). */
export function openDataset(dir: string): Dataset {
  if (!existsSync(dir))
    throw new UsageError(`--data ${dir} does not exist: point it at a folder written by vireo ingest.`);
  try {
    return loadDataset(dir);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The data a run trains on, derived once from the dataset. */
export interface RetrievalData {
  ds: Dataset;
  config: RetrievalConfig;
  reader: FeatureReader;
  events: UserEvents;
  context: Int32Array;
  examples: Examples;
  logq: Float32Array;
}

export function retrievalData(ds: Dataset, shape: RetrievalShape): RetrievalData {
  const config = retrievalConfig(ds, shape);
  const events = userEvents(ds);
  const context = contextRows(ds);
  const examples = trainingExamples(ds, events, context);
  return { ds, config, reader: new FeatureReader(ds, config), events, context, examples, logq: itemLogQ(ds, examples) };
}

/** The checkpoint file of an output folder. */
export function checkpointPath(out: string): string {
  return join(out, 'checkpoint.safetensors');
}

/** The flags a checkpoint must agree with to be resumed (everything but epochs and output). */
function runIdentity(o: TrainRetrievalOptions, config: RetrievalConfig): string {
  return JSON.stringify({
    data: o.data,
    batch: o.batch,
    shape: o.shape,
    hyper: o.hyper,
    seed: o.seed,
    userIdDropout: o.userIdDropout,
    // Only when set, so that checkpoints written before the flag resume.
    ...(o.logqStrength !== undefined && o.logqStrength !== 1 ? { logqStrength: o.logqStrength } : {}),
    shuffleHistory: o.shuffleHistory ?? false,
    initFrom: o.initFrom ?? null,
    tableRows: config.tableRows,
  });
}

function writeAtomically(path: string, bytes: Uint8Array): void {
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
}

/** Per-epoch record of a run. */
export interface EpochLog {
  epoch: number;
  steps: number;
  loss: number;
  seconds: number;
  samplesPerSecond: number;
}

export interface TrainRetrievalResult {
  data: RetrievalData;
  training: RetrievalTraining;
  epochs: EpochLog[];
  /** Mean loss of each of the first and last 20 steps of the run (a quick check that it learns). */
  firstLoss: number;
  lastLoss: number;
  warmStart: WarmStartReport | null;
  resumedFromEpoch: number;
}

/** Reads a bundle's retrieval weights, config and vocabularies (for --init-from), checking every sha256. */
export async function readBundleWeights(
  dir: string,
): Promise<{ config: RetrievalConfig; vocabularies: Record<string, string[]>; tensors: Map<string, Tensor> }> {
  const bundle = await readBundle(dir, '--init-from');
  return { config: bundle.config, vocabularies: bundle.manifest.vocabularies, tensors: bundle.weights };
}

/** Names the first dense tensor or table field holding a non-finite value, or null. */
export function firstNonFinite(config: RetrievalConfig, params: Float32Array, table: Float32Array): string | null {
  const bad = (a: Float32Array, from: number, to: number) => {
    for (let i = from; i < to; i++) if (!Number.isFinite(a[i])) return true;
    return false;
  };
  for (const e of retrievalParamLayout(config).entries) if (bad(params, e.offset, e.offset + e.size)) return e.name;
  const W = config.fieldDim;
  for (const f of tableFields(config))
    if (bad(table, f.offset * W, (f.offset + f.rows) * W)) return `embeddings.${f.name}`;
  return null;
}

/**
 * Trains (or resumes) a retrieval model on `gpu` and leaves the trained state on it; the caller
 * exports it (bundle.ts) and destroys `result.training`. `label` names the progress bar.
 */
export async function trainRetrievalModel(
  gpu: Gpu,
  o: TrainRetrievalOptions,
  log: (line: string) => void = () => {},
  dataset?: Dataset,
  label = 'train retrieval',
): Promise<TrainRetrievalResult> {
  const data = retrievalData(dataset ?? openDataset(o.data), o.shape);
  const { config, examples, reader, events } = data;
  const alpha = o.logqStrength ?? 1;
  const logq = alpha === 1 ? data.logq : data.logq.map((q) => alpha * q);
  const B = o.batch;
  if (examples.count < B)
    throw new UsageError(
      `${o.data} has ${examples.count} training positives, fewer than one batch (--batch ${B}): lower --batch.`,
    );
  const stepsPerEpoch = Math.floor(examples.count / B);
  const hyper: RetrievalHyper = { ...o.hyper, temperature: o.shape.temperature };

  let weights = initialWeights(config, o.seed);
  let warm: WarmStartReport | null = null;
  if (o.initFrom) {
    const previous = await readBundleWeights(o.initFrom);
    try {
      warm = warmStart(config, data.ds.vocabularies, weights, previous);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    log(
      `warm start from ${o.initFrom}: ${warm.dense} dense tensors, ` +
        `${warm.rowsCopied} table rows copied, ${warm.rowsNew} new rows`,
    );
  }
  const identity = runIdentity(o, config);
  let startEpoch = 0;
  let state: { m: Float32Array; v: Float32Array; tableAcc: Float32Array; step: number } | null = null;
  if (o.resume) {
    const path = checkpointPath(o.out);
    if (!existsSync(path))
      throw new UsageError(`--resume: ${path} does not exist; run without --resume to start from scratch.`);
    const { tensors, metadata } = readSafetensors(readFileSync(path));
    if (metadata.run !== identity)
      throw new UsageError(
        `--resume: ${path} was written by a run with other flags ` +
          `or data; use the same flags, or start again without --resume.`,
      );
    const f32 = (name: string) => tensors.get(name)!.data as Float32Array;
    weights = { params: f32('params'), table: f32('table') };
    state = { m: f32('adam.m'), v: f32('adam.v'), tableAcc: f32('table.acc'), step: Number(metadata.step) };
    startEpoch = Number(metadata.epoch);
    log(`resuming after epoch ${startEpoch} (step ${state.step})`);
  }
  mkdirSync(o.out, { recursive: true });

  const w = RetrievalWeights.create(gpu, config);
  gpu.write(w.params, weights.params);
  gpu.write(w.table, weights.table);
  const training = await RetrievalTraining.create(gpu, config, B, hyper, (row, f) => reader.item(row, f), w, logq);
  if (state) training.writeState(state);

  const epochs: EpochLog[] = [];
  const losses: number[] = [];
  const totalSteps = Math.min(o.maxSteps ?? Infinity, (o.epochs - startEpoch) * stepsPerEpoch);
  const bar = progress(label, totalSteps, { quiet: o.quiet });
  const logqBatch = new Float32Array(B);
  const idsBatch = new Uint32Array(B);
  let done = 0;
  const started = performance.now();
  for (let epoch = startEpoch; epoch < o.epochs && done < totalSteps; epoch++) {
    const order = createRng(o.seed)
      .fork(`epoch:${epoch}`)
      .shuffle(Int32Array.from({ length: examples.count }, (_, i) => i));
    const dropout = createRng(o.seed).fork(`dropout:${epoch}`);
    const shuffler = createRng(o.seed).fork(`history:${epoch}`);
    const t0 = performance.now();
    let sum = 0;
    let steps = 0;
    for (let s = 0; s < stepsPerEpoch && done < totalSteps; s++) {
      const batch = order.subarray(s * B, (s + 1) * B);
      training.item.set(B, (b, f) => reader.item(examples.item[batch[b]], f));
      training.setUsers(B, (b) => {
        const e = batch[b];
        const u = examples.user[e];
        const fields = reader.user(u, examples.context[e], examples.ts[e]);
        const dropUserId = dropout.next() < o.userIdDropout;
        if (o.shuffleHistory) {
          const order = shuffler.shuffle(
            Int32Array.from({ length: examples.historyEnd[e] - events.start[u] }, (_, i) => i),
          );
          const from = events.start[u];
          return {
            fields,
            history: Int32Array.from(order, (i) => events.items[from + i]),
            historyLabels: Uint8Array.from(order, (i) => events.positive[from + i]),
            dropUserId,
          };
        }
        return {
          fields,
          history: events.items,
          historyLabels: events.positive,
          historyStart: events.start[u],
          historyEnd: examples.historyEnd[e],
          dropUserId,
        };
      });
      for (let b = 0; b < B; b++) {
        const item = examples.item[batch[b]];
        logqBatch[b] = logq[item];
        idsBatch[b] = item;
      }
      training.run({ logq: logqBatch, ids: idsBatch });
      const loss = await training.readLoss();
      if (!Number.isFinite(loss)) {
        // The update has not run: the weights are those the bad loss came from.
        const now = await training.weights.read();
        const param = firstNonFinite(config, now.params, now.table);
        const grad = param ? null : firstNonFinite(config, await training.readGrads(), new Float32Array(0));
        const why = param
          ? ` and '${param}' holds non-finite values`
          : grad
            ? ` and the gradient of '${grad}' is non-finite`
            : ' (the forward overflowed)';
        throw new TrainingDivergedError(
          `training diverged at step ${training.step} (epoch ${epoch + 1}): the ` +
            `loss is ${loss}${why}; lower --lr / --table-lr or raise --temperature.`,
        );
      }
      training.update();
      losses.push(loss);
      sum += loss;
      steps++;
      done++;
      const elapsed = (performance.now() - started) / 1000;
      bar.update(done, { epoch: epoch + 1, loss, 'samples/s': (done * B) / Math.max(elapsed, 1e-9) });
    }
    const seconds = (performance.now() - t0) / 1000;
    epochs.push({
      epoch: epoch + 1,
      steps,
      loss: sum / Math.max(1, steps),
      seconds,
      samplesPerSecond: (steps * B) / Math.max(seconds, 1e-9),
    });
    if (steps === stepsPerEpoch) {
      const now = await training.weights.read();
      const bad = firstNonFinite(config, now.params, now.table);
      if (bad)
        throw new TrainingDivergedError(
          `training diverged in epoch ${epoch + 1} (step ${training.step}): ` +
            `'${bad}' holds non-finite values; lower --lr / --table-lr or raise --temperature.`,
        );
      const st = await training.readState();
      const f32 = (data: Float32Array): Tensor => ({ dtype: 'F32', shape: [data.length], data });
      const bytes = writeSafetensors(
        {
          params: f32(now.params),
          table: f32(now.table),
          'adam.m': f32(st.m),
          'adam.v': f32(st.v),
          'table.acc': f32(st.tableAcc),
        },
        { format: 'vireo-retrieval-checkpoint', epoch: String(epoch + 1), step: String(training.step), run: identity },
      );
      writeAtomically(checkpointPath(o.out), bytes);
    }
    log(
      `epoch ${epoch + 1}/${o.epochs}: loss ` +
        `${epochs.at(-1)!.loss.toFixed(4)}, ${epochs.at(-1)!.samplesPerSecond.toFixed(0)} samples/s`,
    );
  }
  bar.finish({ loss: losses.at(-1) ?? NaN });
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / Math.max(1, a.length);
  const n = Math.min(20, Math.max(1, Math.floor(losses.length / 2)));
  return {
    data,
    training,
    epochs,
    firstLoss: mean(losses.slice(0, n)),
    lastLoss: mean(losses.slice(-n)),
    warmStart: warm,
    resumedFromEpoch: startEpoch,
  };
}
