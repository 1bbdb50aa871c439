// The refresh's dataset: the base dataset (what the first model was trained on, `vireo ingest`)
// with every event pulled from the edge appended, written as a new dataset folder in the same
// format (ingest/dataset.ts), so that training and evaluation read it as they read any other.
//
//   vocabularies   user:id and item:id grow at their end (old indices keep their meaning, so a
//                  warm start copies rows by value and the parent's ids stay valid)
//   users, items   one new row per new id: its id, other features PAD / 0 (unknown until pushed);
//                  items pushed to the edge (refresh/items.ts) get rows too, with features from
//                  their pushed values, so a retrain keeps what an items-only update added
//   (events)       those the base already holds (same user, item and time) are left out
//   interactions   + one row per positive event (click, conversion, purchase, like, add_to_cart, a
//                  rating at the base's --min-rating), re-sorted
//                  by (user, time); weight 2 for a conversion, as the synthetic world weighs them
//   impressions    + one row per event: labels click (or like) / conversion / revenue from its type and
//                  value, context features from its context (context:hour from its time if absent)
//   splits         the most recent `holdout` share of the pulled events (by time) is the test
//                  window both models are compared on; every other row trains (docs/ARCHITECTURE.md,
//                  section 4, "Refresh")
import {
  buildLookups,
  encodeCategorical,
  encodeMultiHot,
  featureSource,
  FIRST_INDEX,
  transformNumeric,
  transformValue,
  type Dtype,
  type Feature,
  type RawValue,
  type Tensor,
  type TypedArray,
  type Vocabularies,
} from '@vireo/core';
import { UsageError } from '../cli/args.ts';
import { DatasetWriter, loadDataset, SPLIT_TEST, SPLIT_TRAIN, type Dataset } from '../ingest/dataset.ts';
import type { EdgeEvent } from './pull.ts';
import { DEFAULT_MIN_RATING } from '../ingest/index.ts';
import { TASK_LABELS } from '../ranking/data.ts';
import { CONVERSION_TYPES, isPositive, RATING_TYPE } from '../ingest/events.ts';

/** The impressions columns of each ranking task's label (`label:click`, `label:like`, …). */
const labelColumn = {
  ctr: new Set(TASK_LABELS.ctr.map((l) => `label:${l}`)),
  cvr: new Set(TASK_LABELS.cvr.map((l) => `label:${l}`)),
  revenue: new Set(TASK_LABELS.revenue.map((l) => `label:${l}`)),
};

/** What the appended events amount to. */
export interface AppendSummary {
  /** Events appended, and events skipped because the base dataset already holds them. */
  events: number;
  alreadyInBase: number;
  positives: number;
  newUsers: number;
  newItems: number;
  /** Events at or after this time (unix seconds) are the held-out window. */
  windowFrom: number;
  windowEvents: number;
  timeRange: { min: number; max: number } | null;
}

type Ctor = { new (n: number): TypedArray };
const CTORS: Partial<Record<Dtype, Ctor>> = {
  F64: Float64Array,
  F32: Float32Array,
  I32: Int32Array,
  U32: Uint32Array,
  U16: Uint16Array,
  I8: Int8Array,
  U8: Uint8Array,
} as never;

/** `column` (rows, ...rest) grown to `rows`, new rows from `fill(row, out)` (zeros by default). */
function grow(column: Tensor, rows: number, fill?: (row: number, out: TypedArray, width: number) => void): Tensor {
  const width = column.shape.slice(1).reduce((a, b) => a * b, 1);
  const out = new CTORS[column.dtype]!(rows * width);
  out.set(column.data as never);
  if (fill) for (let r = column.shape[0]; r < rows; r++) fill(r, out, width);
  return { dtype: column.dtype, shape: [rows, ...column.shape.slice(1)], data: out };
}

