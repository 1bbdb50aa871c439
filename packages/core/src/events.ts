// What an event's type means to the models (docs/ARCHITECTURE.md §4, "Event logs"). The positives are the
// interactions: they are the retrieval view's examples and a user's history (`user:recent_items`: the last 50
// positives). Every other type (`view`, `impression`, …) is an impression that was not clicked. One definition for
// the trainer (ingest, refresh), the edge (its real-time history) and the engine (the on-device history), so that
// serving reads the history that training read.

/** Event types that are positives (a click). */
export const POSITIVE_TYPES: ReadonlySet<string> = new Set(['click', 'conversion', 'purchase', 'like', 'add_to_cart']);
/** Of the positives, the conversions (their `value` is the revenue). */
export const CONVERSION_TYPES: ReadonlySet<string> = new Set(['conversion', 'purchase']);
/** A `rating` event (its `value` is the rating) is a positive at the minimum rating or above. */
export const RATING_TYPE = 'rating';
/** The minimum positive rating unless a dataset says otherwise (`vireo ingest --min-rating`; MovieLens' 4 of 5). */
export const MIN_POSITIVE_RATING = 4;

/** The earliest event time the edge takes, in ms: earlier is a clock or unit mistake (seconds sent as ms). */
export const EARLIEST_EVENT_MS = Date.UTC(2000, 0, 1);
/** How far ahead of the edge's clock an event may be, by default (the edge's `maxEventFutureMs`). */
export const MAX_EVENT_FUTURE_MS = 86_400_000;

/**
 * Whether an event is a positive: a positive type, or a rating at `minRating` or above.
 * @example isPositive({ type: 'rating', value: 4.5 }) // true
 */
export function isPositive(e: { type: string; value?: number | null }, minRating = MIN_POSITIVE_RATING): boolean {
  return POSITIVE_TYPES.has(e.type) || (e.type === RATING_TYPE && e.value != null && e.value >= minRating);
}
