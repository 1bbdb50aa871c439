// `pnpm bench`: the whole benchmark set on this machine (vireo bench all: kernels, yardsticks,
// top-k scaling, training, ranking, recommend() in Chromium, the edge under load — each beside
// its peer), written to bench/results/<date>-<machine>.json, then BENCHMARKS.md regenerated from
// every report in bench/results/. Flags are `vireo bench all`'s (e.g. --skip-browser, --only).
import { main } from '@vireo/trainer/cli';
import { writeBenchmarksMd } from './render.ts';

const argv = process.argv.slice(2);
const code = await main(['bench', 'all', ...argv]);
// 0: every section ran; 1: a section failed and the report says which. 2 is a usage mistake.
if (code <= 1 && !argv.includes('--help') && !argv.includes('-h')) console.log(`wrote ${writeBenchmarksMd()}`);
process.exitCode = code;
