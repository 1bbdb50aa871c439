// `vireo ingest --source S --out DIR`: raw logs or a synthetic world → a dataset folder that the
// trainers read with loadDataset. Prints a summary (or, with --json, the dataset.json summary).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SpecError, parseFeatureSpec } from '@vireo/core';
import { UsageError, numberFlag, parseFlags } from '../cli/args.ts';
import type { DatasetSummary } from '../ingest/dataset.ts';
import {
  DEFAULT_FM_STRENGTH,
  DEFAULT_MIN_RATING,
  DEFAULT_OPTIONS,
  DEFAULT_SEQUENTIAL,
  DEFAULT_WORLD,
  START_WORLD,
  IngestError,
  ingestCriteo,
  ingestEvents,
  ingestMovielens,
  ingestSequential,
  ingestSynthetic,
  ingestTabular,
  readerFor,
  type IngestOptions,
} from '../ingest/index.ts';

const SOURCES = ['synthetic', 'sequential', 'movielens', 'criteo', 'events', 'csv', 'jsonl', 'parquet'] as const;

const FLAGS = {
  source: { type: 'string' },
  path: { type: 'string' },
  spec: { type: 'string' },
  out: { type: 'string' },
  name: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  'max-bad-rows': { type: 'string' },
  'valid-fraction': { type: 'string' },
  'test-fraction': { type: 'string' },
  'min-positives': { type: 'string' },
  'min-rating': { type: 'string' },
  'min-count': { type: 'string' },
  seed: { type: 'string' },
  users: { type: 'string' },
  items: { type: 'string' },
  events: { type: 'string' },
  categories: { type: 'string' },
  dim: { type: 'string' },
  days: { type: 'string' },
  clicks: { type: 'string' },
  'fm-strength': { type: 'string' },
  successors: { type: 'string' },
  'successor-strength': { type: 'string' },
  'recency-strength': { type: 'string' },
  'min-events': { type: 'string' },
  'max-events': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const HELP =
  `usage: vireo ingest --source SOURCE --out DIR [flags]

sources:
  synthetic                 a generated world with known truth   ` +
  `[--seed --users --items --events --categories --dim --days]
                            --clicks fm: clicks from a factorization machine [--fm-strength 1.4]
  sequential                implicit events where order matters, with its posterior oracle
                            [--seed --users --items --categories --successors --successor-strength 0.5
                             --recency-strength 0.1 --min-events 20 --max-events 60]
  movielens --path DIR      ml-latest-small folder (ratings.csv, movies.csv, tags.csv)   [--min-rating 4]
  criteo --path FILE        Criteo TSV: label, I1–I13, C1–C26   [--min-count 1]
  events --path FILE        the edge's event log (vireo refresh --pull-only --state DIR writes DIR/events.ndjson):
                            positives click, conversion, purchase, like, add_to_cart, a rating ≥ --min-rating (4)
  csv|jsonl|parquet --path FILE --spec SPEC.json   logs described by a feature spec (docs/your-data.md)

flags:
  --out DIR                 the dataset folder to write (new, empty, or an earlier dataset)
  --max-bad-rows N          malformed rows tolerated before failing (default ${DEFAULT_OPTIONS.maxBadRows})
  --valid-fraction F, --test-fraction F   ranking time split (default 0.1 each)
  --min-positives N         retrieval leave-last-out: positives a user needs for valid + test (default 3)
  --json                    print the dataset summary as JSON on stdout
  --quiet                   no progress bars
`;

function requirePath(path: string | undefined, source: string, what: string): string {
  if (!path) throw new UsageError(`--source ${source} needs --path ${what}.`);
  return path;
}

function loadSpec(path: string | undefined, source: string) {
  if (!path)
    throw new UsageError(
      `--source ${source} needs --spec SPEC.json describing the columns (the format and an example: ` +
        'docs/your-data.md in the Vireo repository).',
    );
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(
      `cannot read --spec ${path}: ` +
        `${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}.`,
    );
  }
  try {
    return parseFeatureSpec(text);
  } catch (err) {
    if (err instanceof SpecError) throw new UsageError(`--spec ${path}: ${err.message}.`);
    throw err;
  }
}

