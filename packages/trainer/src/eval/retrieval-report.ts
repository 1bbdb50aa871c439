// `vireo eval retrieval` and the evaluation `vireo train retrieval` writes into the manifest: the
// trained towers (float32 and int8 item embeddings) beside most-popular, item-kNN and (synthetic
// worlds) the oracle, on the same held-out users in the same run.
import { RetrievalWeights, UserTower } from '@vireo/models';
import type { Gpu } from '@vireo/kernels';
import { parseFlags, UsageError } from '../cli/args.ts';
import { SPLIT_TEST, SPLIT_VALID } from '../ingest/index.ts';
import { openGpu } from '../node/gpu.ts';
import { readBundle, type ItemEmbeddings } from '@vireo/models/training';
import { retrievalCases, type RetrievalCase } from '../retrieval/data.ts';
import { embedCases } from '../retrieval/embed.ts';
import { FeatureReader, shapeOf } from '../retrieval/features.ts';
import { openDataset, retrievalData, type RetrievalData } from '../retrieval/train.ts';
import { formatMetrics, int8Scorer, dotScorer, rankingMetrics, type RetrievalMetrics } from './retrieval.ts';
import type { Dataset } from '../ingest/index.ts';
import { itemKnnScorer, lastItemSoftmaxScorer, mostPopularScorer, oracleScorer } from './retrieval-baselines.ts';

/** Every row of a retrieval evaluation, and how the model compares. */
export interface RetrievalReport {
  split: 'test' | 'valid';
  users: number;
  items: number;
  /** model, model.int8, mostPopular, itemKnn, lastItemKnn, lastItemSoftmax (unless skipped), oracle (generated). */
  metrics: Record<string, RetrievalMetrics>;
  /** Why the last-item softmax baseline was not trained (too large for the CPU), or null when it was. */
  lastItemSoftmaxSkipped: string | null;
  /** model Recall@10 / lastItemSoftmax Recall@10, null when it was skipped. */
  ofLastItemSoftmax: number | null;
  /** model Recall@100 / oracle Recall@100 (synthetic worlds). */
  ofOracle: number | null;
  /** model Recall@10 / oracle Recall@10 (generated worlds): the fraction of the (posterior) oracle reached. */
  ofOracleRecall10: number | null;
  /** Relative Recall@100 lost by int8 item embeddings: 1 − int8 / float32. */
  int8RecallLoss: number;
  /** Relative gains over the best baseline on Recall@10 and NDCG@10. */
  overBestBaseline: { 'recall@10': number; 'ndcg@10': number };
}

/**
 * Computes the report for trained weights on `gpu` (user vectors from the user tower). `lastItemSoftmax: false`
 * leaves out the one baseline that trains (refresh compares champion and challenger and does not need it).
 */
export async function evaluateRetrieval(
  gpu: Gpu,
  data: RetrievalData,
  weights: RetrievalWeights,
  items: ItemEmbeddings,
  split: 'test' | 'valid' = 'test',
  options: { lastItemSoftmax?: boolean } = {},
): Promise<RetrievalReport> {
  const { ds, events, context } = data;
  const config = weights.config;
  const cases: RetrievalCase[] = retrievalCases(ds, events, context, split === 'test' ? SPLIT_TEST : SPLIT_VALID);
  if (cases.length === 0)
    throw new UsageError(
      `${ds.dir} has no held-out ${split} positives to evaluate (users need ` +
        `at least ${ds.summary.splits.retrieval?.minPositives ?? 2} positives).`,
    );
  const N = ds.items!.rows;
  const D = config.embeddingDim;
  const reader = new FeatureReader(ds, config);
  const tower = await UserTower.create(gpu, weights, {
    maxBatch: Math.min(256, cases.length),
    itemFeatures: (row, f) => reader.item(row, f),
  });
  let users: Float32Array;
  try {
    users = await embedCases(gpu, tower, reader, events, cases);
  } finally {
    tower.destroy();
  }
  const metrics: Record<string, RetrievalMetrics> = {
    model: rankingMetrics(cases, N, dotScorer(users, items.embeddings, D)),
    'model.int8': rankingMetrics(cases, N, int8Scorer(users, items.values, items.scales, D)),
    mostPopular: rankingMetrics(cases, N, mostPopularScorer(ds)),
    itemKnn: rankingMetrics(cases, N, itemKnnScorer(ds, events)),
    lastItemKnn: rankingMetrics(cases, N, itemKnnScorer(ds, events, { lastOnly: true })),
  };
  const softmax =
    options.lastItemSoftmax === false
      ? 'not trained here'
      : lastItemSoftmax(ds, split, () => {
          const scorer = lastItemSoftmaxScorer(ds, events);
          return typeof scorer === 'string' ? scorer : rankingMetrics(cases, N, scorer);
        });
  if (typeof softmax !== 'string') metrics.lastItemSoftmax = softmax;
  const oracle = oracleScorer(ds, events);
  if (oracle) metrics.oracle = rankingMetrics(cases, N, oracle);
  const m = metrics.model;
  const best = (k: 'recall@10' | 'ndcg@10') =>
    Math.max(metrics.mostPopular[k], metrics.itemKnn[k], metrics.lastItemKnn[k], metrics.lastItemSoftmax?.[k] ?? 0);
  return {
    split,
    users: cases.length,
    items: N,
    metrics,
    ofOracle: metrics.oracle ? m['recall@100'] / Math.max(1e-12, metrics.oracle['recall@100']) : null,
    ofOracleRecall10: metrics.oracle ? m['recall@10'] / Math.max(1e-12, metrics.oracle['recall@10']) : null,
    lastItemSoftmaxSkipped: typeof softmax === 'string' ? softmax : null,
    ofLastItemSoftmax: typeof softmax === 'string' ? null : m['recall@10'] / Math.max(1e-12, softmax['recall@10']),
    int8RecallLoss: 1 - metrics['model.int8']['recall@100'] / Math.max(1e-12, m['recall@100']),
    overBestBaseline: {
      'recall@10': m['recall@10'] / Math.max(1e-12, best('recall@10')) - 1,
      'ndcg@10': m['ndcg@10'] / Math.max(1e-12, best('ndcg@10')) - 1,
    },
  };
}

