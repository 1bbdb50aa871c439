// Writing the two training views from per-event arrays held in memory (MovieLens, generic logs):
// the retrieval view sorted by (user, time) with its leave-last-out split, and the ranking view's
// shared columns (user, item, time, labels) with its time split.
import type { DatasetWriter, RankingSplitSummary, RetrievalSplitSummary } from './dataset.ts';
import { RetrievalSplitCounter, applyTimeSplit, timeCutoffs } from './splits.ts';

/** Per-event arrays, in input order. E = events. */
export interface EventArrays {
  user: Int32Array; //     (E) user row
  item: Int32Array; //     (E) item row
  ts: Float64Array; //     (E) unix seconds
  weight: Float32Array; // (E)
  positive: Uint8Array; // (E)
}

/**
 * Order of events by user, then time, then input order: a stable counting sort on users, then each
 * user's few events sorted by time.
 */
export function userTimeOrder(user: Int32Array, ts: Float64Array, numUsers: number): Uint32Array {
  const offsets = new Int32Array(numUsers + 1);
  for (let e = 0; e < user.length; e++) offsets[user[e] + 1]++;
  for (let u = 0; u < numUsers; u++) offsets[u + 1] += offsets[u];
  const cursor = offsets.slice(0, numUsers);
  const order = new Uint32Array(user.length);
  for (let e = 0; e < user.length; e++) order[cursor[user[e]]++] = e;
  for (let u = 0; u < numUsers; u++) {
    const seg = order.subarray(offsets[u], offsets[u + 1]);
    if (seg.length > 1) seg.sort((a, b) => ts[a] - ts[b] || a - b);
  }
  return order;
}

/** Writes the `interactions` table (sorted by user, time) and returns its split summary. */
export function writeInteractions(
  out: DatasetWriter,
  events: EventArrays,
  numUsers: number,
  minPositives: number,
): RetrievalSplitSummary {
  const order = userTimeOrder(events.user, events.ts, numUsers);
  const n = order.length;
  const user = new Int32Array(n);
  const item = new Int32Array(n);
  const ts = new Float64Array(n);
  const weight = new Float32Array(n);
  const positive = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    const e = order[r];
    user[r] = events.user[e];
    item[r] = events.item[e];
    ts[r] = events.ts[e];
    weight[r] = events.weight[e];
    positive[r] = events.positive[e];
  }
  const split = new Uint8Array(n);
  const counter = new RetrievalSplitCounter(minPositives);
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && user[end] === user[start]) end++;
    counter.user(positive, start, end, split);
    start = end;
  }
  out.writeColumn('interactions', 'user', 'I32', user);
  out.writeColumn('interactions', 'item', 'I32', item);
  out.writeColumn('interactions', 'ts', 'F64', ts);
  out.writeColumn('interactions', 'weight', 'F32', weight);
  out.writeColumn('interactions', 'positive', 'U8', positive);
  out.writeColumn('interactions', 'split', 'U8', split);
  return counter.summary;
}

/**
 * Writes the ranking view's shared columns (`user`, `item` when present, `ts`, `split`, and
 * `label:<name>` per label) and returns the time split summary.
 */
export function writeImpressionCore(
  out: DatasetWriter,
  columns: { user?: Int32Array; item?: Int32Array; ts: Float64Array; labels: Map<string, Float32Array> },
  fractions: { validFraction: number; testFraction: number },
): RankingSplitSummary {
  const split = new Uint8Array(columns.ts.length);
  const summary = applyTimeSplit(
    columns.ts,
    timeCutoffs(columns.ts, fractions.validFraction, fractions.testFraction),
    split,
  );
  if (columns.user) out.writeColumn('impressions', 'user', 'I32', columns.user);
  if (columns.item) out.writeColumn('impressions', 'item', 'I32', columns.item);
  out.writeColumn('impressions', 'ts', 'F64', columns.ts);
  out.writeColumn('impressions', 'split', 'U8', split);
  for (const [name, values] of columns.labels) out.writeColumn('impressions', `label:${name}`, 'F32', values);
  return summary;
}

/** Earliest and latest time, null when there are none. */
export function timeRange(ts: ArrayLike<number>): { min: number; max: number } | null {
  if (ts.length === 0) return null;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < ts.length; i++) {
    if (ts[i] < min) min = ts[i];
    if (ts[i] > max) max = ts[i];
  }
  return { min, max };
}
