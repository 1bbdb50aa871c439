// Turns what bench/gpu/run.sh brought back from the GPU machine into one report in
// bench/results/ (schema vireo-bench/1), then re-renders BENCHMARKS.md:
//   bench-*.json    `vireo bench all` sections run there (run.sh writes bench-kernels.json and
//                   bench-train.json; PyTorch CUDA peers included); cases of a section run
//                   again later replace their earlier rows
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
// A later run of a section replaces the earlier rows of the same cases (and adds new ones), and
// the report says which.
const tables = new Map<string, Report['tables'][number]>();
const notes = new Set(parts.flatMap((p) => p.notes));
for (const p of parts) {
  for (const t of p.tables) {
    const earlier = tables.get(t.id);
    if (!earlier) {
      tables.set(t.id, t);
      continue;
    }
    const when = `a later run on the same machine kind (${p.date.slice(0, 16).replace('T', ' ')} UTC)`;
    if (t.id === 'limits') {
      // The first run's rows cite its yardsticks; a later row carries its own run's in its limit column.
      notes.add(`${t.title}: ${when} measured them again (${t.rows.map((r) => `${r.case} ${r.vireo.rate ? `${Math.round(r.vireo.rate.value)} ${r.vireo.rate.unit}` : 'skipped'}`).join('; ')}); the rows from that run cite those in their limit column, the table keeps the first run's.`);
      continue;
    }
    if (earlier.rows.every((r) => t.rows.some((l) => l.case === r.case))) {
      notes.add(`${t.title}: the whole table is from ${when}, replacing the first run's.`);
      tables.set(t.id, t);
      continue;
    }
    const later = new Map(t.rows.map((r) => [r.case, r]));
    const rows = earlier.rows.map((r) => later.get(r.case) ?? r);
    for (const r of t.rows) if (!earlier.rows.some((e) => e.case === r.case)) rows.push(r);
    notes.add(`${t.title}: ${t.rows.map((r) => r.case).join('; ')} from ${when}, replacing the first run's rows.`);
    tables.set(t.id, { ...earlier, rows, notes: [...new Set([...earlier.notes, ...t.notes.filter((n) => !n.startsWith('Section time'))])] });
  }
}
const report: Report = { ...parts[0], tables: [...tables.values()], notes: [...notes], wallSeconds: parts.reduce((s, p) => s + p.wallSeconds, 0) };
const gpu = existsSync(join(dir, 'gpu.txt')) ? readFileSync(join(dir, 'gpu.txt'), 'utf8').trim().split('\n').slice(1).join('; ') : null;
if (gpu) report.notes.push(`nvidia-smi (name, driver, memory, max SM clock): ${gpu}. Run by bench/gpu/run.sh through Dawn on NVIDIA's Vulkan driver.`);

const out = join('bench/results', `${report.date.slice(0, 10)}-${report.machine.name}.json`);
writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
console.log(`wrote ${out} (${report.tables.length} tables); wrote ${writeBenchmarksMd()}`);
