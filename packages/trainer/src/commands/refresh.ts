// `vireo refresh --edge URL --token T --state DIR --data DATASET [--every 15m] [--once] [--json]`:
// the training loop. Each refresh pulls the edge's new events, warm-starts both models from the
// promoted version, compares the two on the latest events and publishes the new version,
// promoted only when it is not worse (src/refresh/run.ts; docs/ARCHITECTURE.md, section 4).
import { readFileSync } from 'node:fs';
import { numberFlag, parseFlags, UsageError } from '../cli/args.ts';
import { outputFolder } from '../cli/paths.ts';
import { openGpu } from '../node/gpu.ts';
import { pruneLine, pruneVersions, type PruneResult } from '../refresh/prune.ts';
import { lockState } from '../refresh/lock.ts';
import { pullEvents } from '../refresh/pull.ts';
import { checkBeforePull, refreshOnce, type RefreshOptions, type RefreshResult } from '../refresh/run.ts';

const FLAGS = {
  edge: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  state: { type: 'string' },
  data: { type: 'string' },
  model: { type: 'string' },
  every: { type: 'string' },
  once: { type: 'boolean' },
  margin: { type: 'string' },
  holdout: { type: 'string' },
  epochs: { type: 'string' },
  'ranking-epochs': { type: 'string' },
  seed: { type: 'string' },
  'min-events': { type: 'string' },
  'page-size': { type: 'string' },
  'shuffle-labels': { type: 'boolean' },
  'pull-only': { type: 'boolean' },
  keep: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const REFRESH_HELP = `usage: vireo refresh --edge URL --token T --state DIR --data DATASET [flags]

Pulls the events the edge collected since the last refresh (exactly once: the cursor is kept in
DIR/events.ndjson), appends them to the dataset, warm-starts the retrieval and ranking models from
the promoted version, evaluates both on the latest events (held out from training) with the
metrics of vireo eval, and publishes a complete bundle whose manifest names its parent, the events
it consumed and both sets of metrics. It is promoted only when neither its Recall@10 nor its CTR
AUC is below the promoted version's by more than --margin.

Before that, items pushed to the edge (POST /v1/features/push) that the promoted version lacks get
an items-only update: the promoted item tower embeds them from their pushed features, without
retraining, and the bundle with them appended is published and promoted at once (seconds), so a new
product is recommendable before the next retrain, with or without new events.

flags:
  --edge URL          the edge (or $VIREO_EDGE_URL)
  --token T           a token with events:export, features:export and models:publish (or $VIREO_EDGE_TOKEN)
  --token-file FILE   read the token from FILE before every refresh instead (rotate it there; not in \`ps\`)
  --state DIR         where the event log, the grown dataset and the bundles live
  --data DATASET      the dataset the first version was trained on (vireo ingest)
  --model NAME        the model in the registry (default vireo)
  --every DURATION    refresh every DURATION (e.g. 90s, 5m, 15m, 1h); without it (or with --once) once
  --margin X          the largest drop that still promotes, absolute (default 0.01)
  --holdout F         share of the pulled events, the latest, held out for the comparison (default 0.25)
  --epochs N          retrieval epochs from the warm start (default 2)
  --ranking-epochs N  ranking epochs from the warm start (default 1)
  --seed N            (default 1)
  --min-events N      fewest new events that start a retrain (default 1); new items need none
  --page-size N       events per export request (default 1000)
  --shuffle-labels    train on shuffled labels: a check that the gate refuses a worse model
  --keep N            after each refresh, delete the model's versions older than its newest N from the
                      edge and DIR, except the promoted one and the one a rollback would return to (default 20;
                      0 keeps every version); one line says what was deleted
  --pull-only         pull the new events into DIR/events.ndjson and stop (no training)

One refresh at a time per DIR: a second one exits 2 naming the first (DIR/refresh.lock).
  --json              print { champion, challenger, promoted, metrics, events, items, pruned } per refresh
  --quiet             no progress lines
`;

/** Parses a duration such as 90s, 5m, 1h into milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag} must be a duration such as 90s, 5m or 1h, got '${text}'.`);
  const ms = Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  if (ms < 1000) throw new UsageError(`${flag} must be at least 1s, got '${text}'.`);
  return ms;
}

/** The token in FILE (surrounding space and newlines dropped), or one sentence. */
export function readTokenFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read --token-file ${file}: ${code === 'ENOENT' ? 'no such file' : code}.`);
  }
  if (!text) throw new UsageError(`--token-file ${file} is empty.`);
  return text;
}

/** Parses the flags; every mistake is one sentence. */
export function parseRefreshFlags(argv: string[]): RefreshOptions & {
  tokenFile: string | null;
  keep: number;
  everyMs: number | null;
  pullOnly: boolean;
  json: boolean;
  quiet: boolean;
  help: boolean;
} {
  const { values: v } = parseFlags(argv, FLAGS, 'vireo refresh');
  const help = Boolean(v.help);
  const edge = v.edge ?? process.env.VIREO_EDGE_URL;
  const tokenFile = v['token-file'] ?? null;
  if (tokenFile !== null && v.token !== undefined) throw new UsageError('give --token or --token-file, not both.');
  const token = tokenFile !== null ? readTokenFile(tokenFile) : (v.token ?? process.env.VIREO_EDGE_TOKEN);
  if (!help) {
    if (!edge) throw new UsageError('--edge URL is required (e.g. http://127.0.0.1:8787).');
    if (!token)
      throw new UsageError(
        '--token is required: a token with the events:export, features:export and models:publish scopes.',
      );
    if (!v.state) throw new UsageError('--state DIR is required: the folder the refresh keeps its cursor and data in.');
    outputFolder(v.state, '--state');
    if (!v.data && !v['pull-only'])
      throw new UsageError('--data DATASET is required: the dataset the first version was trained on.');
  }
  let base = '';
  if (edge) {
    try {
      const url = new URL(edge);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
      base = url.href.replace(/\/+$/, '');
    } catch {
      throw new UsageError(`--edge must be an http(s) URL, got '${edge}'.`);
    }
  }
  const model = v.model ?? 'vireo';
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(model))
    throw new UsageError(`--model must be lowercase letters, digits, '-' and '_', got '${model}'.`);
  const int = (name: keyof typeof FLAGS, fallback: number, min: number, max = 1e9) =>
    numberFlag(v[name] as string | undefined, name, fallback, { integer: true, min, max });
  return {
    edge: base,
    token: token ?? '',
    tokenFile,
    state: v.state ?? '',
    data: v.data ?? '',
    model,
    margin: numberFlag(v.margin, 'margin', 0.01, { min: 0, max: 1 }),
    holdout: numberFlag(v.holdout, 'holdout', 0.25, { min: 0.01, max: 0.9 }),
    epochs: int('epochs', 2, 1, 1000),
    rankingEpochs: int('ranking-epochs', 1, 1, 1000),
    seed: int('seed', 1, 0),
    minEvents: int('min-events', 1, 1),
    pageSize: int('page-size', 1000, 1, 1000),
    shuffleLabels: Boolean(v['shuffle-labels']),
    pullOnly: Boolean(v['pull-only']),
    keep: int('keep', 20, 0),
    everyMs: v.once || v.every === undefined ? null : parseDuration(v.every, '--every'),
    json: Boolean(v.json),
    quiet: Boolean(v.quiet),
    help,
  };
}

/** One line for people. */
function summaryLine(r: RefreshResult): string {
  const m = r.metrics;
  const at = `${r.seconds.toFixed(1)} s`;
  if (!m?.champion || !m.challenger) return `${r.reason} (${at})`;
  const items = r.items.version
    ? `${r.items.version}: ${r.items.added.length} new items, items-only (${r.items.seconds.toFixed(1)} s); `
    : '';
  return `${items}${r.challenger} from ${r.champion} on ${r.events.pulled} new events (${at}): ${r.reason}`;
}

/** `vireo refresh`. */
export async function run(argv: string[]): Promise<number> {
  const o = parseRefreshFlags(argv);
  if (o.help) {
    process.stdout.write(REFRESH_HELP);
    return 0;
  }
  // A --data folder that is not a dataset, or a model the edge lacks, is one sentence before anything is pulled
  // (and before DIR is created).
  if (!o.pullOnly) await checkBeforePull(o);
  // Before anything is read from DIR or pulled into it (docs/ARCHITECTURE.md, section 4, "Refresh").
  const release = lockState(o.state);
  try {
    return await refreshLoop(o);
  } finally {
    release();
  }
}

async function refreshLoop(o: ReturnType<typeof parseRefreshFlags>): Promise<number> {
  const log = (line: string) => {
    if (!o.quiet) process.stderr.write(`refresh: ${line}\n`);
  };
  let stop = false;
  let wake: (() => void) | null = null;
  // A signal between refreshes ends the loop; during one it ends the process at once: the pull is
  // kept page by page (the next run resumes it) and nothing else is kept until the bundle is published.
  const onSignal = () => {
    stop = true;
    if (wake) wake();
    else process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (o.pullOnly) {
    const pulled = await pullEvents({ edge: o.edge, token: o.token, stateDir: o.state, pageSize: o.pageSize });
    process.stdout.write(
      o.json ? `${JSON.stringify(pulled)}\n` : `pulled ${pulled.count} events (${pulled.after} → ${pulled.through})\n`,
    );
    return 0;
  }
  try {
    do {
      // A token rotated in the file is used from the next refresh on (an expired one stopped a loop for good).
      if (o.tokenFile !== null && o.everyMs !== null) {
        try {
          o.token = readTokenFile(o.tokenFile);
        } catch (err) {
          if (!(err instanceof UsageError)) throw err;
          log(`${err.message} Keeping the token read before.`);
        }
      }
      // A GPU per refresh: between refreshes nothing is held.
      const gpu = await openGpu();
      let result: RefreshResult;
      try {
        result = await refreshOnce(gpu, o, log);
      } catch (err) {
        // In the background loop one failed refresh is logged and the next one tries again.
        if (o.everyMs === null || !(err instanceof UsageError)) throw err;
        const expired = / 401 /.test(err.message) && o.tokenFile === null;
        log(
          `failed: ${err.message}${expired ? ' (with --token-file FILE a token rotated there is read each time)' : ''}`,
        );
        result = null as never;
      } finally {
        gpu.destroy();
      }
      if (result) {
        // After the publish (and promote): the versions beyond the newest --keep. A failure is one line; the
        // bundle is published all the same, and the next refresh prunes again.
        let pruned: PruneResult | null = null;
        if (o.keep > 0) {
          try {
            pruned = await pruneVersions({
              edge: o.edge,
              token: o.token,
              model: o.model,
              keep: o.keep,
              stateDir: o.state,
            });
          } catch (err) {
            if (!(err instanceof UsageError)) throw err;
            process.stderr.write(`refresh: pruning failed: ${err.message}\n`);
          }
        }
        if (o.json) process.stdout.write(`${JSON.stringify({ ...result, pruned })}\n`);
        else {
          process.stdout.write(`${summaryLine(result)}\n`);
          const line = pruned && pruneLine(o.model, pruned);
          if (line) process.stdout.write(`${line}\n`);
        }
      }
      if (o.everyMs === null || stop) break;
      await new Promise<void>((ok) => {
        wake = ok;
        setTimeout(ok, o.everyMs!);
      });
      wake = null;
    } while (!stop);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}
