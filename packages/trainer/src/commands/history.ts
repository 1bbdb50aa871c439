// `vireo history --data DIR --edge URL --token T`: sends a dataset's past positives to an edge as `click`
// events. The models read each user's recent positives (`user:recent_items`) from the edge at serving; an
// edge that has none serves every known user like a stranger until they click. `vireo start` sends the same
// in its history stage, through sendHistory below.
// Each positive is the event `history-<row>`, and the edge keeps one event per user and event_id
// (docs/ARCHITECTURE.md §7, "The ingest path"): a re-run, or a retried batch, is stored once.
import { resolve } from 'node:path';
import { EARLIEST_EVENT_MS, MAX_EVENT_FUTURE_MS } from '@vireo/core';
import { UsageError, numberFlag, parseFlags } from '../cli/args.ts';
import { EdgeError, edgeBase, edgeClient, type Fetcher } from '../cli/edge.ts';
import { progress, type Progress } from '../cli/progress.ts';

const FLAGS = {
  data: { type: 'string' },
  edge: { type: 'string' },
  token: { type: 'string' },
  retries: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const MINT = 'vireo token --sub importer --scope "service events:write" --ttl 1h';

const HELP = `usage: vireo history --data DIR --edge URL --token TOKEN [flags]

Sends a dataset's past positives (clicks, ratings of 4 or more) to an edge as click events, so that the
models, which read each user's recent positives from the edge, know returning users from their first visit.
A re-run sends the same event ids, and the edge keeps each once.
  --data DIR        the dataset folder (vireo ingest --out DIR wrote it)
  --edge URL        the edge, e.g. http://127.0.0.1:8787 (or $VIREO_EDGE_URL)
  --token TOKEN     a token with the scopes "service events:write" (or $VIREO_EDGE_TOKEN), e.g.
                    ${MINT}
  --retries N       attempts per batch on network errors, 429 and 5xx (default 4)
  --json            print the counts as JSON on stdout
  --quiet           no progress bar
`;

// POST /v1/events takes at most 1,000 events and 1 MiB per body (docs/ARCHITECTURE.md §7), and refuses
// times before 2000-01-01 (a unit mistake) or more than a day past its clock.
const BATCH_EVENTS = 1000;
const BATCH_BYTES = (1 << 20) - 1024;

/** What sendHistory sent and what the edge answered. */
export interface HistoryResult {
  /** Positives sent, and the users they belong to. */
  events: number;
  users: number;
  /** The edge's counts: stored now, stored before (same user and event_id), refused. */
  accepted: number;
  duplicate: number;
  rejected: number;
  /** The edge's reason for the first refused event, null when none was. */
  firstRejection: string | null;
  /** Positives left out before sending, as the edge would refuse them: dated before 2000, or over a day ahead. */
  before2000: number;
  future: number;
}

type EventsAnswer = {
  accepted?: number;
  duplicate?: number;
  rejected?: number;
  rejections?: { event_id: string | null; reasons: string[] }[];
  error?: { code?: string; message?: string };
};

/**
 * Sends the positives of the dataset in `dataDir` as click events through `call`, in batches of at most
 * 1,000 events and 1 MiB. `on.planned` hears the counts before the first batch, `on.sent` after each.
 * Throws a UsageError when the folder is not a dataset (or has no interactions), an EdgeError when the edge
 * refuses a batch.
 * @example const r = await sendHistory('data', edgeClient(base, token, 4)); // r.accepted, r.duplicate
 */
export async function sendHistory(
  dataDir: string,
  call: Fetcher,
  on: { planned?: (r: HistoryResult) => void; sent?: (done: number, r: HistoryResult) => void } = {},
): Promise<HistoryResult> {
  const { loadDataset } = await import('../ingest/dataset.ts');
  const ds = loadDataset(dataDir);
  const it = ds.interactions;
  if (!it)
    throw new UsageError(
      `${dataDir} has no interactions (a ranking-only dataset, as Criteo's is): there is no user history to send.`,
    );
  const userIds = ds.users?.ids ?? [];
  const itemIds = ds.items?.ids ?? [];
  const r: HistoryResult = {
    events: 0,
    users: 0,
    accepted: 0,
    duplicate: 0,
    rejected: 0,
    firstRejection: null,
    before2000: 0,
    future: 0,
  };

  // First pass: the rows to send, so that the bar has its total and the left-out ones are counted up front.
  const latest = Date.now() + MAX_EVENT_FUTURE_MS;
  const rows = new Int32Array(it.rows); // (E) the first r.events hold the rows to send
  const seen = new Uint8Array(userIds.length); // (U)
  for (let row = 0; row < it.rows; row++) {
    if (!it.positive[row] || userIds[it.user[row]] === undefined || itemIds[it.item[row]] === undefined) continue;
    const ts = Math.round(it.ts[row] * 1000);
    if (!(ts >= EARLIEST_EVENT_MS)) r.before2000++;
    else if (ts > latest) r.future++;
    else {
      rows[r.events++] = row;
      if (!seen[it.user[row]]) r.users++;
      seen[it.user[row]] = 1;
    }
  }
  on.planned?.(r);

  // Second pass: events serialized one by one into a batch, sent when the next would pass either limit.
  let batch: string[] = [];
  let bytes = 0;
  let done = 0;
  const flush = async () => {
    const res = await call(
      '/v1/events',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"events":[${batch.join(',')}]}` },
      'sending past interactions',
      [202, 400],
    );
    const answer = (await res.json()) as EventsAnswer;
    if (res.status === 400) {
      // A batch with no valid event is a 400 invalid_events: count it as refused and go on with the next.
      if (answer.error?.code !== 'invalid_events')
        throw new EdgeError(
          `sending past interactions failed: 400 ${answer.error?.code}: ${answer.error?.message}`,
          400,
        );
      r.rejected += batch.length;
      r.firstRejection ??= answer.error.message ?? null;
    } else {
      r.accepted += answer.accepted ?? 0;
      r.duplicate += answer.duplicate ?? 0;
      r.rejected += answer.rejected ?? 0;
      const first = answer.rejections?.[0];
      if (first) r.firstRejection ??= `${first.event_id}: ${first.reasons[0]}`;
    }
    done += batch.length;
    batch = [];
    bytes = 0;
    on.sent?.(done, r);
  };
  for (let k = 0; k < r.events; k++) {
    const row = rows[k];
    const event = JSON.stringify({
      event_id: `history-${row}`,
      user_id: userIds[it.user[row]],
      item_id: itemIds[it.item[row]],
      type: 'click',
      ts: Math.round(it.ts[row] * 1000),
    });
    const size = Buffer.byteLength(event) + 1;
    if (batch.length === BATCH_EVENTS || (batch.length > 0 && bytes + size > BATCH_BYTES)) await flush();
    batch.push(event);
    bytes += size;
  }
  if (batch.length > 0) await flush();
  return r;
}

/** "48,580 past positives of 610 users: 48,580 new, 0 already there, 2,011 before 2000 left out". */
export function historySummary(r: HistoryResult): string {
  const n = (x: number) => x.toLocaleString('en-US');
  return (
    `${n(r.events)} past positives of ${n(r.users)} users: ${n(r.accepted)} new, ${n(r.duplicate)} already there` +
    (r.before2000 > 0 ? `, ${n(r.before2000)} before 2000 left out` : '') +
    (r.future > 0 ? `, ${n(r.future)} over a day ahead left out` : '') +
    (r.rejected > 0 ? `, ${n(r.rejected)} refused by the edge (first: ${r.firstRejection})` : '')
  );
}

/** The edge's refusals a user can fix, as one sentence with what to do. */
function explain(err: EdgeError): string {
  if (err.status === 401)
    return `the edge did not accept the token (401): it is missing, expired or signed with another secret; ${MINT}.`;
  if (err.status === 403)
    return (
      `the token may not post other users' events (403): sending history needs the scopes ` +
      `"service events:write"; mint one with ${MINT}.`
    );
  return err.message;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, FLAGS, 'vireo history');
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!values.data) throw new UsageError('--data DIR is required (the dataset folder vireo ingest --out wrote).');
  const base = edgeBase(values.edge ?? process.env.VIREO_EDGE_URL);
  const token = values.token ?? process.env.VIREO_EDGE_TOKEN;
  if (!token) throw new UsageError(`--token is required (or $VIREO_EDGE_TOKEN): ${MINT}.`);
  const attempts = numberFlag(values.retries, 'retries', 4, { integer: true, min: 1, max: 20 });

  let bar: Progress | null = null;
  let result: HistoryResult;
  try {
    result = await sendHistory(resolve(values.data), edgeClient(base, token, attempts), {
      planned: (r) => {
        const leftOut = r.before2000 + r.future;
        const n = (x: number) => x.toLocaleString('en-US');
        if (leftOut > 0)
          process.stderr.write(
            `vireo history: left out ${n(leftOut)} of ${n(r.events + leftOut)} past positives: ` +
              'the edge refuses times before 2000-01-01 and more than a day ahead.\n',
          );
        bar = progress('history', r.events, { quiet: values.quiet || values.json });
      },
      sent: (done, r) => bar?.update(done, { new: r.accepted, 'already there': r.duplicate }),
    });
  } catch (err) {
    if (err instanceof EdgeError) throw new EdgeError(explain(err), err.status);
    throw err;
  }
  (bar as Progress | null)?.finish({ new: result.accepted, 'already there': result.duplicate });
  if (values.json) process.stdout.write(`${JSON.stringify({ edge: base, ...result })}\n`);
  else process.stdout.write(`sent ${historySummary(result)}\n`);
  // Events the edge refused (an id it does not accept, a clock far off) are a failure a script should see.
  return result.rejected > 0 ? 1 : 0;
}
