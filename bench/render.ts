// `pnpm bench:render`: BENCHMARKS.md at the repository root from every bench/results/*.json
// (one section per run: this machine's `pnpm bench`, the GPU machine's `vireo bench all`).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderBenchmarks } from '@vireo/trainer/bench/render';
import { checkReport } from '@vireo/trainer/bench/schema';

const repo = fileURLToPath(new URL('..', import.meta.url));

/** Renders bench/results/*.json into BENCHMARKS.md; returns the path written. */
export function writeBenchmarksMd(): string {
  const dir = join(repo, 'bench/results');
  const reports = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const file = `bench/results/${f}`;
      return { file, report: checkReport(JSON.parse(readFileSync(join(dir, f), 'utf8')), file) };
    });
  const path = join(repo, 'BENCHMARKS.md');
  writeFileSync(path, renderBenchmarks(reports));
  return path;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(`wrote ${writeBenchmarksMd()}`);
