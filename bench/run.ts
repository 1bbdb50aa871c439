// `pnpm bench`: the whole benchmark set on this machine (vireo bench all: kernels, yardsticks,
// top-k scaling, training, ranking, recommend() in Chromium, the edge under load — each beside
// its peer), written to bench/results/<date>-<machine>.json, then BENCHMARKS.md regenerated from
// every report in bench/results/. Flags go to `vireo bench all` (e.g. --skip-browser, --only).
import { runAll } from '../packages/trainer/src/bench/all.ts';
import { writeBenchmarksMd } from './render.ts';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const value = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const { report, out } = await runAll({
  out: value('out'), machine: value('machine'), profile: value('profile') as 'full' | 'quick' | undefined,
  only: value('only')?.split(','), skipBrowser: flag('skip-browser'), skipEdge: flag('skip-edge'), noTorch: flag('no-torch'), torchDevice: value('torch-device'),
});
console.log(`wrote ${out} (${report.tables.length} tables, ${(report.wallSeconds / 60).toFixed(1)} min)`);
console.log(`wrote ${writeBenchmarksMd()}`);
for (const n of report.notes) console.log(`note: ${n}`);
