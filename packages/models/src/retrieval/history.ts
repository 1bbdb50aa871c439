// Where a user tower with `historyItemFields` finds the fields of the items in a history: the
// catalogue's model-ready item features shipped in items.safetensors (`features.<name>`), read
// per item once and cached. Shared by both backends so that they build identical bags.
import { FIRST_INDEX, type Tensor } from '@vireo/core';
import { ItemEntryCache, type FieldValue, type HistoryItemEntries, type RetrievalConfig } from './retrieval.ts';
import type { ModelData } from '../model.ts';

/** Field values of item `row` for item-tower field `j`, from the bundle's item feature tensors. */
export function itemFieldValues(
  c: RetrievalConfig,
  features: ReadonlyMap<string, Tensor>,
): (row: number, j: number) => FieldValue {
  const columns = c.itemFields.map((f) =>
    (f.kind === 'numeric' ? f.features! : [f.name]).map((name) => features.get(name) ?? null),
  );
  return (row, j) => {
    const f = c.itemFields[j];
    const cols = columns[j];
    if (f.kind === 'numeric') return cols.map((t) => (t ? Number((t.data as ArrayLike<number>)[row]) : 0));
    const t = cols[0];
    // The item's own id needs no tensor: row r of the catalogue is vocabulary entry r.
    if (!t) return f.name === 'item:id' ? row + FIRST_INDEX : null;
    const width = t.shape[1] ?? 1;
    const data = t.data as ArrayLike<number>;
    if (f.kind === 'multi_hot') return Array.from({ length: width }, (_, i) => Number(data[row * width + i]));
    return Number(data[row]);
  };
}

/** The history-entry builder the model needs, or undefined when its history is item ids only. */
export function historyItemEntries(
  m: ModelData,
): { value: (row: number, j: number) => FieldValue; append: HistoryItemEntries } | undefined {
  const c = m.retrieval.config;
  if (!c.historyItemFields) return undefined;
  const value = itemFieldValues(c, m.itemFeatures);
  return { value, append: new ItemEntryCache(c, value).append };
}