/** Runs `vireo ingest`; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseFlags(argv, FLAGS, 'ingest');
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!v.source) throw new UsageError(`--source is required: one of ${SOURCES.join(', ')}.`);
  const source = v.source as (typeof SOURCES)[number];
  if (!SOURCES.includes(source))
    throw new UsageError(`unknown --source '${v.source}': expected one of ${SOURCES.join(', ')}.`);
  if (!v.out) throw new UsageError('--out DIR is required: the dataset folder to write.');
  const validFraction = numberFlag(v['valid-fraction'], 'valid-fraction', DEFAULT_OPTIONS.validFraction, {
    min: 0.001,
    max: 0.5,
  });
  const testFraction = numberFlag(v['test-fraction'], 'test-fraction', DEFAULT_OPTIONS.testFraction, {
    min: 0.001,
    max: 0.5,
  });
  if (validFraction + testFraction >= 1)
    throw new UsageError('--valid-fraction and --test-fraction must add up to less than 1.');
  const opts: IngestOptions = {
    out: v.out,
    name: v.name,
    maxBadRows: numberFlag(v['max-bad-rows'], 'max-bad-rows', DEFAULT_OPTIONS.maxBadRows, { integer: true, min: 0 }),
    validFraction,
    testFraction,
    minPositives: numberFlag(v['min-positives'], 'min-positives', DEFAULT_OPTIONS.minPositives, {
      integer: true,
      min: 2,
    }),
    quiet: Boolean(v.quiet),
    log: (line) => process.stderr.write(`vireo ingest: ${line}\n`),
  };
  const onlyFor = (flags: string[], sources: string[]) => {
    for (const f of flags)
      if ((v as Record<string, unknown>)[f] !== undefined && !sources.includes(source))
        throw new UsageError(`--${f} applies to --source ${sources.join('|')}, not ${source}.`);
  };
  onlyFor(['seed', 'users', 'items', 'categories'], ['synthetic', 'sequential']);
  onlyFor(['events', 'dim', 'days', 'clicks', 'fm-strength'], ['synthetic']);
  onlyFor(['successors', 'successor-strength', 'recency-strength', 'min-events', 'max-events'], ['sequential']);
  onlyFor(['min-rating'], ['movielens', 'events']);
  onlyFor(['min-count'], ['criteo']);
  onlyFor(['spec'], ['csv', 'jsonl', 'parquet']);
  onlyFor(['path'], ['movielens', 'criteo', 'events', 'csv', 'jsonl', 'parquet']);

  const earlier = earlierDataset(v.out);
  let summary: DatasetSummary;
  try {
    switch (source) {
      case 'synthetic': {
        const int = (
          name: 'seed' | 'users' | 'items' | 'events' | 'categories' | 'dim' | 'days',
          max: number,
          min = 1,
        ) => numberFlag(v[name], name, { ...DEFAULT_WORLD, ...START_WORLD }[name], { integer: true, min, max });
        const world = {
          seed: int('seed', 2 ** 32 - 1, 0),
          users: int('users', 10_000_000),
          items: int('items', 10_000_000),
          events: int('events', 2_000_000_000),
          categories: int('categories', 10_000),
          dim: int('dim', 1024),
          days: int('days', 3650),
        };
        const clicks = v.clicks ?? 'latent';
        if (clicks !== 'latent' && clicks !== 'fm')
          throw new UsageError(`--clicks must be latent or fm, got '${clicks}'.`);
        if (v['fm-strength'] !== undefined && clicks !== 'fm')
          throw new UsageError('--fm-strength applies to --clicks fm.');
        const fmStrength = numberFlag(v['fm-strength'], 'fm-strength', DEFAULT_FM_STRENGTH, { min: 0, max: 10 });
        if (world.categories > world.items)
          throw new UsageError(`--categories (${world.categories}) cannot exceed --items (${world.items}).`);
        summary = await ingestSynthetic(clicks === 'fm' ? { ...world, clicks, fmStrength } : world, opts);
        break;
      }
      case 'sequential': {
        const d = DEFAULT_SEQUENTIAL;
        const int = (name: string, fallback: number, max: number, min = 1) =>
          numberFlag((v as Record<string, string | undefined>)[name], name, fallback, { integer: true, min, max });
        const share = (name: string, fallback: number) =>
          numberFlag((v as Record<string, string | undefined>)[name], name, fallback, { min: 0, max: 1 });
        const world = {
          seed: int('seed', d.seed, 2 ** 32 - 1, 0),
          users: int('users', d.users, 10_000_000),
          items: int('items', d.items, 10_000_000, 2),
          categories: int('categories', d.categories, 10_000, 2),
          successors: int('successors', d.successors, 100),
          successorStrength: share('successor-strength', d.successorStrength),
          recencyStrength: share('recency-strength', d.recencyStrength),
          minEvents: int('min-events', d.minEvents, 100_000),
          maxEvents: int('max-events', d.maxEvents, 100_000),
        };
        if (world.successorStrength + world.recencyStrength > 1)
          throw new UsageError('--successor-strength plus --recency-strength must be at most 1.');
        if (world.minEvents > world.maxEvents)
          throw new UsageError(`--min-events (${world.minEvents}) cannot exceed --max-events (${world.maxEvents}).`);
        if (world.categories > world.items || world.successors >= world.items)
          throw new UsageError('--categories and --successors must be smaller than --items.');
        if (world.maxEvents > world.items)
          throw new UsageError(
            `--max-events (${world.maxEvents}) cannot exceed --items (${world.items}): ` +
              "a user's events are distinct items.",
          );
        summary = await ingestSequential(world, opts);
        break;
      }
      case 'movielens':
        summary = await ingestMovielens(requirePath(v.path, source, 'DIR (an ml-latest-small folder)'), {
          ...opts,
          minRating: numberFlag(v['min-rating'], 'min-rating', DEFAULT_MIN_RATING, { min: 0, max: 5 }),
        });
        break;
      case 'criteo':
        summary = await ingestCriteo(requirePath(v.path, source, 'FILE (Criteo TSV)'), {
          ...opts,
          minCount: numberFlag(v['min-count'], 'min-count', 1, { integer: true, min: 1 }),
        });
        break;
      case 'events':
        summary = await ingestEvents(requirePath(v.path, source, 'FILE (the events.ndjson of vireo refresh)'), {
          ...opts,
          minRating: numberFlag(v['min-rating'], 'min-rating', DEFAULT_MIN_RATING, { min: 0, max: 1e9 }),
        });
        break;
      default: {
        const path = requirePath(v.path, source, 'FILE');
        const spec = loadSpec(v.spec, source);
        summary = await ingestTabular(
          { source, spec, reader: await readerFor(source, path), options: { spec: v.spec } },
          opts,
        );
      }
    }
  } catch (err) {
    // Spec problems found while reading (e.g. a vocabulary missing) are the user's to fix too.
    if (err instanceof SpecError) throw new IngestError(`${err.message}.`);
    throw err;
  }

  // Replacing is what a second ingest into one folder is for; a dataset of another source replaced by mistake
  // is at least said (the new one is complete by now: the old was kept until it was).
  if (earlier)
    opts.log(
      `replaced the earlier ${earlier.source} dataset in ${v.out} ` +
        `(${earlier.interactions.toLocaleString('en-US')} interactions, ingested ${earlier.createdAt})` +
        (earlier.source === summary.source ? '.' : ` with this ${summary.source} one.`),
    );
  if (v.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  else process.stdout.write(describe(summary) + '\n');
  return 0;
}

/** What dataset `out` holds before this ingest, or null (none, or not readable as one). */
function earlierDataset(out: string): { source: string; interactions: number; createdAt: string } | null {
  try {
    const s = JSON.parse(readFileSync(join(out, 'dataset.json'), 'utf8')) as Partial<DatasetSummary>;
    if (typeof s.source !== 'string') return null;
    return { source: s.source, interactions: s.counts?.interactions ?? 0, createdAt: String(s.createdAt ?? 'earlier') };
  } catch {
    return null;
  }
}

