// `vireo bench kernels`: every kernel case timed on the adapter beside its CPU reference, with
// GB/s and GFLOP/s, and the copy kernel's bandwidth as the memory yardstick. Table or --json.
import { writeFileSync } from 'node:fs';
import { numberFlag, parseFlags, UsageError } from '../cli/args.ts';
import { measure, table, type Timing } from '../bench/harness.ts';
import { kernelBenches, timeKernel } from '../bench/kernels.ts';
import { openGpu } from '../node/gpu.ts';

export interface KernelBenchResult {
  kernel: string;
  case: string;
  gpu: Timing;
  cpu: Timing | null;
  gbps: number;
  gflops: number | null;
  /** Achieved bandwidth over the copy kernel's bandwidth (memory-bound cases). */
  ofCopy: number | null;
  speedupOverCpu: number | null;
}

const HELP = `usage: vireo bench [kernels|train|ranking|all] [flags]   (each takes --help)

  kernels   every kernel case on the adapter beside its CPU reference, GB/s against a copy
            kernel (--filter NAME, --runs N, --json, --out FILE)
  train     retrieval training samples/s per configuration beside PyTorch on the CPU
  ranking   DLRM scoring of 1,000 candidates beside onnxruntime-node, and training samples/s
  all       every benchmark with its peer in the same run → bench/results/ and BENCHMARKS.md
`;

const KERNELS_HELP = `usage: vireo bench kernels [--filter NAME] [--runs N] [--json] [--out FILE]

Times every kernel case on the adapter beside its CPU reference, with GB/s against a copy kernel.
  --filter NAME   only the kernels whose name contains NAME (the copy kernel always runs)
  --runs N        at least N timed runs per case after 2 warm-up runs (default 20; at least 300 ms)
  --json          the report as JSON on stdout instead of the table
  --out FILE      also write the report as JSON to FILE
`;

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'train') return (await import('../bench/train.ts')).benchTrain(argv.slice(1));
  if (argv[0] === 'ranking') return (await import('../bench/ranking.ts')).benchRanking(argv.slice(1));
  if (argv[0] === 'all') return (await import('../bench/all.ts')).benchAll(argv.slice(1));
  const { values, positionals } = parseFlags(
    argv,
    {
      json: { type: 'boolean' },
      out: { type: 'string' },
      runs: { type: 'string' },
      filter: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    'bench',
    true,
  );
  if (values.help) {
    process.stdout.write(positionals[0] === 'kernels' ? KERNELS_HELP : HELP);
    return 0;
  }
  const what = positionals[0] ?? 'kernels';
  if (what !== 'kernels') throw new UsageError(`unknown benchmark '${what}': expected kernels, train, ranking or all.`);
  const minRuns = numberFlag(values.runs, 'runs', 20, { integer: true, min: 1 });
  const gpu = await openGpu();
  const results: KernelBenchResult[] = [];
  let copyGbps = NaN;
  try {
    for (const bench of kernelBenches()) {
      if (values.filter && !bench.kernel.includes(values.filter) && bench.kernel !== 'copy') continue;
      const inst = await bench.setup(gpu);
      const perCall = await timeKernel(gpu, inst, { warmup: 2, minRuns, minMs: 300 });
      const cpuTime = inst.cpu ? await measure(inst.cpu, { warmup: 1, minRuns: 3, minMs: 200, maxRuns: 50 }) : null;
      inst.dispose();
      const gbps = bench.bytes / (perCall.median * 1e6);
      if (bench.kernel === 'copy') copyGbps = gbps;
      results.push({
        kernel: bench.kernel,
        case: bench.case,
        gpu: perCall,
        cpu: cpuTime,
        gbps,
        gflops: bench.flops ? bench.flops / (perCall.median * 1e6) : null,
        ofCopy: bench.limit === 'copy' || bench.kernel === 'copy' ? gbps / copyGbps : null,
        speedupOverCpu: cpuTime ? cpuTime.median / perCall.median : null,
      });
      if (!values.json) process.stderr.write(`  ${bench.kernel} ${bench.case}: ${perCall.median.toFixed(3)} ms\n`);
    }
    const report = { adapter: gpu.info, features: gpu.features, date: new Date().toISOString(), copyGbps, results };
    if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2));
    if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else {
      process.stdout.write(`adapter: ${gpu.info.vendor} ${gpu.info.architecture} ${gpu.info.description}\n\n`);
      process.stdout.write(
        table(
          [
            'kernel',
            'case',
            'GPU median ms',
            'GPU p99 ms',
            'GB/s',
            'of copy',
            'GFLOP/s',
            'CPU ref ms',
            'GPU/CPU speedup',
          ],
          results.map((r) => [
            r.kernel,
            r.case,
            r.gpu.median,
            r.gpu.p99,
            r.gbps,
            r.ofCopy === null ? '–' : `${(r.ofCopy * 100).toFixed(0)}%`,
            r.gflops ?? '–',
            r.cpu?.median ?? '–',
            r.speedupOverCpu === null ? '–' : `${r.speedupOverCpu.toFixed(1)}×`,
          ]),
        ) + '\n',
      );
    }
    return 0;
  } finally {
    gpu.destroy();
  }
}
