// Turns what bench/gpu/run.sh brought back from the GPU machine into one report in
// bench/results/ (schema vireo-bench/1), then re-renders BENCHMARKS.md:
//   bench-*.json    `vireo bench all` sections run there (run.sh writes bench-kernels.json and
//                   bench-train.json; PyTorch CUDA peers included); a section run again later
//                   replaces its earlier table
//   gpu.txt         nvidia-smi's card and driver, into the notes
// Usage: node --import ./packages/trainer/bin/register.mjs bench/gpu/merge.ts OUTDIR
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkReport, type Report } from '../../packages/trainer/src/bench/schema.ts';
import { writeBenchmarksMd } from '../render.ts';

const dir = process.argv[2];
if (!dir || !existsSync(dir)) {
  console.error('usage: bench/gpu/merge.ts OUTDIR (the folder bench/gpu/run.sh wrote)');
  process.exit(2);
}
// run.sh's two files first, then any other bench-*.json (a section re-run later on the same kind of
// machine, e.g. `vireo bench all --only ranking --out OUTDIR/bench-ranking.json`), oldest first.
const files = readdirSync(dir).filter((f) => /^bench-.*\.json$/.test(f));
const parts = files.map((f) => checkReport(JSON.parse(readFileSync(join(dir, f), 'utf8')), join(dir, f))).sort((a, b) => a.date.localeCompare(b.date));
if (!parts.length) {
  console.error(`bench/gpu/merge.ts: ${dir} holds no bench-*.json; did run.sh reach the benchmarks? (see its log.txt)`);
  process.exit(1);
}
// A later run of a section replaces the earlier table of the same id, and the report says so.
const tables = new Map<string, Report['tables'][number]>();
const notes = new Set(parts.flatMap((p) => p.notes));
for (const p of parts) {
  for (const t of p.tables) {
    if (tables.has(t.id)) notes.add(`${t.title}: from a later run of that section on the same machine kind (${p.date.slice(0, 16).replace('T', ' ')} UTC), which replaces the first run's table.`);
    tables.set(t.id, t);
  }
}
const report: Report = { ...parts[0], tables: [...tables.values()], notes: [...notes], wallSeconds: parts.reduce((s, p) => s + p.wallSeconds, 0) };
const gpu = existsSync(join(dir, 'gpu.txt')) ? readFileSync(join(dir, 'gpu.txt'), 'utf8').trim().split('\n').slice(1).join('; ') : null;
if (gpu) report.notes.push(`nvidia-smi (name, driver, memory, max SM clock): ${gpu}. Run by bench/gpu/run.sh through Dawn on NVIDIA's Vulkan driver.`);

const out = join('bench/results', `${report.date.slice(0, 10)}-${report.machine.name}.json`);
writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
console.log(`wrote ${out} (${report.tables.length} tables); wrote ${writeBenchmarksMd()}`);
