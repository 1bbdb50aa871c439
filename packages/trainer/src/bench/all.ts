// `vireo bench all`: every benchmark, each figure beside its peer measured in the same run, into
// one report in the schema of ./schema.ts (rendered into BENCHMARKS.md by ./render.ts).
//
// The suite is a list of sections (SECTIONS below), each a table:
//   limits        the adapter's copy bandwidth and the tuned matmul's GFLOP/s (the yardsticks)
//   kernels       linear (vs the matmul), embedding_bag and topk int8 (vs the copy), attention,
//                 DLRM interaction — each beside PyTorch on the same shapes
//   topk-scaling  brute-force top-k over 10k … 10M items × 128: time per item, vs PyTorch
//   train         retrieval training samples/s against batch size, vs PyTorch (same batches)
//   ranking       scoring 1,000 candidates vs onnxruntime-node on the same ONNX; training step
//   runtime       recommend() in headless Chromium (pnpm bench:runtime: 10k/100k/1M items) vs
//                 hnswlib-wasm (retrieval) and onnxruntime-web (ranking)          [browser]
//   edge          the edge under loopback load vs redis-server (bench:edge)       [edge]
// The Dawn sections need only Node and the `webgpu` package: `--skip-browser --skip-edge` runs
// them on a machine without Chromium (the GPU script in bench/gpu/).
// Repetitions: `full` on a GPU; `quick` (fewer runs, smaller yardsticks, no 10M) on a CPU adapter
// such as SwiftShader, where the whole set must finish in minutes — the report says which.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem, type as osType } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Gpu } from '@vireo/kernels';
import { parseFlags, UsageError } from '../cli/args.ts';
import { DEFAULT_OPTIONS, DEFAULT_WORLD, ingestSynthetic } from '../ingest/index.ts';
import { isCpuAdapter, openGpu } from '../node/gpu.ts';
import { openDataset } from '../retrieval/train.ts';
import type { MeasureOptions, Timing } from './harness.ts';
import {
  attentionBench,
  copyBench,
  dlrmInteractionBench,
  embeddingBagBench,
  linearBench,
  matmulBench,
  timeKernel,
  topkBench,
  type KernelBench,
} from './kernels.ts';
import { torchPeer, torchWho, type TorchRun, type TorchTiming } from './peers.ts';
import { criteoShape, randomRanker, runRankingBench } from './ranking.ts';
import {
  checkReport,
  mergeReports,
  ratioOf,
  SCHEMA,
  type Adapter,
  type Figure,
  type Machine,
  type Report,
  type Row,
  type Stat,
  type Table,
} from './schema.ts';
import { PYTHON, runTrainConfig, torchAvailable, TRAIN_BENCH_CONFIGS } from './train.ts';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));

/** How hard each figure is measured, and how big the yardsticks and sweeps are. */
export interface Profile {
  name: 'full' | 'quick';
  kernel: MeasureOptions;
  torch: TorchTiming;
  copyMb: number;
  /** The tuned matmul's square size. */
  matmul: number;
  topkSizes: number[];
  /** Catalogue sizes also timed with int8 items. */
  topkInt8Sizes: number[];
  trainBatches: number[];
  trainSteps: number;
  rankingRuns: number;
  rankingSteps: number;
  runtimeSizes: string;
  runtimeRuns: string;
  /** Largest catalogue hnswlib-wasm indexes (its build is single-threaded and superlinear). */
  hnswMax: number;
  edgeSeconds: number;
  /** Said in the report when this profile is used. */
  note: string | null;
}

export const PROFILES: Record<Profile['name'], Profile> = {
  full: {
    name: 'full',
    kernel: { warmup: 3, minRuns: 30, minMs: 500, maxRuns: 1000 },
    torch: { warmup: 3, minRuns: 30, minMs: 500, maxRuns: 1000 },
    copyMb: 256,
    matmul: 2048,
    topkSizes: [10_000, 100_000, 1_000_000, 10_000_000],
    topkInt8Sizes: [1_000_000, 10_000_000],
    trainBatches: [128, 512, 2048, 4096],
    trainSteps: 20,
    rankingRuns: 30,
    rankingSteps: 20,
    runtimeSizes: '10000,100000,1000000',
    runtimeRuns: '50,30,20',
    hnswMax: 100_000,
    edgeSeconds: 10,
    note: null,
  },
  quick: {
    name: 'quick',
    kernel: { warmup: 0, minRuns: 5, minMs: 200, maxRuns: 200 },
    torch: { warmup: 1, minRuns: 5, minMs: 200, maxRuns: 200 },
    copyMb: 16,
    matmul: 256,
    topkSizes: [10_000, 100_000, 1_000_000, 10_000_000],
    topkInt8Sizes: [],
    trainBatches: [16, 64, 256],
    trainSteps: 4,
    rankingRuns: 5,
    rankingSteps: 3,
    runtimeSizes: '10000,100000,1000000',
    runtimeRuns: '10,5,3',
    hnswMax: 100_000,
    // Not reduced: an edge row's P99 needs thousands of responses (a 4 s row of 100-event batches had ~1,200, so
    // a few stalled group commits of 32 set it: 510-873 ms at 4 s, 207-263 ms at 10 s on the same code).
    edgeSeconds: 10,
    note:
      'Reduced repetitions (profile `quick`, chosen on a CPU adapter so that the whole set finishes in ' +
      'minutes): kernels at least 5 timed runs after one warm-up call (more for fast ones, up to 200 ms each), ' +
      'training batch sizes 16 to 256 with 4 steps each, 3 ranking training steps, recommend() 10 / 5 / 3 runs at ' +
      '10k / 100k / 1M items, hnswlib-wasm indexed up to 100k items (its single-threaded build of 1M would take ' +
      'minutes), int8 top-k only at 100k. With 5 runs the P99 is the slowest run.',
  },
};

/** What the sections share: the device, the peers' settings, the yardsticks once measured. */
interface Context {
  gpu: Gpu;
  profile: Profile;
  torchDevice: string;
  noTorch: boolean;
  /** Set by the `limits` section. */
  copy: { gbps: number; who: string } | null;
  matmul: { gflops: number; who: string } | null;
  /** Filled by sections that learn a version (chromium, redis, torch). */
  versions: Record<string, string | null>;
  notes: string[];
  log: (line: string) => void;
}

interface Section {
  id: string;
  title: string;
  /** `dawn`: this process's adapter; `browser`: headless Chromium; `edge`: the edge server. */
  needs: 'dawn' | 'browser' | 'edge';
  run(ctx: Context): Promise<Table>;
}

const stat = (t: Timing): Stat => ({ median: t.median, p99: t.p99, runs: t.runs });
const skipped = (who: string, why: string): Figure => ({ who, ms: null, skipped: why });