function describe(s: DatasetSummary): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [`dataset   ${s.name} (${s.source}) → ${Object.keys(s.tables).join(', ')}`];
  lines.push(
    `counts    ${n(s.counts.users)} users · ${n(s.counts.items)} items · ` +
      `${n(s.counts.interactions)} interactions ` +
      `(${n(s.counts.positives)} positive) · ${n(s.counts.impressions)} impressions`,
  );
  for (const [name, l] of Object.entries(s.labels)) {
    lines.push(
      `label     ${name.padEnd(10)} ` +
        (l.kind === 'binary'
          ? `${n(l.positives ?? 0)} positives (${((l.rate ?? 0) * 100).toFixed(2)}%)`
          : `mean ${(l.mean ?? 0).toFixed(4)}`),
    );
  }
  const r = s.splits.retrieval;
  if (r)
    lines.push(
      `retrieval leave-last-out: ${n(r.train)} train · ${n(r.valid)} ` +
        `valid · ${n(r.test)} test (${n(r.usersWithTest)} users with a test item)`,
    );
  const k = s.splits.ranking;
  if (k) lines.push(`ranking   time split: ${n(k.train)} train · ${n(k.valid)} valid · ${n(k.test)} test`);
  if (s.badRows.count)
    lines.push(
      `skipped   ${n(s.badRows.count)} malformed rows (first: ` +
        `${s.badRows.samples[0].file} line ${s.badRows.samples[0].line}: ${s.badRows.samples[0].reason})`,
    );
  lines.push(`took      ${s.elapsedSeconds.toFixed(1)} s`);
  return lines.join('\n');
}
