// `vireo bench ranking`: the ranker's two speeds, each beside its peer in the same run —
//   scoring K = 1,000 candidates (the serving shape): the WGSL forward on the adapter (inputs
//   uploaded, scores read back) vs onnxruntime-node on the CPU running the exported ranking.onnx
//   on the same inputs (and the largest difference between the two, as a check);
//   training samples/s: RankingStep (forward, backward, AdamW, row-wise Adagrad) on the adapter.
// The model is a bundle's ranker (--bundle) or a Criteo-shaped one with random weights: the
// DLRM shape of docs/ARCHITECTURE.md (13 dense, 26 tables, dim 64, bottom 512-256-64, top 512-256, towers
// 64) on a GPU, a small one (dim 16, bottom 64-16, top 64, towers 16) on a CPU adapter, where the
// large one runs at a few samples per second.
import * as ort from 'onnxruntime-node';
import { createRng } from '@vireo/core';
import { RankingModel, rankingParameters, sparseWidth, type RankingConfig } from '@vireo/models';
import type { Gpu } from '@vireo/kernels';
import { numberFlag, parseFlags, UsageError } from '../cli/args.ts';
import { isCpuAdapter, openGpu } from '../node/gpu.ts';
import { loadRankingBundle, inputName, rankingOnnx, RankingStep } from '@vireo/models/training';
import { measure, table, type Timing } from './harness.ts';

