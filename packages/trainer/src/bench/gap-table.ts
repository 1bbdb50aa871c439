// Do time gaps say when the last item matters? (docs/ARCHITECTURE.md §4, "Time gaps".) For each held-out case of
// the validation and test splits, the gap from the user's last positive before it to the held-out event, bucketed,
// with item-kNN's and last-item kNN's NDCG@10 in each bucket (± the standard error over its users), and the
// in-sample bucket switch: in each bucket the better of the two, chosen on the same cases it is scored on, an upper
// bound on what a time-gap feature could add by telling the model when to trust the last item.
//
//   node --import ./packages/trainer/bin/register.mjs packages/trainer/src/bench/gap-table.ts DATASET
import { ndcgAtK, topK } from '@vireo/core';
import { itemKnnScorer } from '../eval/retrieval-baselines.ts';
import { SPLIT_TEST, SPLIT_VALID, loadDataset } from '../ingest/index.ts';
import { contextRows, retrievalCases, userEvents } from '../retrieval/data.ts';

const EDGES = [0, 60, 600, 3600, 86400, 7 * 86400, Infinity];
const label = (s: number) => (s >= 86400 ? `${s / 86400} d` : s >= 3600 ? `${s / 3600} h` : `${s} s`);

const dir = process.argv[2];
if (!dir) {
  console.error('usage: gap-table.ts DATASET (a folder written by vireo ingest)');
  process.exit(2);
}
const ds = loadDataset(dir);
const events = userEvents(ds);
const it = ds.interactions!;
const N = ds.items!.rows;
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
const se = (v: number[]) => {
  const m = mean(v);
  return v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1) / v.length) : 0;
};
const cell = (v: number[]) => `${mean(v).toFixed(4)} ± ${se(v).toFixed(4)}`;

console.log('| split | gap to the last positive | cases | item-kNN NDCG@10 | last-item kNN NDCG@10 |');
console.log('|---|---|---|---|---|');
for (const [name, split] of [
  ['valid', SPLIT_VALID],
  ['test', SPLIT_TEST],
] as const) {
  const cases = retrievalCases(ds, events, contextRows(ds), split);
  const scorers = [itemKnnScorer(ds, events), itemKnnScorer(ds, events, { lastOnly: true })];
  const scores = new Float32Array(N);
  const buckets = EDGES.slice(1).map(() => [[] as number[], [] as number[]]);
  const all: number[][] = [[], []];
  cases.forEach((c, index) => {
    let last = c.historyEnd - 1;
    while (last >= c.historyStart && !it.positive[last]) last--;
    const gap = last >= c.historyStart ? Math.max(0, c.ts - it.ts[last]) : Infinity;
    const b = EDGES.findIndex((e, k) => k > 0 && gap < e) - 1;
    scorers.forEach((score, s) => {
      score(c, index, scores);
      const v = ndcgAtK(topK(scores, 10, c.exclude), c.relevant, 10);
      all[s].push(v);
      if (b >= 0) buckets[b][s].push(v);
    });
  });
  let switched = 0;
  buckets.forEach(([knn, lastItem], b) => {
    if (knn.length === 0) return;
    switched += Math.max(mean(knn), mean(lastItem)) * knn.length;
    const range = `${label(EDGES[b])} – ${EDGES[b + 1] === Infinity ? '∞' : label(EDGES[b + 1])}`;
    console.log(`| ${name} | ${range} | ${knn.length} | ${cell(knn)} | ${cell(lastItem)} |`);
  });
  console.log(`| ${name} | all | ${cases.length} | ${cell(all[0])} | ${cell(all[1])} |`);
  console.log(`| ${name} | in-sample bucket switch | ${cases.length} | ${(switched / cases.length).toFixed(4)} | |`);
}