/** Rows of `column` in `order` (a permutation or a selection). */
function take(column: Tensor, order: ArrayLike<number>): Tensor {
  const width = column.shape.slice(1).reduce((a, b) => a * b, 1);
  const out = new CTORS[column.dtype]!(order.length * width);
  const src = column.data as TypedArray;
  for (let i = 0; i < order.length; i++)
    out.set(src.subarray(order[i] * width, (order[i] + 1) * width) as never, i * width);
  return { dtype: column.dtype, shape: [order.length, ...column.shape.slice(1)], data: out };
}

/** One raw context value encoded as the spec says (numeric: its transforms; indexed: its vocabulary). */
function encodeContext(f: Feature, raw: RawValue, lookups: ReturnType<typeof buildLookups>, width: number): number[] {
  if (f.kind === 'numeric') return [transformNumeric(f, Array.isArray(raw) ? raw[0] : (raw as never))];
  if (f.kind === 'categorical') return [encodeCategorical(f, Array.isArray(raw) ? raw[0] : (raw as never), lookups)];
  if (f.kind === 'multi_hot') return Array.from(encodeMultiHot(f, raw, lookups, new Int32Array(width)));
  return new Array(width).fill(0);
}

/**
 * Writes `out`: the base dataset plus `events`, split as above. DatasetWriter stages it beside `out`
 * and moves it in once complete, so a killed refresh never leaves half a dataset.
 * @example const { summary } = appendEvents('data/', events, '.vireo/refresh/dataset', 0.25);
 */
