// Pulling the edge's events into the refresh's state folder, exactly once (docs/ARCHITECTURE.md,
// section 7, "The event log"). STATE/events.ndjson holds every event pulled so far, one JSON line
// each, in the edge's order; the cursor is the `seq` of its last complete line, so the log and
// the cursor can never disagree. A page is appended and fsynced before the next is asked for; a
// refresh killed mid-write leaves at most a partial last line, which the next run cuts off and
// pulls again. Nothing is pulled twice (lines with seq ≤ the cursor are never appended) and
// nothing is lost (the next request asks after the last line kept).
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../cli/args.ts';

/** One event as the edge exports it (GET /v1/events/export). */
export interface EdgeEvent {
  seq: number;
  event_id: string;
  user_id: string;
  item_id: string;
  type: string;
  value: number | null;
  /** Event time, ms since the epoch. */
  ts: number;
  context: Record<string, unknown>;
  received_at: number;
}

/** What one pull added: cursors `after` (exclusive) to `through` (inclusive), as the edge's strings. */
export interface PullResult {
  after: string;
  through: string;
  count: number;
  pages: number;
}

/** The state folder's event log. */
export const eventLogPath = (stateDir: string) => join(stateDir, 'events.ndjson');

/**
 * Reads the event log, cutting off a partial last line (a write that a kill interrupted).
 * @example const { events, cursor } = readEventLog('.vireo/refresh');
 */
export function readEventLog(stateDir: string): { events: EdgeEvent[]; cursor: number } {
  const path = eventLogPath(stateDir);
  if (!existsSync(path)) return { events: [], cursor: 0 };
  const text = readFileSync(path, 'utf8');
  const complete = text.lastIndexOf('\n') + 1;
  if (complete < text.length) {
    // Only the bytes after the last newline can be partial: a line is written, then fsynced, whole.
    const fd = openSync(path, 'r+');
    try {
      ftruncateSync(fd, Buffer.byteLength(text.slice(0, complete)));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  const events = text
    .slice(0, complete)
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as EdgeEvent);
  return { events, cursor: events.at(-1)?.seq ?? 0 };
}

/**
 * Throws one sentence when the edge refused the cursor as past the end of its log (400 with `details.last`): the
 * state folder was filled from another database (a new data folder, a restored backup), whose numbers start
 * again. Any other answer is left to the caller.
 */
export async function refuseForeignCursor(res: Response, cursor: number, log: 'event' | 'feature'): Promise<void> {
  if (res.status !== 400) return;
  const body = (await res
    .clone()
    .json()
    .catch(() => null)) as { error?: { details?: { last?: string } } } | null;
  const last = body?.error?.details?.last;
  if (last === undefined) return;
  throw new UsageError(
    `the edge's ${log} log ends at ${last}, before this state folder's cursor ${cursor}: the edge has a new ` +
      'database (a new data folder or a restored backup), so start with a new --state folder (the old one keeps ' +
      'what it pulled).',
  );
}

export interface PullOptions {
  edge: string;
  token: string;
  stateDir: string;
  /** Events per request (the edge allows 1 to 1,000). */
  pageSize?: number;
  /** Stop after this many pages (tests); default: until the edge has nothing new. */
  maxPages?: number;
  fetch?: typeof fetch;
}

/**
 * Pulls every event after the log's cursor and appends it to the log, page by page.
 * @example const pulled = await pullEvents({ edge: 'http://127.0.0.1:8787', token, stateDir: '.vireo/refresh' });
 */
export async function pullEvents(o: PullOptions): Promise<PullResult> {
  const fetchImpl = o.fetch ?? fetch;
  mkdirSync(o.stateDir, { recursive: true });
  const start = readEventLog(o.stateDir).cursor;
  let cursor = start;
  let pages = 0;
  let count = 0;
  const fd = openSync(eventLogPath(o.stateDir), 'a');
  try {
    while (o.maxPages === undefined || pages < o.maxPages) {
      const url = `${o.edge}/v1/events/export?after=${cursor}&limit=${o.pageSize ?? 1000}`;
      let res: Response;
      try {
        res = await fetchImpl(url, { headers: { authorization: `Bearer ${o.token}` } });
      } catch (err) {
        throw new UsageError(`cannot reach the edge at ${o.edge} (${(err as Error).message}): is it running?`, 1);
      }
      if (res.status === 401 || res.status === 403)
        throw new UsageError(
          `the edge refused the token (${res.status}): refresh needs a token with the events:export scope ` +
            `(vireo token --sub trainer --scope "events:export features:export models:publish").`,
        );
      await refuseForeignCursor(res, cursor, 'event');
      if (!res.ok) throw new UsageError(`the edge answered ${res.status} to ${url}: ${await res.text()}`, 1);
      const page = (await res.json()) as { events: EdgeEvent[]; next: string };
      pages++;
      const fresh = page.events.filter((e) => e.seq > cursor);
      if (fresh.length === 0) break;
      const lines = fresh.map((e) => `${JSON.stringify(e)}\n`).join('');
      writeSync(fd, lines);
      fsyncSync(fd);
      cursor = fresh.at(-1)!.seq;
      count += fresh.length;
    }
  } finally {
    closeSync(fd);
  }
  return { after: String(start), through: String(cursor), count, pages };
}
