// The table of a sweep (bench/gpu/sweep.sh OUTDIR): per config, NDCG@10 and Recall@10 on validation and test as the
// mean ± sd over the seeds that finished, the standard error over users of one seed, the ratio to item-kNN (the
// same for every seed) and the training's wall seconds. Sorted by validation NDCG@10: the column defaults are
// chosen on. Usage: node bench/gpu/sweep-table.mjs OUTDIR [--json]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir || !existsSync(join(dir, 'runs'))) {
  console.error('usage: node bench/gpu/sweep-table.mjs OUTDIR (the folder bench/gpu/sweep.sh wrote)');
  process.exit(2);
}
const runs = join(dir, 'runs');
const stat = (xs) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd, n: xs.length };
};
const read = (f) => {
  try {
    return JSON.parse(readFileSync(join(runs, f), 'utf8'));
  } catch {
    return null;
  }
};

const byName = new Map();
for (const f of readdirSync(runs).filter((n) => n.endsWith('.valid.json'))) {
  const id = f.slice(0, -'.valid.json'.length);
  const [, name, seed] = id.match(/^(.*)-s(\d+)$/);
  const valid = read(f);
  const test = read(`${id}.test.json`);
  if (!valid || !test) continue;
  const train = readFileSync(join(runs, `${id}.train.txt`), 'utf8');
  const wall = Number(train.match(/wall_s ([\d.]+)/)?.[1] ?? Number.NaN);
  if (!byName.has(name)) byName.set(name, []);
  byName.get(name).push({ seed: Number(seed), valid, test, wall });
}

const rows = [...byName].map(([name, rs]) => {
  const col = (split, row, k) => stat(rs.map((r) => r[split].metrics[row][k]));
  return {
    name,
    seeds: rs.map((r) => r.seed).sort(),
    validNdcg: col('valid', 'model', 'ndcg@10'),
    validRecall: col('valid', 'model', 'recall@10'),
    testNdcg: col('test', 'model', 'ndcg@10'),
    testRecall: col('test', 'model', 'recall@10'),
    validSe: rs[0].valid.metrics.model.se['ndcg@10'],
    testSe: rs[0].test.metrics.model.se['ndcg@10'],
    knnValid: rs[0].valid.metrics.itemKnn['ndcg@10'],
    knnTest: rs[0].test.metrics.itemKnn['ndcg@10'],
    wall: stat(rs.map((r) => r.wall)),
  };
});
rows.sort((a, b) => b.validNdcg.mean - a.validNdcg.mean);
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(rows, null, 2));
  process.exit(0);
}
const f = (s, d = 4) => `${s.mean.toFixed(d)} ± ${s.sd.toFixed(d)}`;
console.log(
  '| config | seeds | valid NDCG@10 | × item-kNN | valid R@10 | test NDCG@10 | × item-kNN | test R@10 | train s |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.name} | ${r.seeds.join(',')} | ${f(r.validNdcg)} | ${(r.validNdcg.mean / r.knnValid).toFixed(2)} | ` +
      `${f(r.validRecall, 3)} | ${f(r.testNdcg)} | ${(r.testNdcg.mean / r.knnTest).toFixed(2)} | ` +
      `${f(r.testRecall, 3)} | ${r.wall.mean.toFixed(0)} |`,
  );
if (rows.length)
  console.log(
    `\nitem-kNN NDCG@10: valid ${rows[0].knnValid.toFixed(4)}, test ${rows[0].knnTest.toFixed(4)}; ` +
      `SE over users of one seed ≈ ${rows[0].validSe.toFixed(4)} (valid), ${rows[0].testSe.toFixed(4)} (test)`,
  );
