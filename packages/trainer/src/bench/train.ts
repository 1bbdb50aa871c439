// `vireo bench train`: training throughput (samples/s) of the retrieval model per configuration,
// on this machine's WebGPU adapter, with — when Debian's python3-torch is installed — the same
// model, the same batches and the same optimizers in PyTorch on the CPU in the same run, as a
// reference point. A step is what `vireo train retrieval` does per batch: build and upload the
// bags, forward, loss, backward, AdamW and row-wise Adagrad, and read the loss back.
// Runs unchanged on a machine with a GPU (the configurations too big for SwiftShader are skipped
// on a fallback adapter unless asked for with --configs).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng } from '@vireo/core';
import { numberFlag, parseFlags, UsageError } from '../cli/args.ts';
import { DEFAULT_OPTIONS, DEFAULT_WORLD, ingestSynthetic } from '../ingest/index.ts';
import { isCpuAdapter, openGpu } from '../node/gpu.ts';
import { initialWeights, RetrievalTraining } from '@vireo/models/training';
import { openDataset, retrievalData } from '../retrieval/train.ts';
import type { RetrievalShape } from '../retrieval/features.ts';
import { quantile, table } from './harness.ts';
import type { Gpu } from '@vireo/kernels';

/** A benchmarked configuration: model sizes and batch. */
export interface TrainBenchConfig {
  name: string;
  batch: number;
  shape: RetrievalShape;
  /** Too slow for a CPU adapter (SwiftShader): run only on GPUs unless named. */
  gpuOnly: boolean;
}

const shape = (fieldDim: number, embeddingDim: number, hidden: number, historyLength: number): RetrievalShape => ({
  fieldDim,
  embeddingDim,
  heads: 2,
  itemHidden: hidden,
  userHidden: hidden,
  temperature: 0.05,
  historyLength,
});

export const TRAIN_BENCH_CONFIGS: TrainBenchConfig[] = [
  { name: 'default', batch: 128, shape: shape(16, 32, 64, 20), gpuOnly: false },
  { name: 'medium', batch: 512, shape: shape(32, 64, 128, 20), gpuOnly: true },
  { name: 'large', batch: 1024, shape: shape(64, 128, 256, 20), gpuOnly: true },
];

export interface TrainBenchResult {
  config: string;
  batch: number;
  shape: RetrievalShape;
  webgpu: { stepMs: number; p99Ms: number; samplesPerSecond: number; steps: number };
  torch: { stepMs: number; samplesPerSecond: number; threads: number; torch: string } | { skipped: string };
}

const TORCH_SCRIPT = fileURLToPath(new URL('./retrieval_torch.py', import.meta.url));
/** The Python that holds PyTorch: Debian's python3-torch here, VIREO_PYTHON elsewhere (e.g. a venv on a GPU machine).
 * */
export const PYTHON = process.env.VIREO_PYTHON || '/usr/bin/python3';

