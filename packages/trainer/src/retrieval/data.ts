// The retrieval view of a dataset as training examples and evaluation cases.
//
// Example: one training positive (user, item) at time t, with the user's events before t as
// history and the event's context (hour, device, …) from the matching impression row.
// Case: one user's held-out positive (leave-last-out) with everything the user did before it:
// the history the user tower reads, and the items excluded from the ranking (seen already).
import { FIRST_INDEX } from '@vireo/core';
import { SPLIT_TEST, SPLIT_TRAIN, type Dataset } from '../ingest/index.ts';

/**
 * Every user's events (any label) in time order — what the history encoder reads: item:id
 * indices and whether each was a positive. Event p is interaction row p (the interactions are
 * sorted by user, then time).
 */
export interface UserEvents {
  /** (U+1) user u's events are [start[u], start[u+1]). */
  start: Int32Array;
  /** (E) item:id index (item row + FIRST_INDEX) of each event. */
  items: Int32Array;
  /** (E) 1 when the event is a positive (click, rating ≥ threshold). */
  positive: Uint8Array;
}

/** The interactions as every user's event history. */
export function userEvents(ds: Dataset): UserEvents {
  const it = ds.interactions!;
  return { start: it.userOffsets, items: Int32Array.from(it.item, (i) => i + FIRST_INDEX), positive: it.positive };
}

/**
 * The impression row of each interaction (−1 when there is none), joined on (user, item, time):
 * where the event's context features (hour, device, …) are.
 */
export function contextRows(ds: Dataset): Int32Array {
  const it = ds.interactions!;
  const out = new Int32Array(it.user.length).fill(-1);
  const im = ds.impressions;
  if (!im?.user || !im.item) return out;
  const byKey = new Map<string, number>();
  for (let r = 0; r < im.rows; r++) byKey.set(`${im.user[r]}|${im.item[r]}|${im.ts[r]}`, r);
  for (let e = 0; e < it.user.length; e++) out[e] = byKey.get(`${it.user[e]}|${it.item[e]}|${it.ts[e]}`) ?? -1;
  return out;
}

/** Training examples (E_train): positives of the train split. */
export interface Examples {
  count: number;
  user: Int32Array; //    user row
  item: Int32Array; //    item row (the positive)
  /** History = events.items[max(events.start[user], end − L) .. end). */
  historyEnd: Int32Array;
  context: Int32Array; // impression row or −1
  ts: Float64Array; //    event time
}

/** The train split's positives as examples, in (user, time) order. */
export function trainingExamples(ds: Dataset, events: UserEvents, context: Int32Array): Examples {
  const it = ds.interactions!;
  const U = events.start.length - 1;
  let n = 0;
  for (let e = 0; e < it.user.length; e++) if (it.positive[e] && it.split[e] === SPLIT_TRAIN) n++;
  const ex: Examples = {
    count: n,
    user: new Int32Array(n),
    item: new Int32Array(n),
    historyEnd: new Int32Array(n),
    context: new Int32Array(n),
    ts: new Float64Array(n),
  };
  let k = 0;
  for (let u = 0; u < U; u++) {
    for (let e = events.start[u]; e < events.start[u + 1]; e++) {
      if (!it.positive[e] || it.split[e] !== SPLIT_TRAIN) continue;
      ex.user[k] = u;
      ex.item[k] = it.item[e];
      ex.historyEnd[k] = e; // the user's events strictly before this one
      ex.ts[k] = it.ts[e];
      ex.context[k++] = context[e];
    }
  }
  return ex;
}

/** log of each item's share of the training positives (logQ correction); items never seen get the smallest share. */
export function itemLogQ(ds: Dataset, ex: Examples): Float32Array {
  const N = ds.items!.rows;
  const count = new Float64Array(N);
  for (let k = 0; k < ex.count; k++) count[ex.item[k]]++;
  const out = new Float32Array(N);
  for (let i = 0; i < N; i++) out[i] = Math.log(Math.max(count[i], 0.5) / Math.max(1, ex.count));
  return out;
}

/** One held-out user: what to find, what the user did before, what not to recommend. */
export interface RetrievalCase {
  user: number;
  /** Interaction row of the held-out positive. */
  row: number;
  ts: number;
  /** Item rows to find (the held-out positives). */
  relevant: Int32Array;
  /** History = events.items[historyStart .. historyEnd): every event before the held-out one. */
  historyStart: number;
  historyEnd: number;
  /** Item rows the user interacted with before (any label): excluded from the ranking. */
  exclude: Set<number>;
  /** Impression row of the held-out event (its context), or −1. */
  context: number;
}

/**
 * The evaluation cases of a split (leave-last-out: each user's held-out positive of `split`).
 * Users without one are skipped.
 */
export function retrievalCases(
  ds: Dataset,
  events: UserEvents,
  context: Int32Array,
  split = SPLIT_TEST,
): RetrievalCase[] {
  const it = ds.interactions!;
  const U = events.start.length - 1;
  const cases: RetrievalCase[] = [];
  for (let u = 0; u < U; u++) {
    const begin = events.start[u];
    const end = events.start[u + 1];
    let row = -1;
    for (let e = begin; e < end; e++) {
      if (it.positive[e] && it.split[e] === split) {
        row = e;
        break;
      }
    }
    if (row < 0) continue;
    const relevant = new Set<number>();
    for (let e = row; e < end; e++) if (it.positive[e] && it.split[e] === split) relevant.add(it.item[e]);
    const exclude = new Set<number>();
    for (let e = begin; e < row; e++) exclude.add(it.item[e]);
    cases.push({
      user: u,
      row,
      ts: it.ts[row],
      relevant: Int32Array.from(relevant),
      historyStart: begin,
      historyEnd: row,
      exclude,
      context: context[row],
    });
  }
  return cases;
}
