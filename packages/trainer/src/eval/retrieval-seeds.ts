// `vireo eval retrieval --data DATASET --seeds N [training flags]`: trains N models (seeds s, s+1, …) with the
// same flags, evaluates each on the held-out split beside the baselines, and reports every metric as the mean ±
// sample standard deviation over seeds (docs/ARCHITECTURE.md §4, Eval).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { itemEmbeddings } from '@vireo/models/training';
import { UsageError, numberFlag } from '../cli/args.ts';
import { fmtSeconds } from '../cli/progress.ts';
import { openGpu } from '../node/gpu.ts';
import { embedItems } from '../retrieval/embed.ts';
import { parseTrainFlags } from '../retrieval/index.ts';
import { openDataset, trainRetrievalModel } from '../retrieval/train.ts';
import { METRIC_NAMES, type MetricName } from './retrieval.ts';
import { evaluateRetrieval, formatReport, type RetrievalReport } from './retrieval-report.ts';

/** Mean and sample standard deviation of a metric over seeds, with the per-seed values. */
export interface SeedStat {
  mean: number;
  sd: number;
  values: number[];
}

/** The report of N seeds: per row (model, baselines, oracle) and metric, mean ± sd over seeds. */
export interface SeedsReport {
  split: 'test' | 'valid';
  seeds: number[];
  users: number;
  rows: Record<string, Record<MetricName, SeedStat>>;
  /** model Recall@10 / oracle Recall@10 per seed (generated worlds). */
  ofOracleRecall10: SeedStat | null;
  /** model Recall@10 / the last-item softmax baseline's per seed, null when it was skipped. */
  ofLastItemSoftmax: SeedStat | null;
  lastItemSoftmaxSkipped: string | null;
}

/** Mean and sample standard deviation (0 for one value). */
export function seedStat(values: number[]): SeedStat {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, n);
  const sd = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, values };
}

/** Combines per-seed reports (same split and users) into mean ± sd. */
export function combineSeeds(reports: RetrievalReport[], seeds: number[]): SeedsReport {
  const rows: SeedsReport['rows'] = {};
  for (const name of Object.keys(reports[0].metrics)) {
    rows[name] = {} as Record<MetricName, SeedStat>;
    for (const k of METRIC_NAMES) rows[name][k] = seedStat(reports.map((r) => r.metrics[name][k]));
  }
  const of = reports.map((r) => r.ofOracleRecall10);
  const softmax = reports.map((r) => r.ofLastItemSoftmax);
  return {
    split: reports[0].split,
    seeds,
    users: reports[0].users,
    rows,
    ofOracleRecall10: of.every((x) => x !== null) ? seedStat(of as number[]) : null,
    ofLastItemSoftmax: softmax.every((x) => x !== null) ? seedStat(softmax as number[]) : null,
    lastItemSoftmaxSkipped: reports[0].lastItemSoftmaxSkipped,
  };
}

/** The seeds report as lines for people. */
export function formatSeeds(r: SeedsReport): string {
  const cols: MetricName[] = ['recall@10', 'ndcg@10', 'recall@100', 'mrr'];
  const width = Math.max(12, ...Object.keys(r.rows).map((k) => k.length));
  const lines = [
    `${r.split} split, ${r.users} users, seeds ${r.seeds.join(', ')}: mean ± sd over seeds`,
    `${'model'.padEnd(width)}  ${cols.map((c) => c.padStart(17)).join(' ')}`,
    ...Object.entries(r.rows).map(
      ([name, m]) =>
        `${name.padEnd(width)}  ` +
        cols.map((c) => `${m[c].mean.toFixed(4)} ±${m[c].sd.toFixed(4)}`.padStart(17)).join(' '),
    ),
  ];
  if (r.lastItemSoftmaxSkipped) lines.push(`lastItemSoftmax ${r.lastItemSoftmaxSkipped}`);
  else if (r.ofLastItemSoftmax)
    lines.push(
      `model Recall@10 = ${r.ofLastItemSoftmax.mean.toFixed(2)}× ± ${r.ofLastItemSoftmax.sd.toFixed(2)} ` +
        "the last-item softmax's",
    );
  if (r.ofOracleRecall10)
    lines.push(
      `model Recall@10 = ${(100 * r.ofOracleRecall10.mean).toFixed(1)}% ± ` +
        `${(100 * r.ofOracleRecall10.sd).toFixed(1)}% ` +
        "of the oracle's",
    );
  return lines.join('\n');
}