/** One row per kernel case: WGSL on the adapter, PyTorch beside it, the yardstick. */
async function kernelRows(ctx: Context, benches: KernelBench[], setLimits = false): Promise<Row[]> {
  const torch = ctx.noTorch
    ? 'disabled with --no-torch'
    : torchPeer(
        benches.flatMap((b) => (b.torch ? [b.torch] : [])),
        ctx.torchDevice,
        ctx.profile.torch,
      );
  if (typeof torch !== 'string') {
    const threads = `${torch.threads} thread${torch.threads === 1 ? '' : 's'}`;
    ctx.versions.torch = `${torch.torch} (${torch.device === 'cuda' ? `CUDA, ${torch.name}` : `CPU, ${threads}`})`;
  }
  let t = 0;
  const rows: Row[] = [];
  for (const bench of benches) {
    ctx.log(`  ${bench.kernel} ${bench.case} …`);
    const inst = await bench.setup(ctx.gpu);
    const time = await timeKernel(ctx.gpu, inst, ctx.profile.kernel);
    ctx.log(`    WGSL ${time.median.toPrecision(3)} ms (${time.runs} runs)`);
    let peer: Figure | null = null;
    if (bench.torch) {
      const r = typeof torch === 'string' ? { skipped: torch } : torch.results[t];
      t++;
      peer = 'skipped' in r ? skipped('PyTorch', r.skipped) : { who: torchWho(torch as TorchRun), ms: r };
    }
    inst.dispose();
    const rate = (ms: number | undefined) =>
      ms === undefined
        ? null
        : bench.flops && bench.limit !== 'copy'
          ? bench.flops / (ms * 1e6)
          : bench.bytes / (ms * 1e6);
    const unit = bench.flops && bench.limit !== 'copy' ? 'GFLOP/s' : 'GB/s';
    const value = rate(time.median)!;
    if (peer?.ms) peer.rate = { value: rate(peer.ms.median)!, unit };
    if (setLimits && bench.kernel === 'copy') ctx.copy = { gbps: value, who: `WGSL copy ${bench.case}` };
    if (setLimits && bench.kernel.startsWith('matmul') && value > (ctx.matmul?.gflops ?? 0))
      ctx.matmul = { gflops: value, who: `tuned WGSL ${bench.kernel} ${bench.case}` };
    const yard =
      bench.limit === 'copy'
        ? ctx.copy && { who: ctx.copy.who, value: ctx.copy.gbps, unit: 'GB/s' }
        : bench.limit === 'matmul'
          ? ctx.matmul && { who: ctx.matmul.who, value: ctx.matmul.gflops, unit: 'GFLOP/s' }
          : null;
    const vireo: Figure = { who: `WGSL ${bench.kernel}`, ms: stat(time), rate: { value, unit } };
    rows.push({
      case: `${bench.kernel} ${bench.case}`,
      vireo,
      peer,
      ratio: ratioOf(vireo, peer),
      limit: yard ? { ...yard, ofLimit: value / yard.value } : null,
      extra: bench.flops && unit === 'GB/s' ? { 'GFLOP/s': bench.flops / (time.median * 1e6) } : undefined,
    });
  }
  // The yardstick rows themselves: each against the best of its kind.
  if (setLimits) {
    for (const row of rows) {
      if (row.case.startsWith('copy') && ctx.copy)
        row.limit = {
          who: ctx.copy.who,
          value: ctx.copy.gbps,
          unit: 'GB/s',
          ofLimit: row.vireo.rate!.value / ctx.copy.gbps,
        };
      if (row.case.startsWith('matmul') && ctx.matmul)
        row.limit = {
          who: ctx.matmul.who,
          value: ctx.matmul.gflops,
          unit: 'GFLOP/s',
          ofLimit: row.vireo.rate!.value / ctx.matmul.gflops,
        };
    }
  }
  return rows;
}