export function appendEvents(
  baseDir: string,
  events: readonly EdgeEvent[],
  out: string,
  holdout: number,
  /** Items pushed to the edge: id → pushed values by source name (new rows take their features). */
  pushed: ReadonlyMap<string, Record<string, unknown>> = new Map(),
): { ds: Dataset; summary: AppendSummary } {
  const base = loadDataset(baseDir);
  const it = base.interactions;
  const im = base.impressions;
  if (!base.users || !base.items || !it || !im?.user || !im.item)
    throw new UsageError(
      `${baseDir} has no users, items, interactions and impressions with users and items: ` +
        'refresh needs a dataset of user–item events (e.g. vireo ingest --source synthetic or movielens).',
    );
  const vocabularies: Vocabularies = Object.fromEntries(Object.entries(base.vocabularies).map(([k, v]) => [k, [...v]]));
  const userIds = (vocabularies['user:id'] ??= []);
  const itemIds = (vocabularies['item:id'] ??= []);
  const userRow = new Map(userIds.map((id, r) => [id, r]));
  const itemRow = new Map(itemIds.map((id, r) => [id, r]));
  const rowOf = (map: Map<string, number>, ids: string[], id: string) => {
    let r = map.get(id);
    if (r === undefined) {
      r = ids.length;
      ids.push(id);
      map.set(id, r);
    }
    return r;
  };
  const U0 = userIds.length;
  const N0 = itemIds.length;
  // Events the base already holds (e.g. `vireo start` sends the training history to the edge) are not
  // appended twice: a positive matching a base interaction by user, item and time (ms) is skipped.
  const inBase = new Set<string>();
  for (let e = 0; e < it.rows; e++)
    if (it.positive[e]) inBase.add(`${userIds[it.user[e]]}|${itemIds[it.item[e]]}|${Math.round(it.ts[e] * 1000)}`);
  const options = base.summary.options as { minRating?: number; throughSeq?: number } | undefined;
  const minRating = options?.minRating ?? DEFAULT_MIN_RATING;
  const positiveEvent = (e: EdgeEvent) => isPositive(e, minRating);
  // A base ingested from the edge's own log (`--source events`) holds every event up to its throughSeq.
  const throughSeq = options?.throughSeq ?? 0;
  const fresh = events.filter(
    (e) =>
      Number(e.seq) > throughSeq && !(positiveEvent(e) && inBase.has(`${e.user_id}|${e.item_id}|${Math.round(e.ts)}`)),
  );
  const sorted = [...fresh].sort((a, b) => a.ts - b.ts || a.seq - b.seq);
  const ts = sorted.map((e) => e.ts / 1000); // the dataset's times are unix seconds
  const windowFrom = ts.length === 0 ? Infinity : ts[Math.min(ts.length - 1, Math.floor(ts.length * (1 - holdout)))];
  const eu = sorted.map((e) => rowOf(userRow, userIds, e.user_id));
  const ei = sorted.map((e) => rowOf(itemRow, itemIds, e.item_id));
  for (const id of pushed.keys()) rowOf(itemRow, itemIds, id);

  const writer = new DatasetWriter(out);
  const idFill = (r: number, data: TypedArray) => {
    data[r] = r + FIRST_INDEX;
  };
  const entity = (table: 'users' | 'items', idColumn: string, rows: number) => {
    for (const [name, col] of base[table]!.columns) {
      const grown = grow(col, rows, name === idColumn ? idFill : undefined);
      writer.writeColumn(table, name, grown.dtype, grown.data, grown.shape);
    }
  };
  entity('users', 'user:id', userIds.length);
  // New item rows: their pushed values through the spec's transforms (the base rows are kept as ingested).
  const itemLookups = buildLookups(base.spec, vocabularies);
  const itemFeature = new Map(base.spec.features.map((f) => [f.name, f]));
  for (const [name, col] of base.items.columns) {
    const f = itemFeature.get(name);
    const grown = grow(col, itemIds.length, (r, data, width) => {
      if (name === 'item:id') return idFill(r, data);
      const raw = f ? pushed.get(itemIds[r])?.[featureSource(f)] : undefined;
      if (raw === undefined) return;
      const v = transformValue(f!, raw as RawValue, itemLookups);
      if (typeof v === 'number') data[r * width] = v;
      else for (let l = 0; l < width; l++) data[r * width + l] = l < v.length ? v[l] : 0;
    });
    writer.writeColumn('items', name, grown.dtype, grown.data, grown.shape);
  }

  // Interactions: base rows (all train now) + positives, sorted by (user, time).
  const positives = sorted.map((e, k) => k).filter((k) => positiveEvent(sorted[k]));
  const E0 = it.rows;
  const E = E0 + positives.length;
  const user = new Int32Array(E);
  const item = new Int32Array(E);
  const its = new Float64Array(E);
  const weight = new Float32Array(E);
  const positive = new Uint8Array(E);
  const split = new Uint8Array(E);
  user.set(it.user);
  item.set(it.item);
  its.set(it.ts);
  weight.set(it.weight);
  positive.set(it.positive);
  split.fill(SPLIT_TRAIN, 0, E0);
  positives.forEach((k, j) => {
    const e = E0 + j;
    user[e] = eu[k];
    item[e] = ei[k];
    its[e] = ts[k];
    weight[e] = CONVERSION_TYPES.has(sorted[k].type) ? 2 : 1;
    positive[e] = 1;
    split[e] = ts[k] >= windowFrom ? SPLIT_TEST : SPLIT_TRAIN;
  });
  const order = Array.from({ length: E }, (_, e) => e).sort((a, b) => user[a] - user[b] || its[a] - its[b] || a - b);
  const interactions: Record<string, Tensor> = {
    user: { dtype: 'I32', shape: [E], data: user },
    item: { dtype: 'I32', shape: [E], data: item },
    ts: { dtype: 'F64', shape: [E], data: its },
    weight: { dtype: 'F32', shape: [E], data: weight },
    positive: { dtype: 'U8', shape: [E], data: positive },
    split: { dtype: 'U8', shape: [E], data: split },
  };
  // Other columns of the base (none in the built-in sources): zeros for the events.
  for (const [name, col] of it.columns) if (!(name in interactions)) interactions[name] = grow(col, E);
  for (const [name, col] of Object.entries(interactions)) {
    const sortedCol = take(col, order);
    writer.writeColumn('interactions', name, sortedCol.dtype, sortedCol.data, sortedCol.shape);
  }

  // Impressions: base rows (all train) + one row per event.
  const R0 = im.rows;
  const R = R0 + sorted.length;
  const lookups = buildLookups(base.spec, vocabularies);
  const byName = new Map(base.spec.features.map((f) => [f.name, f]));
  for (const [name, col] of im.columns) {
    const f = byName.get(name);
    const grown = grow(col, R, (r, data, width) => {
      const k = r - R0;
      const e = sorted[k];
      const conversion = CONVERSION_TYPES.has(e.type);
      const set = (v: number) => {
        data[r * width] = v;
      };
      if (name === 'user') set(eu[k]);
      else if (name === 'item') set(ei[k]);
      else if (name === 'ts') set(ts[k]);
      else if (name === 'split') set(ts[k] >= windowFrom ? SPLIT_TEST : SPLIT_TRAIN);
      // Each ranking task's label under any of its names (TASK_LABELS): the ctr task reads `click`, or MovieLens'
      // `like` (before, only label:click was written and a like stayed 0 on every appended row).
      else if (labelColumn.ctr.has(name)) set(positiveEvent(e) ? 1 : 0);
      else if (name === 'label:rating') set(e.type === RATING_TYPE && e.value !== null ? e.value : 0);
      else if (labelColumn.cvr.has(name)) set(conversion ? 1 : 0);
      else if (labelColumn.revenue.has(name)) set(conversion ? Math.max(0, e.value ?? 0) : 0);
      else if (f && name.startsWith('context:')) {
        const key = name.slice('context:'.length);
        let raw = (e.context[key] ?? null) as RawValue;
        if (raw === null && key === 'hour') raw = String(new Date(e.ts).getUTCHours());
        data.set(encodeContext(f, raw, lookups, width) as never, r * width);
      }
    });
    if (name === 'split') (grown.data as Uint8Array).fill(SPLIT_TRAIN, 0, R0);
    writer.writeColumn('impressions', name, grown.dtype, grown.data, grown.shape);
  }
  if (base.oracle)
    for (const [name, col] of base.oracle.columns) writer.writeColumn('oracle', name, col.dtype, col.data, col.shape);

  const windowEvents = ts.filter((t) => t >= windowFrom).length;
  const test = Array.from(split).filter((s) => s === SPLIT_TEST).length;
  const summary: AppendSummary = {
    events: sorted.length,
    alreadyInBase: events.length - fresh.length,
    positives: positives.length,
    newUsers: userIds.length - U0,
    newItems: itemIds.length - N0,
    windowFrom,
    windowEvents,
    timeRange: ts.length ? { min: ts[0], max: ts[ts.length - 1] } : null,
  };
  const times = [base.summary.timeRange?.min, base.summary.timeRange?.max, ts[0], ts.at(-1)].filter(
    (t): t is number => t !== undefined,
  );
  writer.finish(
    {
      ...base.summary,
      name: base.summary.name,
      createdAt: new Date().toISOString(),
      options: { ...base.summary.options, refresh: { base: baseDir, holdout } },
      counts: {
        users: userIds.length,
        items: itemIds.length,
        interactions: E,
        positives: Array.from(positive).filter(Boolean).length,
        impressions: R,
      },
      timeRange: times.length ? { min: Math.min(...times), max: Math.max(...times) } : null,
      splits: {
        // The held-out window by time, for both views (see the header).
        retrieval: {
          ...(base.summary.splits.retrieval ?? { minPositives: 1, usersWithValid: 0 }),
          method: 'leave-last-out',
          train: E - test,
          valid: 0,
          test,
          usersWithTest: new Set(order.filter((e) => split[e] === SPLIT_TEST).map((e) => user[e])).size,
          usersWithValid: 0,
        },
        ranking: {
          method: 'time',
          validFrom: windowFrom,
          testFrom: windowFrom,
          train: R - windowEvents,
          valid: 0,
          test: windowEvents,
        },
      },
      elapsedSeconds: 0,
    },
    base.spec,
    vocabularies,
    base.statistics,
  );
  return { ds: loadDataset(out), summary };
}
