// Turns what bench/gpu/run.sh brought back from the GPU machine into one report in
// bench/results/ (schema vireo-bench/1), then re-renders BENCHMARKS.md:
//   bench-kernels.json + bench-train.json   `vireo bench all` sections, run there (one report each,
//                                           PyTorch CUDA peers included)
//   gpu.txt                                 nvidia-smi's card and driver, into the notes
// Usage: node --import ./packages/trainer/bin/register.mjs bench/gpu/merge.ts OUTDIR
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkReport, type Report } from '../../packages/trainer/src/bench/schema.ts';
import { writeBenchmarksMd } from '../render.ts';

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

const out = join('bench/results', `${report.date.slice(0, 10)}-${report.machine.name}.json`);
writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
console.log(`wrote ${out} (${report.tables.length} tables); wrote ${writeBenchmarksMd()}`);