/** `vireo eval retrieval --data DATASET --seeds N [--split test|valid] [--json] [training flags]`. */
export async function evalRetrievalSeeds(argv: string[]): Promise<number> {
  const rest: string[] = [];
  let seedsFlag: string | undefined;
  let split = 'test';
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seeds') seedsFlag = argv[++i];
    else if (a.startsWith('--seeds=')) seedsFlag = a.slice(8);
    else if (a === '--split') split = argv[++i] ?? '';
    else if (a.startsWith('--split=')) split = a.slice(8);
    else if (a === '--json') json = true;
    else if (a === '--bundle' || a.startsWith('--bundle=') || a === '--out' || a.startsWith('--out='))
      throw new UsageError(`--seeds trains its own models: drop ${a.split('=')[0]}.`);
    else rest.push(a);
  }
  const count = numberFlag(seedsFlag, 'seeds', 1, { integer: true, min: 1, max: 100 });
  if (split !== 'test' && split !== 'valid') throw new UsageError(`--split must be test or valid, got '${split}'.`);
  const scratch = mkdtempSync(join(tmpdir(), 'vireo-seeds-'));
  // Each seed's training shows its bar (stderr; --quiet hides it): N seeds on a CPU adapter take many minutes.
  const base = parseTrainFlags([...rest, '--out', scratch]);
  const ds = openDataset(base.data);
  const seeds = Array.from({ length: count }, (_, i) => base.seed + i);
  const reports: RetrievalReport[] = [];
  const gpu = await openGpu();
  try {
    const started = performance.now();
    for (const [i, seed] of seeds.entries()) {
      const out = join(scratch, `seed-${seed}`);
      const label = `train retrieval, seed ${seed} (${i + 1} of ${count})`;
      const run = await trainRetrievalModel(gpu, { ...base, seed, out }, () => {}, ds, label);
      try {
        const N = run.data.ds.items!.rows;
        const D = run.data.config.embeddingDim;
        const items = itemEmbeddings(await embedItems(gpu, run.training.item, run.data.reader, N), N, D);
        const report = await evaluateRetrieval(gpu, run.data, run.training.weights, items, split);
        reports.push(report);
        const elapsed = (performance.now() - started) / 1000;
        const left = i + 1 < count ? `, about ${fmtSeconds((elapsed / (i + 1)) * (count - i - 1))} left` : '';
        if (!base.quiet)
          process.stderr.write(
            `seed ${seed} (${i + 1} of ${count}): Recall@10 ${report.metrics.model['recall@10'].toFixed(4)}, ` +
              `NDCG@10 ${report.metrics.model['ndcg@10'].toFixed(4)} · ${fmtSeconds(elapsed)}${left}\n`,
          );
      } finally {
        run.training.destroy();
      }
    }
  } finally {
    gpu.destroy();
    rmSync(scratch, { recursive: true, force: true });
  }
  const combined = combineSeeds(reports, seeds);
  // One seed has no spread over seeds: say so, and give the run's own report (± over users).
  const text =
    reports.length === 1
      ? `one seed (${seeds[0]}): no spread over seeds; ± below is the standard error over users\n` +
        formatReport(reports[0])
      : formatSeeds(combined);
  process.stdout.write(json ? `${JSON.stringify(combined, null, 2)}\n` : `${text}\n`);
  return 0;
}