/**
 * The last-item softmax baseline's metrics on a dataset's split, trained once per dataset and split (it is seeded and
 * does not depend on the model, so `--seeds N` reuses it), or why it was skipped.
 */
const softmaxCache = new WeakMap<Dataset, Map<string, RetrievalMetrics | string>>();
function lastItemSoftmax(ds: Dataset, split: string, compute: () => RetrievalMetrics | string) {
  let byDataset = softmaxCache.get(ds);
  if (!byDataset) softmaxCache.set(ds, (byDataset = new Map()));
  let m = byDataset.get(split);
  if (m === undefined) byDataset.set(split, (m = compute()));
  return m;
}

/** The report as lines for people. */
export function formatReport(r: RetrievalReport): string {
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;
  const lines = [
    `${r.split} split: ${r.users} users, full ranking over ${r.items} items (their earlier items excluded)`,
    formatMetrics(r.metrics),
    `model vs best baseline: Recall@10 ` +
      `${pct(r.overBestBaseline['recall@10'])}, NDCG@10 ${pct(r.overBestBaseline['ndcg@10'])}`,
    `int8 item embeddings: Recall@100 ${pct(-r.int8RecallLoss)} relative to float32`,
  ];
  if (r.lastItemSoftmaxSkipped) lines.push(`lastItemSoftmax ${r.lastItemSoftmaxSkipped}`);
  else if (r.ofLastItemSoftmax !== null)
    lines.push(`model Recall@10 = ${r.ofLastItemSoftmax.toFixed(2)}× the last-item softmax's`);
  if (r.ofOracle !== null && r.ofOracleRecall10 !== null)
    lines.push(
      `model Recall@10 = ${(100 * r.ofOracleRecall10).toFixed(1)}%, Recall@100 = ` +
        `${(100 * r.ofOracle).toFixed(1)}% of the oracle's`,
    );
  return lines.join('\n');
}

/** `vireo eval retrieval --data DIR --bundle DIR [--split test|valid] [--json]`. */
const EVAL_HELP = `usage: vireo eval retrieval --data DATASET --bundle BUNDLE [--split test|valid] [--json]
       vireo eval retrieval --data DATASET --seeds N [--split test|valid] [--json] [vireo train retrieval flags]

Ranks the whole catalogue for every held-out user (no sampled negatives) and reports
Recall@10/50/100/1000, NDCG@10, HitRate@10 and MRR (each ± its standard error over users) for the
model's float32 and int8 item embeddings, beside most-popular, item-kNN over the whole history and
over the last item, a last-item + mean-history softmax model (8 epochs on the CPU; skipped, with the
reason, when items × training pairs exceeds 1e8), and on a generated world its oracle (the sequential
world's posterior oracle).
With --seeds N it trains N models (seeds --seed, --seed+1, …) and reports mean ± sd over seeds.
`;

export async function evalRetrieval(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(EVAL_HELP);
    return 0;
  }
  if (argv.some((a) => a === '--seeds' || a.startsWith('--seeds='))) {
    const { evalRetrievalSeeds } = await import('./retrieval-seeds.ts');
    return evalRetrievalSeeds(argv);
  }
  const { values } = parseFlags(
    argv,
    { data: { type: 'string' }, bundle: { type: 'string' }, split: { type: 'string' }, json: { type: 'boolean' } },
    'eval retrieval',
  );
  if (!values.data)
    throw new UsageError('--data is required: the dataset folder to evaluate on (written by vireo ingest).');
  if (!values.bundle) throw new UsageError('--bundle is required: the folder vireo train retrieval wrote (--out).');
  const split = values.split ?? 'test';
  if (split !== 'test' && split !== 'valid') throw new UsageError(`--split must be test or valid, got '${split}'.`);
  const ds = openDataset(values.data);
  const bundle = await readBundle(values.bundle);
  const c = bundle.config;
  const data = retrievalData(ds, shapeOf(c));
  if (data.config.tableRows !== c.tableRows || ds.items!.rows * c.embeddingDim !== bundle.items.embeddings.length) {
    throw new UsageError(
      `--bundle ${values.bundle} was trained on other data (its features or ` +
        `catalogue differ from ${values.data}); evaluate it on the dataset it was trained on.`,
    );
  }
  const gpu = await openGpu();
  try {
    const weights = RetrievalWeights.fromTensors(gpu, c, bundle.weights);
    const report = await evaluateRetrieval(
      gpu,
      { ...data, config: c, reader: new FeatureReader(ds, c) },
      weights,
      bundle.items,
      split,
    );
    weights.destroy();
    if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else process.stdout.write(formatReport(report) + '\n');
    return 0;
  } finally {
    gpu.destroy();
  }
}