export const SECTIONS: Section[] = [
  {
    id: 'limits',
    title: 'Yardsticks: copy bandwidth and tuned matmul',
    needs: 'dawn',
    async run(ctx) {
      const n = ctx.profile.matmul;
      const rows = await kernelRows(
        ctx,
        [copyBench(ctx.profile.copyMb), matmulBench(n, n, n, 'tiled'), matmulBench(n, n, n, 'direct')],
        true,
      );
      return {
        id: 'limits',
        title: this.title,
        rows,
        about:
          'What this adapter achieves on a plain streaming copy (GB/s, bytes read + written) and on a tuned ' +
          'register-blocked matmul (GFLOP/s; packages/kernels/src/matmul/matmul.wgsl, a 64×64 tiled variant with ' +
          '4×4 outputs per thread and a direct variant without workgroup memory, the faster of the two ' +
          'is the limit). The kernels below are measured against these, in the same run, on the same adapter.',
        notes: [],
      };
    },
  },
  {
    id: 'kernels',
    title: 'Kernels at model shapes',
    needs: 'dawn',
    async run(ctx) {
      const benches = [
        linearBench(1000, 13, 512),
        linearBench(1000, 512, 256),
        linearBench(1000, 256, 64),
        embeddingBagBench(1000, 20, 100_000, 64),
        attentionBench(64, 50, 64, 4),
        dlrmInteractionBench(1000, 26, 64),
        topkBench(100_000, 128, 1000, true),
      ];
      return {
        id: 'kernels',
        title: this.title,
        rows: await kernelRows(ctx, benches),
        about:
          'Each WGSL kernel at the shapes the models run (linear: the DLRM bottom MLP; embedding_bag: 1,000 bags ' +
          'of 20 ids from 100k × 64; attention: 64 users × 50 history items; DLRM interaction: 1,000 samples × 26 ' +
          'tables; topk int8 over 100k × 128), as the model dispatches it on this adapter (linear: the direct ' +
          'variant on CPU adapters, tiled on GPUs). GB/s counts bytes the kernel must read and write; linear, ' +
          'attention and the DLRM interaction do 5 or more FLOP per byte, are compute-bound on both adapters ' +
          'measured here, and are compared with the tuned matmul; embedding_bag and topk are memory-bound and ' +
          'compared with the copy. The peer is PyTorch on the same shapes (attention: masked multi-head ' +
          'attention and learned-query pooling written out in PyTorch, with no projections, as the kernels have ' +
          'none).',
        notes: [],
      };
    },
  },
  {
    id: 'topk-scaling',
    title: 'Brute-force top-k (k = 1,000) against catalogue size',
    needs: 'dawn',
    async run(ctx) {
      const D = 128,
        k = 1000;
      const rows: Row[] = [];
      const notes: string[] = [];
      const cases = [
        ...ctx.profile.topkSizes.map((N) => ({ N, int8: false })),
        ...ctx.profile.topkInt8Sizes.map((N) => ({ N, int8: true })),
      ];
      for (const { N, int8 } of cases) {
        const label = `topk${int8 ? ' int8' : ''} N=${N} D=${D} k=${k}`;
        const why =
          N >= 10_000_000 && isCpuAdapter(ctx.gpu)
            ? 'not run on a CPU adapter (about a minute per call, over the time budget)'
            : null;
        if (why) {
          rows.push({
            case: label,
            params: { N, D, k },
            vireo: skipped(`WGSL topk${int8 ? ' int8' : ''}`, why),
            peer: null,
            ratio: null,
          });
          notes.push(`${label}: ${why}.`);
          continue;
        }
        let row: Row;
        try {
          [row] = await kernelRows(ctx, [topkBench(N, D, k, int8)]);
        } catch (err) {
          // e.g. a catalogue over this adapter's memory: say so and go on
          const reason = `failed: ${err instanceof Error ? err.message : String(err)}`;
          rows.push({
            case: label,
            params: { N, D, k },
            vireo: skipped(`WGSL topk${int8 ? ' int8' : ''}`, reason),
            peer: null,
            ratio: null,
          });
          notes.push(`${label}: ${reason}`);
          continue;
        }
        row.params = { N, D, k };
        row.perItemNs = (row.vireo.ms!.median * 1e6) / N;
        row.extra = { 'peer ns/item': row.peer?.ms ? (row.peer.ms.median * 1e6) / N : null };
        rows.push(row);
      }
      return {
        id: 'topk-scaling',
        title: this.title,
        rows,
        notes,
        about:
          'One query against N unit vectors of 128 floats (or int8 with a per-row scale): scores and the top ' +
          '1,000, as retrieval runs it. Time per item should stay flat as N grows; GB/s counts the item bytes ' +
          'read once, against the copy kernel. The peer is PyTorch computing ' +
          '`topk(items @ q, 1000)` on the same sizes (int8: dequantize, matmul, topk).',
      };
    },
  },
  {
    id: 'train',
    title: 'Retrieval training throughput against batch size',
    needs: 'dawn',
    async run(ctx) {
      const tmp = mkdtempSync(join(tmpdir(), 'vireo-bench-all-'));
      try {
        const dataDir = join(tmp, 'world');
        ctx.log('  generating the default synthetic world …');
        await ingestSynthetic(DEFAULT_WORLD, { ...DEFAULT_OPTIONS, out: dataDir, quiet: true });
        const ds = openDataset(dataDir);
        const torchMissing = ctx.noTorch ? 'disabled with --no-torch' : torchAvailable();
        const base = TRAIN_BENCH_CONFIGS[0];
        const rows: Row[] = [];
        for (const batch of ctx.profile.trainBatches) {
          ctx.log(`  retrieval step, batch ${batch} …`);
          let r: Awaited<ReturnType<typeof runTrainConfig>>;
          try {
            r = await runTrainConfig(
              ctx.gpu,
              ds,
              dataDir,
              { ...base, name: `batch ${batch}`, batch },
              ctx.profile.trainSteps,
              torchMissing,
            );
          } catch (err) {
            // e.g. a batch larger than the world's training positives: the row says so, the sweep goes on.
            rows.push({
              case: `retrieval step batch ${batch}`,
              params: { batch },
              vireo: skipped('WGSL two-tower step (Dawn)', err instanceof Error ? err.message : String(err)),
              peer: null,
              ratio: null,
            });
            continue;
          }
          const vireo: Figure = {
            who: 'WGSL two-tower step (Dawn)',
            ms: { median: r.webgpu.stepMs, p99: r.webgpu.p99Ms, runs: r.webgpu.steps },
            rate: { value: r.webgpu.samplesPerSecond, unit: 'samples/s' },
          };
          const peer: Figure =
            'skipped' in r.torch
              ? skipped('PyTorch', r.torch.skipped)
              : {
                  who: `PyTorch ${r.torch.torch} CPU, ${r.torch.threads} thread${r.torch.threads === 1 ? '' : 's'}`,
                  ms: { median: r.torch.stepMs, p99: null, runs: ctx.profile.trainSteps },
                  rate: { value: r.torch.samplesPerSecond, unit: 'samples/s' },
                };
          rows.push({
            case: `retrieval step batch ${batch}`,
            params: { batch },
            vireo,
            peer,
            ratio: ratioOf(vireo, peer),
          });
        }
        const s = base.shape;
        return {
          id: 'train',
          title: this.title,
          rows,
          notes: [],
          about:
            `One step of \`vireo train retrieval\` (build and upload the bags, forward, in-batch softmax ` +
            `loss, backward, AdamW and row-wise Adagrad, read the loss back) on the default synthetic world, ` +
            `model D ${s.embeddingDim}, field dim ${s.fieldDim}, hidden ${s.itemHidden}, history ` +
            `${s.historyLength}; the first two steps warm up. The peer is the same model, batches and optimizers ` +
            `in PyTorch (retrieval_torch.py) on the CPU.`,
        };
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    },
  },
  {
    id: 'ranking',
    title: 'Ranking (DLRM): scoring 1,000 candidates and training',
    needs: 'dawn',
    async run(ctx) {
      const shape = isCpuAdapter(ctx.gpu) ? 'small' : 'dlrm';
      const config = criteoShape(shape, 10_000);
      const { params, tables } = randomRanker(config);
      ctx.log(`  ranking (${shape}) …`);
      const r = await runRankingBench(ctx.gpu, {
        config,
        params,
        tables,
        shape,
        candidates: 1000,
        batch: 512,
        steps: ctx.profile.rankingSteps,
        runs: ctx.profile.rankingRuns,
      });
      const ort = { version: ctx.versions.onnxruntime?.match(/node ([\w.+-]+)/)?.[1] ?? '' };
      const scoreV: Figure = {
        who: 'WGSL DLRM forward (upload + forward + read back)',
        ms: stat(r.scoring.wgsl),
        rate: { value: 1e6 / r.scoring.wgsl.median, unit: 'candidates/s' },
      };
      const scoreP: Figure = {
        who: `onnxruntime-node ${ort.version} CPU, same ONNX`,
        ms: stat(r.scoring.onnxruntimeCpu),
        rate: { value: 1e6 / r.scoring.onnxruntimeCpu.median, unit: 'candidates/s' },
      };
      const trainV: Figure = {
        who: 'WGSL DLRM step (fwd + bwd + AdamW + Adagrad)',
        ms: stat(r.training.msPerStep),
        rate: { value: r.training.samplesPerSecond, unit: 'samples/s' },
      };
      // PyTorch on the same shape: scoring (a second peer) and the training step.
      const dlrm = {
        dense: 13,
        tables: config.sparseFeatures.length,
        rows: 10_000,
        dim: config.embeddingDim,
        bottom: config.bottomMlp.join(','),
        top: config.topMlp.join(','),
        tower: config.towerMlp.join(','),
      };
      const torch = ctx.noTorch
        ? 'disabled with --no-torch'
        : torchPeer(
            [
              { op: 'dlrm_score', K: r.scoring.candidates, ...dlrm },
              { op: 'dlrm_train', B: r.training.batch, ...dlrm },
            ],
            ctx.torchDevice,
            ctx.profile.torch,
          );
      const torchFigure = (i: number, rate: (ms: number) => Figure['rate']): Figure => {
        if (typeof torch === 'string') return skipped('PyTorch', torch);
        const t = torch.results[i];
        return 'skipped' in t
          ? skipped('PyTorch', t.skipped)
          : { who: `${torchWho(torch)}, same DLRM shape`, ms: t, rate: rate(t.median) };
      };
      const scoreT = torchFigure(0, (ms) => ({ value: 1e6 / ms, unit: 'candidates/s' }));
      const trainT = torchFigure(1, (ms) => ({ value: (r.training.batch * 1000) / ms, unit: 'samples/s' }));
      const rows: Row[] = [
        {
          case: `score ${r.scoring.candidates} candidates`,
          params: { K: r.scoring.candidates },
          vireo: scoreV,
          peer: scoreP,
          ratio: ratioOf(scoreV, scoreP),
          extra: { 'max |diff|': r.scoring.maxAbsDiff },
        },
        {
          case: `score ${r.scoring.candidates} candidates (vs PyTorch)`,
          params: { K: r.scoring.candidates },
          vireo: scoreV,
          peer: scoreT,
          ratio: ratioOf(scoreV, scoreT),
        },
        {
          case: `train step batch ${r.training.batch}`,
          params: { batch: r.training.batch },
          vireo: trainV,
          peer: trainT,
          ratio: ratioOf(trainV, trainT),
        },
      ];
      const notes =
        typeof torch === 'string'
          ? []
          : [
              'PyTorch (kernels_torch.py `dlrm_score`, `dlrm_train`) runs the same shape with random ' +
                'weights; its training step uses element-wise Adagrad for the tables (PyTorch has no row-wise one).',
            ];
      return {
        id: 'ranking',
        title: this.title,
        notes,
        rows,
        about:
          `The DLRM ranker of docs/ARCHITECTURE.md on Criteo-shaped inputs (13 dense, ${r.config.tables} ` +
          `tables of ${r.config.tableRows / r.config.tables} rows × dim ${r.config.embeddingDim}, bottom ` +
          `[${r.config.bottomMlp}], top [${r.config.topMlp}], towers [${r.config.towerMlp}]; shape ` +
          `\`${shape}\`${shape === 'small' ? ', the small one on a CPU adapter' : ''}) with random weights. ` +
          `Scoring: the WGSL forward vs onnxruntime-node running the exported ranking.onnx on the same inputs ` +
          `(largest difference ${r.scoring.maxAbsDiff.toExponential(1)}).`,
      };
    },
  },
  {
    id: 'runtime',
    title: 'recommend() in headless Chromium',
    needs: 'browser',
    async run(ctx) {
      const tmp = mkdtempSync(join(tmpdir(), 'vireo-bench-runtime-'));
      try {
        const out = join(tmp, 'runtime.json');
        ctx.log(`  pnpm bench:runtime (sizes ${ctx.profile.runtimeSizes}) …`);
        const r = spawnSync(
          process.execPath,
          [
            '--import',
            './packages/trainer/bin/register.mjs',
            'packages/runtime-web/bench/runtime.ts',
            '--out',
            out,
            '--sizes',
            ctx.profile.runtimeSizes,
            '--runs',
            ctx.profile.runtimeRuns,
            '--hnsw-max',
            String(ctx.profile.hnswMax),
          ],
          { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 },
        );
        if (r.status !== 0 || !existsSync(out))
          throw new Error(
            `bench:runtime failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`,
          );
        return runtimeTable(JSON.parse(readFileSync(out, 'utf8')), ctx);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    },
  },
  {
    id: 'edge',
    title: 'Edge feature service under load',
    needs: 'edge',
    async run(ctx) {
      const tmp = mkdtempSync(join(tmpdir(), 'vireo-bench-edge-'));
      try {
        const results = join(tmp, 'results.json');
        ctx.log(`  bench:edge (${ctx.profile.edgeSeconds} s per row) …`);
        const r = spawnSync(
          process.execPath,
          [
            'packages/edge-worker/bench/run.mjs',
            '--duration',
            String(ctx.profile.edgeSeconds),
            '--out',
            join(tmp, 'RESULTS.md'),
            '--results',
            results,
            '--skip-in-process',
          ],
          { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 },
        );
        if (r.status !== 0 || !existsSync(results))
          throw new Error(
            `bench:edge failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`,
          );
        return edgeTable(JSON.parse(readFileSync(results, 'utf8')), ctx);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    },
  },
];

interface RuntimeJson {
  adapter: { vendor: string; architecture: string; device?: string; description: string } | null;
  userAgent?: string;
  dim: number;
  results: {
    N: number;
    error?: string;
    runs: number;
    backend: string;
    cold: { totalMs: number };
    warm: { total: { p50: number; p99: number; n: number }; stagesP50: Record<string, number | null> };
    onnxruntimeWasm: { p50: number; p99: number; n: number; candidates: number };
    hnswlibWasm: {
      skipped?: boolean | string;
      p50?: number;
      p99?: number;
      n?: number;
      recall?: number;
      buildMs?: number;
      k?: number;
      efSearch?: number;
    };
    onnxruntimeWebgpu?: { p50?: number; p99?: number; error?: string };
    /** The CPU path on the same requests (absent in reports from before it was measured). */
    cpuPath?: {
      auto: { backend: string; reason: string | null };
      backend: string;
      search: string | null;
      coldMs: number;
      total: { p50: number; p99: number; n: number };
      stagesP50: Record<string, number>;
      recallVsWebgpu: number | null;
      k: number;
    };
  }[];
  /** The user tower alone at the trainer's default shape (absent in reports from before it was measured). */
  userTower?: {
    N: number;
    error?: string;
    shape?: { L: number; fieldDim: number; heads: number; userHidden: number; D: number };
    cpu?: { p50: number; p99: number; n: number };
    /** What the CPU path ran: 'CpuUserTower'; absent in reports from before it, which ran userTowerReference. */
    cpuTower?: string;
    webgpu?: { p50?: number; p99?: number; n?: number; error?: string };
    maxAbsDiff?: number | null;
  } | null;
}

/** bench:runtime's JSON as rows: recommend() per size, its retrieval stage vs hnswlib, its ranking stage vs
 * onnxruntime-web. */
export function runtimeTable(j: RuntimeJson, ctx: Pick<Context, 'versions'>): Table {
  const chromium = /(?:Headless)?Chrome\/([\d.]+)/.exec(j.userAgent ?? '')?.[1] ?? null;
  if (chromium) ctx.versions.chromium = chromium;
  const rows: Row[] = [];
  const p50only = (median: number | null | undefined, runs: number): Stat | null =>
    median === null || median === undefined ? null : { median, p99: null, runs };
  for (const r of j.results) {
    if (r.error) {
      rows.push({
        case: `recommend() N=${r.N}`,
        params: { N: r.N },
        vireo: skipped('Engine.recommend()', `failed: ${r.error}`),
        peer: null,
        ratio: null,
      });
      continue;
    }
    const total: Figure = {
      who: `Engine.recommend() (${r.backend})`,
      ms: { median: r.warm.total.p50, p99: r.warm.total.p99, runs: r.warm.total.n },
      rate: null,
    };
    rows.push({
      case: `recommend() N=${r.N}`,
      params: { N: r.N },
      vireo: total,
      peer: null,
      ratio: null,
      perItemNs: (r.warm.total.p50 * 1e6) / r.N,
      extra: { 'cold start ms': r.cold.totalMs, 'user tower P50 ms': r.warm.stagesP50.userTower ?? null },
    });
    const h = r.hnswlibWasm;
    const retrieval: Figure = {
      who: 'retrieval stage (WGSL brute force, exact)',
      ms: p50only(r.warm.stagesP50.retrieval, r.warm.total.n),
    };
    const hnsw: Figure =
      h.skipped || h.p50 === undefined
        ? skipped(
            'hnswlib-wasm',
            typeof h.skipped === 'string'
              ? h.skipped
              : 'index build too slow at this size on this machine (over --hnsw-max)',
          )
        : {
            who: `hnswlib-wasm k=${h.k}${h.efSearch ? ` efSearch ${h.efSearch}` : ''} (approximate)`,
            ms: { median: h.p50, p99: h.p99 ?? null, runs: h.n ?? 0 },
          };
    rows.push({
      case: `retrieval N=${r.N}`,
      params: { N: r.N },
      vireo: retrieval,
      peer: hnsw,
      ratio: ratioOf(retrieval, hnsw),
      perItemNs: retrieval.ms ? (retrieval.ms.median * 1e6) / r.N : null,
      extra: h.recall === undefined ? undefined : { 'hnswlib recall': h.recall, 'hnswlib build ms': h.buildMs ?? null },
    });
    const ranking: Figure = { who: 'ranking stage (WGSL DLRM)', ms: p50only(r.warm.stagesP50.ranking, r.warm.total.n) };
    const ortWeb: Figure = {
      who: 'onnxruntime-web wasm',
      ms: { median: r.onnxruntimeWasm.p50, p99: r.onnxruntimeWasm.p99, runs: r.onnxruntimeWasm.n },
    };
    const webgpuEp = r.onnxruntimeWebgpu;
    rows.push({
      case: `rank ${r.onnxruntimeWasm.candidates} candidates N=${r.N}`,
      params: { N: r.N },
      vireo: ranking,
      peer: ortWeb,
      ratio: ratioOf(ranking, ortWeb),
      extra: webgpuEp ? { 'onnxruntime-web webgpu EP P50 ms': webgpuEp.p50 ?? webgpuEp.error ?? null } : undefined,
    });
    const c = r.cpuPath;
    if (!c || r.backend === 'cpu') continue;
    // The CPU path: recommend() beside the WebGPU path in the same page, its stages beside the peers alone.
    const cpuTotal: Figure = {
      who: `Engine.recommend() CPU path (${c.search ?? 'exact'} search; auto picks ${c.auto.backend})`,
      ms: { median: c.total.p50, p99: c.total.p99, runs: c.total.n },
    };
    const onWebgpu: Figure = { ...total, who: `Engine.recommend() on ${r.backend}, same page` };
    rows.push({
      case: `recommend() CPU path N=${r.N}`,
      params: { N: r.N },
      vireo: cpuTotal,
      peer: onWebgpu,
      ratio: ratioOf(cpuTotal, onWebgpu),
      perItemNs: (c.total.p50 * 1e6) / r.N,
      extra: {
        'cold start ms': c.coldMs,
        // Step 1 (no edge here): the on-device history, from memory after each user's first read.
        'features P50 ms': c.stagesP50.features ?? null,
        'user tower P50 ms': c.stagesP50.userTower ?? null,
        [`recall@${c.k} vs exact (WebGPU)`]: c.recallVsWebgpu,
      },
    });
    const cpuRetrieval: Figure = {
      who: `CPU path retrieval stage (${c.search === 'hnsw' ? 'hnswlib-wasm' : 'wasm SIMD exact scan'})`,
      ms: p50only(c.stagesP50.retrieval, c.total.n),
    };
    rows.push({
      case: `retrieval CPU path N=${r.N}`,
      params: { N: r.N },
      vireo: cpuRetrieval,
      peer: hnsw,
      ratio: ratioOf(cpuRetrieval, hnsw),
      perItemNs: cpuRetrieval.ms ? (cpuRetrieval.ms.median * 1e6) / r.N : null,
    });
    const cpuRanking: Figure = {
      who: 'CPU path ranking stage (onnxruntime-web wasm)',
      ms: p50only(c.stagesP50.ranking, c.total.n),
    };
    rows.push({
      case: `rank ${r.onnxruntimeWasm.candidates} candidates CPU path N=${r.N}`,
      params: { N: r.N },
      vireo: cpuRanking,
      peer: ortWeb,
      ratio: ratioOf(cpuRanking, ortWeb),
    });
  }
  // The user tower alone (issue #17's yardstick: a new history encoder within 1.5× of it), CPU path beside WebGPU.
  const t = j.userTower;
  if (t?.cpu && t.shape) {
    const sh = t.shape;
    const onCpu: Figure = {
      who: `user tower alone, CPU path (${t.cpuTower ?? 'TypeScript reference'})`,
      ms: { median: t.cpu.p50, p99: t.cpu.p99, runs: t.cpu.n },
    };
    const w = t.webgpu;
    const onGpu: Figure =
      w?.p50 === undefined
        ? skipped('user tower alone, WebGPU (UserTower)', `failed: ${w?.error ?? 'not measured'}`)
        : {
            who: 'user tower alone, WebGPU (UserTower: submit + readback)',
            ms: { median: w.p50, p99: w.p99 ?? null, runs: w.n ?? 0 },
          };
    rows.push({
      case: `user tower L=${sh.L} W=${sh.fieldDim} H=${sh.heads} hidden ${sh.userHidden} D=${sh.D}`,
      params: { L: sh.L },
      vireo: onCpu,
      peer: onGpu,
      ratio: ratioOf(onCpu, onGpu),
      extra: { 'max |Δu| CPU vs WebGPU': t.maxAbsDiff ?? null },
    });
  }
  const reasons = [...new Set(j.results.map((r) => r.cpuPath?.auto.reason).filter((x): x is string => Boolean(x)))];
  const a = j.adapter;
  return {
    id: 'runtime',
    title: 'recommend() in headless Chromium',
    about:
      `\`pnpm bench:runtime\`: the Engine in headless Chromium${chromium ? ` ${chromium}` : ''} on ` +
      `random-weight bundles of ${j.results.map((r) => r.N.toLocaleString('en')).join(' / ')} items (D = ` +
      `${j.dim}), warm recommend() (k = 20 of 1,000 candidates ranked) P50 and P99, and the retrieval and ranking ` +
      `stages' P50 each beside its peer. Peers in the same page: hnswlib-wasm (approximate, k = 100, with its ` +
      `recall) beside the exact retrieval stage, onnxruntime-web (wasm) scoring the same 1,000 candidates beside ` +
      `the ranking stage. Stage times are P50 only (no P99 is kept per stage).` +
      ' The CPU path rows: the backend `auto` chooses on a CPU adapter (user tower in TypeScript: CpuUserTower, ' +
      'userTowerReference before it, wasm SIMD exact scan, onnxruntime-web ranking) on the same requests, ' +
      'beside the WebGPU path in the same page, ' +
      `with recall@20 of its top items against the WebGPU path's exact search. Every user has a full ` +
      "on-device history (the bundle's L clicks). The user tower row: the tower alone at the trainer's " +
      "default shape (random weights, a full history), the CPU path's tower beside WebGPU's UserTower.",
    notes: reasons.map((why) => `\`backend: 'auto'\` here: ${why}.`),
    rows,
    adapter: a
      ? {
          vendor: a.vendor,
          architecture: a.architecture,
          device: a.device ?? '',
          description: a.description,
          isFallbackAdapter: /swiftshader/i.test(a.architecture),
          backend: `Chromium${chromium ? ` ${chromium}` : ''}`,
        }
      : null,
  };
}

interface EdgeRun {
  route: string;
  connections: number;
  req_per_s: number;
  p50_ms: number;
  p99_ms: number;
  duration_s: number;
  /** `--workers` of the edge (absent in older runs: 1). */
  workers?: number;
  events_per_s?: number;
  /** CPU of the load generator and of the server during the row, in cores; the 1-minute load average after it. */
  client_cpu_cores?: number | null;
  server_cpu_cores?: number | null;
  /** The server's CPU time per answered request, ms (robust to what else runs on the machine). */
  server_cpu_ms_per_req?: number | null;
  load_1m?: number;
}

interface EdgeJson {
  /** What drove the GET rows, e.g. "wrk 4.1.0 (one thread)" (absent in older runs: autocannon). */
  settings?: { get_client?: string };
  loopback: EdgeRun[];
  /** The bare Hono + @hono/node-server + better-sqlite3 one-row handler (absent in older runs). */
  bare?: EdgeRun[];
  /** The same stack storing each 100-event batch in one table with one index (absent in older runs). */
  bare_events?: EdgeRun[];
  /** The same stack writing the edge's rows per event by hand, one turn's batches per transaction (ditto). */
  bare_realtime?: EdgeRun[];
  redis: {
    skipped?: string;
    version?: string;
    results?: {
      command: string;
      connections: number;
      req_per_s: number;
      p50_ms: number;
      p99_ms: number;
      client_cpu_cores?: number | null;
    }[];
  };
}

/**
 * bench:edge's JSON as rows: a feature read beside the bare Hono + better-sqlite3 one-row handler at
 * the same connections (the stack's own limit), the batch lookup and the event batches beside the
 * redis command they do the work of; every row also gives its req/s over redis GET's.
 */
export function edgeTable(j: EdgeJson, ctx: Pick<Context, 'versions'>): Table {
  const redisVersion = /v=([\d.]+)/.exec(j.redis.version ?? '')?.[1] ?? null;
  if (redisVersion) ctx.versions.redis = redisVersion;
  const redisRow = (cmd: string, connections: number) =>
    j.redis.results?.find((x) => x.command === cmd && x.connections === connections);
  const peerCommand = (route: string) => (route.includes('online') ? 'MGET (100 keys)' : 'SET');
  const figure = (who: string, r: { p50_ms: number; p99_ms: number; req_per_s: number }, runs: number): Figure => ({
    who,
    ms: { median: r.p50_ms, p99: r.p99_ms, runs },
    rate: { value: r.req_per_s, unit: 'req/s' },
  });
  const rows: Row[] = j.loopback.flatMap((l) => {
    const workers = l.workers ?? 1;
    const vireo = figure(
      `vireo-edge (Node, SQLite${workers > 1 ? `, --workers ${workers}` : ''})`,
      l,
      Math.round(l.req_per_s * l.duration_s),
    );
    const isGet = l.route.startsWith('GET');
    const isEvents = l.route.includes('events');
    const bare = (isGet ? j.bare : isEvents ? j.bare_events : undefined)?.find((b) => b.connections === l.connections);
    const redisGet = redisRow('GET', l.connections);
    let peer: Figure;
    if (l.route.includes(' during '))
      peer = skipped('none', 'a mixed load: compare with the rows of each route alone at 32 connections');
    else if (isGet)
      peer = bare
        ? figure('bare Hono + better-sqlite3, one row', bare, Math.round(bare.req_per_s * bare.duration_s))
        : skipped('bare Hono + better-sqlite3', 'not in this run');
    else if (bare)
      peer = figure('bare Hono + better-sqlite3, 100 rows', bare, Math.round(bare.req_per_s * bare.duration_s));
    else {
      const cmd = peerCommand(l.route);
      const p = redisRow(cmd, l.connections);
      peer = p
        ? figure(`redis-server ${redisVersion ?? ''} ${cmd}`.replace('  ', ' '), p, 0)
        : skipped('redis-server', j.redis.skipped ?? 'no matching redis-benchmark row');
    }
    const caseName =
      `${l.route}, ${l.connections} connection${l.connections === 1 ? '' : 's'}` +
      (workers > 1 ? `, ${workers} workers` : '');
    const row = (name: string, peer: Figure, peerRun: EdgeRun | undefined): Row => ({
      case: name,
      params: { connections: l.connections, workers },
      vireo,
      peer,
      ratio: ratioOf(vireo, peer),
      extra: {
        'req/s ÷ peer req/s': peer.rate ? l.req_per_s / peer.rate.value : null,
        'req/s ÷ redis GET req/s': redisGet ? l.req_per_s / redisGet.req_per_s : null,
        'events/s': l.events_per_s ?? null,
        'client CPU (cores)': l.client_cpu_cores ?? null,
        'server CPU (cores)': l.server_cpu_cores ?? null,
        'server CPU ms / req': l.server_cpu_ms_per_req ?? null,
        'peer server CPU ms / req': peerRun?.server_cpu_ms_per_req ?? null,
        'load (1 min)': l.load_1m ?? null,
      },
    });
    // The one-worker event rows again, beside the same stack doing the edge's writes by hand.
    const byHand =
      isEvents && workers === 1 ? j.bare_realtime?.find((b) => b.connections === l.connections) : undefined;
    return [
      row(caseName, peer, bare),
      ...(byHand
        ? [
            row(
              `${caseName}, beside the edge's writes by hand`,
              figure(
                "bare Hono + better-sqlite3, the edge's writes row by row",
                byHand,
                Math.round(byHand.req_per_s * byHand.duration_s),
              ),
              byHand,
            ),
          ]
        : []),
    ];
  });
  const getClient = j.settings?.get_client ?? 'autocannon';
  const byWrk = getClient.startsWith('wrk');
  return {
    id: 'edge',
    title: 'Edge feature service under load',
    about:
      '`pnpm --filter @vireo/edge-worker bench:edge --skip-in-process`: the Node edge in its own process ' +
      '(`--workers` 1, then 2) driven over loopback by autocannon' +
      (byWrk
        ? `, its GET rows and their peer's by ${getClient} (a C client, as redis-benchmark is, so that the load ` +
          'generator takes as little of the shared cores on either side; `--client autocannon` for the old way)'
        : '') +
      ' (latency per response, P50 and P99; runs = ' +
      'responses; the first row of each route after a warm-up; before the GET rows every user is read once per ' +
      "worker, so they measure warm caches: the edge's kept answers, SQLite's pages; `--cold` skips that). GET one " +
      "user's features beside the bare Hono + " +
      '@hono/node-server + better-sqlite3 handler reading one row (the same stack without the edge: its limit; ' +
      "each of its rows taken right after the edge's row at the same connections), " +
      'the 100-user online lookup beside redis MGET of 100 keys, a batch of 100 events beside the same bare stack ' +
      'storing the same JSON body as 100 rows of one table with one index in one transaction per request, with ' +
      "the edge's durability (WAL, synchronous=NORMAL: acknowledged = committed) and nothing else (no " +
      'validation, event log or real-time features: the limit for events; redis SET in runs without it), and ' +
      "again beside the same stack doing the edge's writes the way one would by hand (per event: the event with " +
      'its event_id key, a history row for a positive, the popularity and category counters with the category ' +
      'read from a features table, both activity rows; a prepared statement per row, the batches of one turn of ' +
      'the event loop in one transaction; no validation or history trim: the limit for the same work), ' +
      'GET features and event batches driven at the same time (16 connections each: "during" rows, no peer; ' +
      "the client and server CPU are the pair's), " +
      'redis-server driven by redis-benchmark in the same run (256-byte values). The ratio is of P50 latencies; ' +
      'req/s ratios have their own columns. Client CPU is the load generator ' +
      `(${byWrk ? 'wrk or autocannon' : 'autocannon'}), server CPU the edge with its workers, in cores (1 = one ` +
      'core busy), over the row; load is the 1-minute load average after it.',
    notes: (j.redis.results ?? [])
      .filter((r) => r.command === 'GET' && typeof r.client_cpu_cores === 'number')
      .map(
        (r) =>
          `redis-benchmark (GET, ${r.connections} connection${r.connections === 1 ? '' : 's'}) took ` +
          `${r.client_cpu_cores} cores itself, ${r.req_per_s} req/s.`,
      ),
    rows,
  };
}

/** CPU, cores, memory, OS and a discrete GPU's name, for the report's heading. */
export function describeMachine(name?: string): Machine {
  const c = cpus();
  const smi = spawnSync('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader'], {
    encoding: 'utf8',
  });
  const gpu = smi.status === 0 ? smi.stdout.trim().split('\n')[0].replace(', ', ', driver ') : null;
  const cpu = c[0]?.model.trim() ?? 'unknown CPU';
  const slug = (s: string) =>
    s
      .toLowerCase()
      .replace(/\(r\)|\(tm\)|nvidia|corporation/g, '')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '');
  return {
    name: name ?? (gpu ? `${slug(gpu.split(',')[0])}-${c.length}cpu` : `${slug(cpu)}-${c.length}cpu`),
    cpu,
    cores: c.length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    os: `${osType()} ${release()}`,
    gpu,
  };
}

/** The versions known before any section runs; sections add chromium, torch, redis. */
function baseVersions(): Record<string, string | null> {
  // Resolved from this module (works in the bundle of bench/gpu/ too), else read from the
  // workspace package's node_modules (some packages do not export their package.json).
  const req = createRequire(import.meta.url);
  const pkg = (name: string, where: string) => {
    try {
      return (req(`${name}/package.json`) as { version: string }).version;
    } catch {
      /* not exported or not beside this module */
    }
    const file = join(REPO, where, 'node_modules', name, 'package.json');
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : null;
  };
  const torch = existsSync(PYTHON)
    ? spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' })
    : null;
  const ortNode = pkg('onnxruntime-node', 'packages/trainer');
  const ortWeb = pkg('onnxruntime-web', 'packages/runtime-web');
  return {
    node: process.version,
    webgpu: pkg('webgpu', 'packages/trainer'),
    chromium: null,
    onnxruntime: [ortNode && `node ${ortNode}`, ortWeb && `web ${ortWeb}`].filter(Boolean).join(', ') || null,
    torch: torch?.status === 0 ? torch.stdout.trim() : null,
    'hnswlib-wasm': pkg('hnswlib-wasm', 'packages/runtime-web'),
  };
}

const FLAGS = {
  out: { type: 'string' },
  machine: { type: 'string' },
  profile: { type: 'string' },
  only: { type: 'string' },
  'skip-browser': { type: 'boolean' },
  'skip-edge': { type: 'boolean' },
  'no-torch': { type: 'boolean' },
  'torch-device': { type: 'string' },
  'topk-sizes': { type: 'string' },
  'topk-int8-sizes': { type: 'string' },
  'runtime-sizes': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const HELP =
  'usage: vireo bench all [--out FILE] [--machine NAME] [--profile full|quick] [--only a,b] [--skip-browser] ' +
  '[--skip-edge] [--no-torch] [--torch-device auto|cpu|cuda] [--topk-sizes N,N] [--topk-int8-sizes N,N]' +
  ' [--runtime-sizes N,N]' +
  `

Runs every benchmark with its peers in one run and writes one report (schema ${SCHEMA}, see
packages/trainer/src/bench/schema.ts) to --out (default bench/results/<date>-<machine>.json;
a run with --only adds its sections to that file).
Sections: ${SECTIONS.map((s) => s.id).join(', ')}. --skip-browser and --skip-edge leave out the
Chromium and edge sections (the Dawn ones need only Node). --profile defaults to quick on a CPU
adapter (SwiftShader), full otherwise. --topk-sizes and --topk-int8-sizes replace the profile's
catalogue sizes in the top-k scaling section ('' for none), e.g. to measure one size again;
--runtime-sizes the catalogues of recommend() in Chromium.
`;

/**
 * Runs the suite and returns the report (also written to `out`).
 * @example const report = await runAll({ out: 'bench/results/x.json', skipBrowser: true });
 */
export async function runAll(opts: {
  out?: string;
  machine?: string;
  profile?: Profile['name'];
  only?: string[];
  skipBrowser?: boolean;
  skipEdge?: boolean;
  noTorch?: boolean;
  torchDevice?: string;
  topkSizes?: number[];
  topkInt8Sizes?: number[];
  runtimeSizes?: number[];
  log?: (line: string) => void;
}): Promise<{ report: Report; out: string }> {
  const started = Date.now();
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const machine = {
    ...describeMachine(opts.machine),
    loadAverage: { start: loadavg().map((x) => Math.round(x * 100) / 100), end: [] as number[] },
  };
  const gpu = await openGpu();
  try {
    const base = PROFILES[opts.profile ?? (isCpuAdapter(gpu) ? 'quick' : 'full')];
    const profile = {
      ...base,
      topkSizes: opts.topkSizes ?? base.topkSizes,
      topkInt8Sizes: opts.topkInt8Sizes ?? base.topkInt8Sizes,
      runtimeSizes: opts.runtimeSizes?.join(',') ?? base.runtimeSizes,
    };
    const ctx: Context = {
      gpu,
      profile,
      torchDevice: opts.torchDevice ?? 'auto',
      noTorch: Boolean(opts.noTorch),
      copy: null,
      matmul: null,
      versions: baseVersions(),
      notes: [],
      log,
    };
    if (profile.note) ctx.notes.push(profile.note);
    const tables: Table[] = [];
    for (const section of SECTIONS) {
      if (opts.only && !opts.only.includes(section.id)) continue;
      if ((section.needs === 'browser' && opts.skipBrowser) || (section.needs === 'edge' && opts.skipEdge)) {
        ctx.notes.push(`Section \`${section.id}\` was skipped (--skip-${section.needs}).`);
        continue;
      }
      log(`${section.id}: ${section.title}`);
      const t0 = Date.now();
      try {
        const table = await section.run(ctx);
        table.notes.push(`Section time ${((Date.now() - t0) / 1000).toFixed(0)} s.`);
        tables.push(table);
      } catch (err) {
        // One broken section must not lose the others' figures: the report says what failed.
        const message = err instanceof Error ? err.message : String(err);
        log(`  ${section.id} failed: ${message}`);
        ctx.notes.push(`Section \`${section.id}\` failed: ${message}`);
      }
    }
    machine.loadAverage.end = loadavg().map((x) => Math.round(x * 100) / 100);
    if (isCpuAdapter(gpu))
      ctx.notes.push(
        `The adapter is a CPU implementation of WebGPU ` +
          `(${gpu.info.architecture || gpu.info.description}): its "GPU" figures ` +
          `are CPU figures, and its copy bandwidth is a CPU memcpy through a shader.`,
      );
    if (machine.loadAverage.start[0] > machine.cores * 0.75 || machine.loadAverage.end[0] > machine.cores * 0.75) {
      ctx.notes.push(
        `The machine was shared while this ran (load average ${machine.loadAverage.start[0]} at start, ` +
          `${machine.loadAverage.end[0]} at end on ${machine.cores} cores): other processes took CPU time, so the ` +
          `figures are noisy and slower than on an idle machine; the ratios within one run (Vireo ` +
          `and its peer measured minutes apart under similar load) are steadier than the absolute numbers.`,
      );
    }
    const adapter: Adapter = { ...gpu.info, backend: `Dawn (npm webgpu ${ctx.versions.webgpu ?? '?'})` };
    const report: Report = {
      schema: SCHEMA,
      date: new Date(started).toISOString(),
      machine,
      adapter,
      versions: ctx.versions,
      wallSeconds: Math.round((Date.now() - started) / 1000),
      notes: ctx.notes,
      tables,
    };
    const out = opts.out ?? join(REPO, 'bench/results', `${report.date.slice(0, 10)}-${machine.name}.json`);
    // A partial run (--only) into the day's default file adds to it instead of erasing its other sections.
    return { report: writeReport(out, report, { merge: !opts.out && Boolean(opts.only?.length) }), out };
  } finally {
    gpu.destroy();
  }
}

/**
 * Writes `report` to `out`. With `merge` and a report already there (the same machine's earlier run
 * of the day), the two become one (mergeReports: this run's rows replace the same cases, the rest
 * stay). Returns what was written.
 */
export function writeReport(out: string, report: Report, opts: { merge: boolean }): Report {
  const written =
    opts.merge && existsSync(out)
      ? mergeReports([checkReport(JSON.parse(readFileSync(out, 'utf8')), out), report])
      : report;
  writeFileSync(out, JSON.stringify(written, null, 2) + '\n');
  return written;
}

/** `vireo bench all [flags]`; returns the exit code. */
export async function benchAll(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, FLAGS, 'vireo bench all');
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.profile !== undefined && !(values.profile in PROFILES))
    throw new UsageError(`--profile must be one of ${Object.keys(PROFILES).join(', ')}, got '${values.profile}'.`);
  const only = values.only
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const id of only ?? [])
    if (!SECTIONS.some((s) => s.id === id))
      throw new UsageError(`unknown section '${id}': expected some of ${SECTIONS.map((s) => s.id).join(', ')}.`);
  if (values['torch-device'] !== undefined && !['auto', 'cpu', 'cuda'].includes(values['torch-device']))
    throw new UsageError(`--torch-device must be auto, cpu or cuda, got '${values['torch-device']}'.`);
  const sizes = (flag: 'topk-sizes' | 'topk-int8-sizes' | 'runtime-sizes') => {
    const v = values[flag];
    if (v === undefined) return undefined;
    const list = v
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)
      .map(Number);
    for (const n of list)
      if (!Number.isInteger(n) || n < 1000)
        throw new UsageError(`--${flag} must be comma-separated item counts of at least 1000 (k = 1000), got '${v}'.`);
    return list;
  };
  const topkSizes = sizes('topk-sizes');
  const topkInt8Sizes = sizes('topk-int8-sizes');
  const { report, out } = await runAll({
    out: values.out,
    machine: values.machine,
    profile: values.profile as Profile['name'] | undefined,
    only,
    skipBrowser: values['skip-browser'],
    skipEdge: values['skip-edge'],
    noTorch: values['no-torch'],
    torchDevice: values['torch-device'],
    topkSizes,
    topkInt8Sizes,
    runtimeSizes: sizes('runtime-sizes'),
  });
  process.stdout.write(
    `wrote ${out}: ${report.tables.length} tables, ` +
      `${report.tables.reduce((s, t) => s + t.rows.length, 0)} rows, ${report.wallSeconds} s\n`,
  );
  for (const n of report.notes) process.stdout.write(`note: ${n}\n`);
  return report.notes.some((n) => / failed: /.test(n)) ? 1 : 0;
}
