// An entity's raw feature row as served: the pushed values plus the real-time features computed
// from events, under reserved column names that a feature spec can read like any other column
// (e.g. { name: 'user:history', kind: 'sequence', source: 'recent_items' }).
import type { FeatureValue, ItemRealtime, StoredFeature, UserRealtime } from '../storage/types.ts';

/** Columns filled from events; a push may not write them. */
export const REALTIME_COLUMNS = {
  user: ['recent_items', 'recent_types', 'top_categories', 'last_seen', 'first_seen', 'event_count'],
  item: ['popularity', 'last_seen', 'first_seen', 'event_count'],
} as const;

/** Item columns `popularity_<type>` are real-time too. */
export const isRealtimeColumn = (entity: 'user' | 'item', name: string) =>
  (REALTIME_COLUMNS[entity] as readonly string[]).includes(name) ||
  (entity === 'item' && name.startsWith('popularity_'));

/** Categories shown in `top_categories`, best first. */
const TOP_CATEGORIES = 10;

/** A user's `top_categories`: the most counted categories, best first (ties by name). */
export const topCategories = (categories: Record<string, number>): string[] =>
  Object.entries(categories)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, TOP_CATEGORIES)
    .map(([c]) => c);

/** The real-time columns of a user: history oldest → newest (the sequence convention of the spec). */
export function userRealtimeColumns(rt: UserRealtime): Record<string, StoredFeature> {
  const chronological = [...rt.history].reverse();
  const top = topCategories(rt.categories);
  const at = rt.lastSeen;
  return {
    recent_items: { value: chronological.map((h) => h.itemId), eventTs: at },
    recent_types: { value: chronological.map((h) => h.type), eventTs: at },
    top_categories: { value: top, eventTs: at },
    last_seen: { value: rt.lastSeen, eventTs: at },
    first_seen: { value: rt.firstSeen, eventTs: at },
    event_count: { value: rt.events, eventTs: at },
  };
}

/** The real-time columns of an item: decayed popularity in total and per event type. */
export function itemRealtimeColumns(rt: ItemRealtime): Record<string, StoredFeature> {
  const at = rt.lastSeen;
  const out: Record<string, StoredFeature> = {
    popularity: { value: Object.values(rt.popularity).reduce((a, b) => a + b, 0), eventTs: at },
    last_seen: { value: rt.lastSeen, eventTs: at },
    first_seen: { value: rt.firstSeen, eventTs: at },
    event_count: { value: rt.events, eventTs: at },
  };
  for (const [type, value] of Object.entries(rt.popularity)) out[`popularity_${type}`] = { value, eventTs: at };
  return out;
}

/** The JSON shape of a user's real-time state. */
export function userRealtimeJson(rt: UserRealtime) {
  return {
    history: rt.history.map((h) => ({ item_id: h.itemId, type: h.type, ts: h.ts })),
    category_counts: rt.categories,
    first_seen: rt.firstSeen,
    last_seen: rt.lastSeen,
    event_count: rt.events,
  };
}

/** The JSON shape of an item's real-time state. */
export function itemRealtimeJson(rt: ItemRealtime) {
  return { popularity: rt.popularity, first_seen: rt.firstSeen, last_seen: rt.lastSeen, event_count: rt.events };
}

/** Pushed and real-time columns merged (real-time names are reserved, so nothing is overwritten). */
export function mergeColumns(
  stored: Record<string, StoredFeature> | undefined,
  realtime: Record<string, StoredFeature> | null,
): Record<string, StoredFeature> {
  return { ...(stored ?? {}), ...(realtime ?? {}) };
}

/** The raw values of a row, in an object without a prototype (a feature named `constructor` is just a name). */
export function rawValues(row: Record<string, StoredFeature>): Record<string, FeatureValue> {
  const out: Record<string, FeatureValue> = Object.create(null);
  for (const [k, v] of Object.entries(row)) out[k] = v.value;
  return out;
}

/** A row's own column `name` (never something inherited such as `toString`). */
export const column = (row: Record<string, StoredFeature> | undefined, name: string): StoredFeature | undefined =>
  row !== undefined && Object.hasOwn(row, name) ? row[name] : undefined;