const FLAGS = {
  bundle: { type: 'string' },
  shape: { type: 'string' },
  candidates: { type: 'string' },
  batch: { type: 'string' },
  steps: { type: 'string' },
  runs: { type: 'string' },
  'table-rows': { type: 'string' },
  wide: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const HELP = `usage: vireo bench ranking [--bundle DIR] [--shape dlrm|small] [--wide] [--candidates 1000] [--batch 512]
                          [--json]

Times scoring K candidates with the WGSL forward vs onnxruntime-node (CPU) on the same ranking.onnx,
and training samples/s, in one run. Without --bundle: a Criteo-shaped ranker with random weights
(--shape dlrm on a GPU, small on a CPU adapter; --table-rows rows per table, default 10000; --wide
with the wide term). Training steps run without the wide term, which is fitted after training.
`;

/** A Criteo-shaped config: 13 dense inputs, 26 categorical tables. */
export function criteoShape(shape: 'dlrm' | 'small', rows: number): RankingConfig {
  const dlrm = shape === 'dlrm';
  const D = dlrm ? 64 : 16;
  return {
    denseFeatures: Array.from({ length: 13 }, (_, i) => `context:i${i + 1}`),
    sparseFeatures: Array.from({ length: 26 }, (_, i) => ({ name: `context:c${i + 1}`, rows, width: 1 })),
    embeddingDim: D,
    bottomMlp: dlrm ? [512, 256, D] : [64, D],
    topMlp: dlrm ? [512, 256] : [64],
    towerMlp: dlrm ? [64] : [16],
    interaction: 'dot',
    heads: ['ctr', 'cvr', 'revenue'],
  };
}

export interface RankingBenchResult {
  adapter: string;
  config: {
    shape: string;
    embeddingDim: number;
    bottomMlp: number[];
    topMlp: number[];
    towerMlp: number[];
    tables: number;
    parameters: number;
    tableRows: number;
  };
  scoring: { candidates: number; wgsl: Timing; onnxruntimeCpu: Timing; maxAbsDiff: number; speedup: number };
  training: { batch: number; steps: number; samplesPerSecond: number; msPerStep: Timing };
}

/** Random weights for config c (fixed seed): the benchmark's ranker when no bundle is given. */
export function randomRanker(c: RankingConfig): { params: Float32Array; tables: Float32Array[] } {
  const rng = createRng(7);
  const params = Float32Array.from({ length: rankingParameters(c).total }, () => rng.normal() * 0.05);
  const tables = c.sparseFeatures.map((f) =>
    Float32Array.from({ length: f.rows * c.embeddingDim }, () => (rng.next() - 0.5) * 0.1),
  );
  return { params, tables };
}

/** Random inputs for n samples of config c (multi-hot slots partly PAD). */
function randomInputs(
  c: RankingConfig,
  n: number,
  seed: number,
): { dense: Float32Array; sparse: Int32Array; labels: Float32Array } {
  const rng = createRng(seed);
  const S = sparseWidth(c);
  const dense = Float32Array.from({ length: n * c.denseFeatures.length }, () => rng.normal());
  const sparse = new Int32Array(n * S);
  for (let b = 0; b < n; b++) {
    let slot = 0;
    for (const f of c.sparseFeatures) {
      const keep = f.width === 1 ? 1 : 1 + rng.int(f.width);
      for (let l = 0; l < keep; l++) sparse[b * S + slot + l] = rng.int(f.rows);
      slot += f.width;
    }
  }
  const labels = new Float32Array(n * 3);
  for (let b = 0; b < n; b++) {
    const click = rng.next() < 0.25 ? 1 : 0;
    const conv = click && rng.next() < 0.3 ? 1 : 0;
    labels.set([click, conv, conv ? 20 * rng.next() : 0], b * 3);
  }
  return { dense, sparse, labels };
}

/** Runs the benchmark on `gpu`; `log` gets progress lines. */
export async function runRankingBench(
  gpu: Gpu,
  opts: {
    config: RankingConfig;
    params: Float32Array;
    tables: Float32Array[];
    shape: string;
    candidates: number;
    batch: number;
    steps: number;
    runs: number;
  },
): Promise<RankingBenchResult> {
  const { config: c, params, tables, candidates: K } = opts;
  const Nd = c.denseFeatures.length;
  const S = sparseWidth(c);

  // Scoring K candidates: WGSL (upload, forward, read back) vs onnxruntime on the CPU.
  const input = randomInputs(c, K, 1);
  const model = await RankingModel.create(gpu, c, { maxBatch: K });
  model.writeWeights(params, tables);
  const wgslScores = await model.score(Nd ? input.dense : null, input.sparse, K);
  const wgsl = await measure(() => model.score(Nd ? input.dense : null, input.sparse, K), {
    warmup: 2,
    minRuns: opts.runs,
    minMs: 500,
    maxRuns: 200,
  });
  model.destroy();

  const session = await ort.InferenceSession.create(rankingOnnx(c, params, tables), { executionProviders: ['cpu'] });
  const feeds: Record<string, ort.Tensor> = {};
  if (Nd) feeds.dense = new ort.Tensor('float32', input.dense, [K, Nd]);
  let slot = 0;
  for (const f of c.sparseFeatures) {
    const idx = new BigInt64Array(K * f.width);
    for (let b = 0; b < K; b++)
      for (let l = 0; l < f.width; l++) idx[b * f.width + l] = BigInt(input.sparse[b * S + slot + l]);
    feeds[inputName(f.name)] = new ort.Tensor('int64', idx, [K, f.width]);
    slot += f.width;
  }
  const ortScores = (await session.run(feeds)).scores.data as Float32Array;
  const onnxruntimeCpu = await measure(() => session.run(feeds), {
    warmup: 2,
    minRuns: opts.runs,
    minMs: 500,
    maxRuns: 200,
  });
  await session.release();
  let maxAbsDiff = 0;
  for (let i = 0; i < ortScores.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(ortScores[i] - wgslScores[i]));

  // Training: full steps on random batches, the GPU drained after each timed step; without the wide term (fitted
  // after training, the last entry of the parameters).
  const B = opts.batch;
  const trained = { ...c, wide: false };
  const train = await RankingModel.create(gpu, trained, { maxBatch: B });
  train.writeWeights(params.subarray(0, rankingParameters(trained).total), tables);
  const step = await RankingStep.create(gpu, train, { lr: 1e-3, weightDecay: 0, embLr: 0.02, revenueWeight: 0.1 });
  const batches = [0, 1, 2].map((i) => randomInputs(c, B, 10 + i));
  let k = 0;
  const oneStep = async () => {
    const b = batches[k++ % batches.length];
    step.run(Nd ? b.dense : null, b.sparse, b.labels, B);
    await gpu.idle();
  };
  const msPerStep = await measure(oneStep, { warmup: 1, minRuns: opts.steps, minMs: 0, maxRuns: opts.steps });
  step.destroy();
  train.destroy();

  const { totalRows } = { totalRows: c.sparseFeatures.reduce((s, f) => s + f.rows, 0) };
  return {
    adapter: `${gpu.info.vendor} ${gpu.info.architecture} ${gpu.info.description}`.trim(),
    config: {
      shape: opts.shape,
      embeddingDim: c.embeddingDim,
      bottomMlp: c.bottomMlp,
      topMlp: c.topMlp,
      towerMlp: c.towerMlp,
      tables: c.sparseFeatures.length,
      parameters: rankingParameters(c).total,
      tableRows: totalRows,
    },
    scoring: { candidates: K, wgsl, onnxruntimeCpu, maxAbsDiff, speedup: onnxruntimeCpu.median / wgsl.median },
    training: { batch: B, steps: msPerStep.runs, samplesPerSecond: (B * 1000) / msPerStep.median, msPerStep },
  };
}

/** `vireo bench ranking [flags]`; returns the exit code. */
export async function benchRanking(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, FLAGS, 'vireo bench ranking');
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.bundle && values.wide)
    throw new UsageError("--wide makes the random ranker's wide term: a bundle's ranker has its own (or none).");
  if (values.shape !== undefined && values.shape !== 'dlrm' && values.shape !== 'small')
    throw new UsageError(`--shape must be dlrm or small, got '${values.shape}'.`);
  const candidates = numberFlag(values.candidates, 'candidates', 1000, { integer: true, min: 1, max: 100_000 });
  const batch = numberFlag(values.batch, 'batch', 512, { integer: true, min: 1, max: 65_536 });
  const steps = numberFlag(values.steps, 'steps', 10, { integer: true, min: 1 });
  const runs = numberFlag(values.runs, 'runs', 10, { integer: true, min: 1 });
  const tableRows = numberFlag(values['table-rows'], 'table-rows', 10_000, { integer: true, min: 3 });
  const gpu = await openGpu();
  try {
    let config: RankingConfig;
    let params: Float32Array;
    let tables: Float32Array[];
    let shape: string;
    if (values.bundle) {
      ({ config, params, tables } = await loadRankingBundle(values.bundle));
      shape = `bundle ${values.bundle}`;
    } else {
      shape = values.shape ?? (isCpuAdapter(gpu) ? 'small' : 'dlrm');
      config = { ...criteoShape(shape as 'dlrm' | 'small', tableRows), ...(values.wide ? { wide: true } : {}) };
      ({ params, tables } = randomRanker(config));
      if (values.wide) shape += ' with the wide term';
    }
    const r = await runRankingBench(gpu, { config, params, tables, shape, candidates, batch, steps, runs });
    if (values.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    else {
      process.stdout.write(
        `ranking on ${r.adapter}: ${r.config.shape}, ${r.config.tables} tables × dim ` +
          `${r.config.embeddingDim}, bottom [${r.config.bottomMlp}], ` +
          `top [${r.config.topMlp}], towers [${r.config.towerMlp}]\n\n`,
      );
      process.stdout.write(
        table(
          ['what', 'median ms', 'P99 ms', 'runs', 'per second'],
          [
            [
              `score ${candidates} candidates · WGSL (upload + forward + read back)`,
              r.scoring.wgsl.median,
              r.scoring.wgsl.p99,
              r.scoring.wgsl.runs,
              (candidates * 1000) / r.scoring.wgsl.median,
            ],
            [
              `score ${candidates} candidates · onnxruntime-node CPU, same ONNX`,
              r.scoring.onnxruntimeCpu.median,
              r.scoring.onnxruntimeCpu.p99,
              r.scoring.onnxruntimeCpu.runs,
              (candidates * 1000) / r.scoring.onnxruntimeCpu.median,
            ],
            [
              `train step · batch ${batch} (fwd + bwd + AdamW + Adagrad)`,
              r.training.msPerStep.median,
              r.training.msPerStep.p99,
              r.training.msPerStep.runs,
              r.training.samplesPerSecond,
            ],
          ],
        ) + '\n',
      );
      process.stdout.write(
        `\nWGSL vs onnxruntime: max abs difference ` +
          `${r.scoring.maxAbsDiff.toExponential(2)}; WGSL is ${r.scoring.speedup.toFixed(2)}× onnxruntime's speed\n`,
      );
    }
    return 0;
  } finally {
    gpu.destroy();
  }
}