/** Whether PYTHON can import torch; the reason when not. */
export function torchAvailable(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing`;
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  return r.status === 0
    ? null
    : `${PYTHON} cannot import torch (on Debian: apt-get install ` +
        `python3-torch; elsewhere point VIREO_PYTHON at a Python that has it)`;
}

const b64 = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

/**
 * Times `steps` training steps of one configuration (after two warm-up steps) and, unless
 * `torchMissing` says why not, the same model, batches and optimizers in PyTorch on the CPU.
 * @example const r = await runTrainConfig(gpu, openDataset(dir), dir, TRAIN_BENCH_CONFIGS[0], 10, null);
 */
export async function runTrainConfig(
  gpu: Gpu,
  ds: ReturnType<typeof openDataset>,
  dataDir: string,
  cfg: TrainBenchConfig,
  steps: number,
  torchMissing: string | null,
): Promise<TrainBenchResult> {
  const data = retrievalData(ds, cfg.shape);
  const { config, examples, reader, events, logq } = data;
  const B = cfg.batch;
  if (examples.count < B)
    throw new UsageError(
      `${dataDir} has ${examples.count} training positives, fewer than the ${cfg.name} batch of ${B}.`,
    );
  const training = await RetrievalTraining.create(
    gpu,
    config,
    B,
    { lr: 0.002, tableLr: 0.05, weightDecay: 0, temperature: cfg.shape.temperature },
    (row, f) => reader.item(row, f),
    undefined,
    logq,
  );
  const w = initialWeights(config, 1);
  gpu.write(training.weights.params, w.params);
  gpu.write(training.weights.table, w.table);
  const order = createRng(1)
    .fork('bench')
    .shuffle(Int32Array.from({ length: examples.count }, (_, i) => i));
  const batches: Record<string, unknown>[] = [];
  const times: number[] = [];
  const total = steps + 2;
  for (let s = 0; s < total; s++) {
    const start = (s * B) % (examples.count - B + 1);
    const batch = order.subarray(start, start + B);
    const t0 = performance.now();
    training.item.set(B, (b, f) => reader.item(examples.item[batch[b]], f));
    training.setUsers(B, (b) => {
      const e = batch[b];
      const u = examples.user[e];
      return {
        fields: reader.user(u, examples.context[e], examples.ts[e]),
        history: events.items,
        historyLabels: events.positive,
        historyStart: events.start[u],
        historyEnd: examples.historyEnd[e],
      };
    });
    const lq = Float32Array.from(batch, (e) => logq[examples.item[e]]);
    const ids = Uint32Array.from(batch, (e) => examples.item[e]);
    training.run({ logq: lq, ids });
    await training.readLoss();
    training.update();
    if (s >= 2) times.push(performance.now() - t0); // the first two compile and warm up
    if (batches.length < 4) {
      const ib = training.item.bags.view();
      const ub = training.user.bags.view();
      batches.push({
        B,
        rowsX: training.user.layout.o,
        itemIndices: b64(ib.indices),
        itemOffsets: b64(ib.offsets),
        itemWeights: b64(ib.weights),
        userIndices: b64(ub.indices),
        userOffsets: b64(ub.offsets),
        userWeights: b64(ub.weights),
        lengths: b64(training.user.lengths.slice()),
        logq: b64(lq),
        ids: b64(ids),
      });
    }
  }
  training.destroy();
  times.sort((a, b) => a - b);
  const [median, p99] = [quantile(times, 0.5), quantile(times, 0.99)];
  let torch: TrainBenchResult['torch'] = { skipped: torchMissing ?? '' };
  if (!torchMissing) {
    const job = JSON.stringify({ config, B, steps, lr: 0.002, tableLr: 0.05, batches });
    const r = spawnSync(PYTHON, [TORCH_SCRIPT, 'bench'], { input: job, encoding: 'utf8', maxBuffer: 1 << 30 });
    torch =
      r.status === 0 ? JSON.parse(r.stdout) : { skipped: `PyTorch failed: ${r.stderr.trim().split('\n').at(-1)}` };
  }
  return {
    config: cfg.name,
    batch: B,
    shape: cfg.shape,
    webgpu: { stepMs: median, p99Ms: p99, samplesPerSecond: (B * 1000) / median, steps },
    torch,
  };
}

/** `vireo bench train [--data DIR] [--configs a,b] [--steps N] [--json] [--out FILE] [--no-torch]`. */
export async function benchTrain(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      data: { type: 'string' },
      configs: { type: 'string' },
      steps: { type: 'string' },
      json: { type: 'boolean' },
      out: { type: 'string' },
      'no-torch': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    'bench train',
  );
  if (values.help) {
    const configs = TRAIN_BENCH_CONFIGS.map((c) => c.name).join(',');
    process.stdout.write(
      `usage: vireo bench train [--data DATASET] [--configs ${configs}] [--steps N] [--no-torch] [--json] ` +
        `[--out FILE]

Training samples/s of the retrieval model per configuration on this adapter, beside the same model
and batches in PyTorch on the CPU (python3-torch, or VIREO_PYTHON) in the same run. Without --data
it generates the default synthetic world; configurations marked for GPUs are skipped on a CPU
adapter unless named.
`,
    );
    return 0;
  }
  const steps = numberFlag(values.steps, 'steps', 10, { integer: true, min: 2 });
  const names = values.configs
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names ?? [])
    if (!TRAIN_BENCH_CONFIGS.some((c) => c.name === n))
      throw new UsageError(
        `unknown configuration '${n}': expected some of ${TRAIN_BENCH_CONFIGS.map((c) => c.name).join(', ')}.`,
      );
  const note = (line: string) => {
    if (!values.json) process.stderr.write(`${line}\n`);
  };
  let tmp: string | null = null;
  let dataDir = values.data;
  if (!dataDir) {
    tmp = mkdtempSync(join(tmpdir(), 'vireo-bench-train-'));
    dataDir = join(tmp, 'world');
    note('generating the default synthetic world …');
    await ingestSynthetic(DEFAULT_WORLD, { ...DEFAULT_OPTIONS, out: dataDir, quiet: true });
  }
  const ds = openDataset(dataDir);
  const torchMissing = values['no-torch'] ? 'disabled with --no-torch' : torchAvailable();
  const gpu = await openGpu();
  const results: TrainBenchResult[] = [];
  try {
    const configs = TRAIN_BENCH_CONFIGS.filter((c) =>
      names ? names.includes(c.name) : !(isCpuAdapter(gpu) && c.gpuOnly),
    );
    for (const cfg of configs) {
      note(
        `${cfg.name}: batch ${cfg.batch}, D ${cfg.shape.embeddingDim}, W ` +
          `${cfg.shape.fieldDim}, hidden ${cfg.shape.itemHidden}, L ${cfg.shape.historyLength} …`,
      );
      results.push(await runTrainConfig(gpu, ds, dataDir, cfg, steps, torchMissing));
    }
    const report = { adapter: gpu.info, date: new Date().toISOString(), results };
    if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
    if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else {
      process.stdout.write(
        `adapter: ${gpu.info.vendor} ${gpu.info.architecture} ` +
          `${gpu.info.description}${gpu.info.isFallbackAdapter ? ' (fallback: CPU)' : ''}\n\n`,
      );
      process.stdout.write(
        table(
          [
            'config',
            'batch',
            'D',
            'W',
            'hidden',
            'L',
            'WebGPU ms/step',
            'WebGPU samples/s',
            'PyTorch CPU ms/step',
            'PyTorch samples/s',
          ],
          results.map((r) => [
            r.config,
            r.batch,
            r.shape.embeddingDim,
            r.shape.fieldDim,
            r.shape.itemHidden,
            r.shape.historyLength,
            r.webgpu.stepMs,
            r.webgpu.samplesPerSecond,
            'skipped' in r.torch ? '–' : r.torch.stepMs,
            'skipped' in r.torch
              ? `– (${r.torch.skipped})`
              : `${r.torch.samplesPerSecond.toFixed(0)} (${r.torch.threads} threads)`,
          ]),
        ) + '\n',
      );
    }
    return 0;
  } finally {
    gpu.destroy();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}
