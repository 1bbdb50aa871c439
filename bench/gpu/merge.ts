// Turns what bench/gpu/run.sh brought back from the GPU machine into one report in
// bench/results/ (schema vireo-bench/1), then re-renders BENCHMARKS.md:
//   bench-kernels.json + bench-train.json   `vireo bench all` sections, run there (one report each)
//   torch.json                              bench/gpu/torch_peers.py: PyTorch CUDA DLRM scoring and
//                                           training step — set as the ranking rows' peers
//   gpu.txt                                 nvidia-smi's card and driver, into the notes
// Usage: node --import ./packages/trainer/bin/register.mjs bench/gpu/merge.ts OUTDIR
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkReport, ratioOf, type Figure, type Report, type Row } from '../../packages/trainer/src/bench/schema.ts';
import { writeBenchmarksMd } from '../render.ts';

interface TorchCase { name: string; medianMs: number; p99Ms: number; runs: number; samplesPerSecond?: number }

const dir = process.argv[2];
if (!dir || !existsSync(dir)) {
  console.error('usage: bench/gpu/merge.ts OUTDIR (the folder bench/gpu/run.sh wrote)');
  process.exit(2);
}
const parts = ['bench-kernels.json', 'bench-train.json'].filter((f) => existsSync(join(dir, f))).map((f) => checkReport(JSON.parse(readFileSync(join(dir, f), 'utf8')), join(dir, f)));
if (!parts.length) {
  console.error(`bench/gpu/merge.ts: ${dir} holds neither bench-kernels.json nor bench-train.json; did run.sh reach the benchmarks? (see its log.txt)`);
  process.exit(1);
}
const report: Report = { ...parts[0], tables: parts.flatMap((p) => p.tables), notes: [...new Set(parts.flatMap((p) => p.notes))], wallSeconds: parts.reduce((s, p) => s + p.wallSeconds, 0) };
const gpu = existsSync(join(dir, 'gpu.txt')) ? readFileSync(join(dir, 'gpu.txt'), 'utf8').trim().split('\n').slice(1).join('; ') : null;
if (gpu) report.notes.push(`nvidia-smi (name, driver, memory, max SM clock): ${gpu}. Run by bench/gpu/run.sh through Dawn on NVIDIA's Vulkan driver.`);

const torchFile = join(dir, 'torch.json');
const torch = existsSync(torchFile) ? (JSON.parse(readFileSync(torchFile, 'utf8')) as { torch: string; device: string; cases: TorchCase[] }) : null;
const ranking = report.tables.find((t) => t.id === 'ranking');
if (torch && ranking) {
  const who = `PyTorch ${torch.torch} CUDA (${torch.device}), same DLRM shape`;
  const find = (prefix: string) => torch.cases.find((c) => c.name.startsWith(prefix));
  const fig = (c: TorchCase, rate: Figure['rate']): Figure => ({ who, ms: { median: c.medianMs, p99: c.p99Ms, runs: c.runs }, rate });
  const score = find('dlrm score');
  const step = find('dlrm train step');
  const rows: Row[] = [];
  for (const row of ranking.rows) {
    rows.push(row);
    if (row.case.startsWith('score') && score) {
      const peer = fig(score, { value: 1e6 / score.medianMs, unit: 'candidates/s' });
      rows.push({ ...row, case: `${row.case} (vs PyTorch)`, peer, ratio: ratioOf(row.vireo, peer), extra: undefined });
    }
    if (row.case.startsWith('train step') && step && row.peer?.ms == null) {
      row.peer = fig(step, { value: step.samplesPerSecond ?? 0, unit: 'samples/s' });
      row.ratio = ratioOf(row.vireo, row.peer);
    }
  }
  ranking.rows = rows;
  ranking.notes.push(`PyTorch peers from bench/gpu/torch_peers.py in the same session on the same card: scoring includes the inputs' upload and the scores' read-back as the WGSL figure does; its training step uses element-wise Adagrad for the tables (PyTorch has no row-wise one).`);
}

const out = join('bench/results', `${report.date.slice(0, 10)}-${report.machine.name}.json`);
writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
console.log(`wrote ${out} (${report.tables.length} tables); wrote ${writeBenchmarksMd()}`);
