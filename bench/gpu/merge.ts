// Turns what bench/gpu/run.sh brought back from the GPU machine into one report in
// bench/results/ (schema vireo-bench/1), then re-renders BENCHMARKS.md:
//   bench-*.json    `vireo bench all` sections run there (run.sh writes bench-kernels.json and
//                   bench-train.json; PyTorch CUDA peers included); cases of a section run
//                   again later replace their earlier rows
//   gpu.txt         nvidia-smi's card and driver, into the notes
// Usage: node --import ./packages/trainer/bin/register.mjs bench/gpu/merge.ts OUTDIR
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkReport, mergeReports } from '@vireo/trainer/bench/schema';
import { writeBenchmarksMd } from '../render.ts';

const dir = process.argv[2];
if (!dir || !existsSync(dir)) {
  console.error('usage: bench/gpu/merge.ts OUTDIR (the folder bench/gpu/run.sh wrote)');
  process.exit(2);
}
// run.sh's two files and any other bench-*.json (a section re-run later on the same kind of
// machine, e.g. `vireo bench all --only ranking --out OUTDIR/bench-ranking.json`).
const files = readdirSync(dir).filter((f) => /^bench-.*\.json$/.test(f));
const parts = files.map((f) => checkReport(JSON.parse(readFileSync(join(dir, f), 'utf8')), join(dir, f)));
if (!parts.length) {
  console.error(`bench/gpu/merge.ts: ${dir} holds no bench-*.json; did run.sh reach the benchmarks? (see its log.txt)`);
  process.exit(1);
}
const report = mergeReports(parts);
const gpu = existsSync(join(dir, 'gpu.txt'))
  ? readFileSync(join(dir, 'gpu.txt'), 'utf8').trim().split('\n').slice(1).join('; ')
  : null;
if (gpu)
  report.notes.push(
    `nvidia-smi (name, driver, memory, max SM clock): ${gpu}. ` +
      `Run by bench/gpu/run.sh through Dawn on NVIDIA's Vulkan driver.`,
  );

const out = join('bench/results', `${report.date.slice(0, 10)}-${report.machine.name}.json`);
writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
console.log(`wrote ${out} (${report.tables.length} tables); wrote ${writeBenchmarksMd()}`);
