// The edge's own event log as a dataset: the first model of a site that has no logs of its own but
// an edge that has been collecting events. `vireo refresh --pull-only --state DIR` writes
// DIR/events.ndjson (one event per line, as GET /v1/events/export gives them: exactly once, in the
// edge's order); `vireo ingest --source events --path DIR/events.ndjson` reads it with the rules the
// refresh uses to grow a dataset (refresh/dataset.ts), so the two agree on what an event means:
//
//   click       1 for a positive: click, conversion, purchase, like, add_to_cart, or a `rating`
//               at --min-rating or above; every other type (view, impression, …) is a 0
//   conversion  1 for conversion and purchase
//   revenue     a conversion's value (0 when it has none)
//
// Every event is an impression (the ranking view); the positives are the interactions (the
// retrieval view). The features are the ids and the user's history, as in any event log
// (docs/ARCHITECTURE.md §4, "Event logs"). The dataset records the last `seq` it holds, so a
// refresh that starts from it appends only the events after it.
import type { FeatureSpec } from '@vireo/core';
import { parseFeatureSpec } from '@vireo/core';
import type { DatasetSummary } from './dataset.ts';
import type { IngestOptions } from './options.ts';
import { jsonlReader, type RawRow, type RowReader } from './readers.ts';
import { DEFAULT_HISTORY, ingestTabular } from './tabular.ts';

// What an event type means (positives, conversions, ratings) is @vireo/core's, shared with the edge and the engine.
import { CONVERSION_TYPES, isPositive } from '@vireo/core';
export { CONVERSION_TYPES, isPositive, POSITIVE_TYPES, RATING_TYPE } from '@vireo/core';

/** The edge's event fields that a line must have. */
const EVENT_FIELDS = ['seq', 'user_id', 'item_id', 'type', 'ts'];

export function eventsSpec(): FeatureSpec {
  return parseFeatureSpec({
    name: 'events',
    entities: { user: { key: 'user_id' }, item: { key: 'item_id' } },
    timestamp: 'ts',
    features: [{ name: 'user:id', kind: 'categorical' }, DEFAULT_HISTORY, { name: 'item:id', kind: 'categorical' }],
    // `click` first: the retrieval view's positives are the first binary label's ones (tabular.ts).
    labels: [
      { name: 'click', kind: 'binary' },
      { name: 'conversion', kind: 'binary' },
      { name: 'revenue', kind: 'regression' },
    ],
  });
}

/** Why a line is not one of the edge's events, or null. */
function badEvent(e: RawRow): string | null {
  for (const k of ['user_id', 'item_id', 'type'])
    if (typeof e[k] !== 'string' || e[k] === '') return `"${k}" must be a non-empty string`;
  if (typeof e.ts !== 'number' || !Number.isFinite(e.ts)) return '"ts" must be a time in milliseconds';
  if (typeof e.seq !== 'number' && typeof e.seq !== 'string') return '"seq" must be the edge\'s sequence number';
  if (e.value !== undefined && e.value !== null && (typeof e.value !== 'number' || !Number.isFinite(e.value)))
    return '"value" must be a number or null';
  return null;
}

/** Reads the edge's events as rows of eventsSpec(); `seen.throughSeq` follows the last `seq` read. */
export async function eventsReader(path: string, minRating: number, seen: { throughSeq?: number }): Promise<RowReader> {
  const inner = await jsonlReader(path);
  return {
    ...inner,
    read(_required, onRow, onProgress) {
      return inner.read(
        EVENT_FIELDS,
        (row, line) => {
          if (typeof row === 'string') return onRow(row, line);
          const reason = badEvent(row);
          if (reason) return onRow(reason, line);
          const value = (row.value ?? null) as number | null;
          const type = row.type as string;
          const conversion = CONVERSION_TYPES.has(type);
          seen.throughSeq = Math.max(seen.throughSeq ?? 0, Number(row.seq));
          onRow(
            {
              user_id: row.user_id,
              item_id: row.item_id,
              ts: (row.ts as number) / 1000,
              click: isPositive({ type, value }, minRating) ? 1 : 0,
              conversion: conversion ? 1 : 0,
              revenue: conversion ? Math.max(0, value ?? 0) : 0,
            },
            line,
          );
        },
        onProgress,
      );
    },
  };
}

/** Ingests the edge's event log (`vireo refresh --pull-only`'s events.ndjson) into `opts.out`. */
export async function ingestEvents(path: string, opts: IngestOptions & { minRating: number }): Promise<DatasetSummary> {
  // Recorded in dataset.json (read when the ingest finishes): the refresh's rating rule and where its log resumes.
  const options: { minRating: number; throughSeq?: number } = { minRating: opts.minRating };
  const reader = await eventsReader(path, opts.minRating, options);
  return ingestTabular({ source: 'events', spec: eventsSpec(), reader, options }, opts);
}
