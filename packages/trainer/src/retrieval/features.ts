// From a dataset to the retrieval model's inputs: the field layout of the shared embedding table
// (one row range per feature, sized from the feature spec and vocabularies) and readers that give
// each field's value for an item, a user, or an event's context, as ingest encoded them.
import { FIRST_INDEX, cardinality, featureView, type Feature } from '@vireo/core';
import { TIME_FEATURE, timeFeature, type FieldValue, type RetrievalConfig, type RetrievalField } from '@vireo/models';

/** Stands for the derived time column among a numeric field's columns. */
const TIME_COLUMN: ArrayLike<number> = new Float32Array(0);
import type { Dataset } from '../ingest/index.ts';
import { UsageError } from '../cli/args.ts';

/** Architecture sizes chosen by flags (the rest comes from the dataset). */
export interface RetrievalShape {
  fieldDim: number;
  embeddingDim: number;
  heads: number;
  itemHidden: number;
  userHidden: number;
  temperature: number;
  /** L; 0 = the spec's history feature maxLength, at most DEFAULT_HISTORY_CAP. */
  historyLength: number;
  /** History positions embed their item by all its item-tower fields or its id alone (default: !historyRows). */
  historyItemFields?: boolean;
  /** The history and the last item read their own item:id rows, not the item tower's (default false). */
  historyRows?: boolean;
  /** The user MLP reads the most recent history item beside the pooled history (default true). */
  lastItem?: boolean;
  /** The history's self-attention is causal (default false). */
  causal?: boolean;
  /** The user MLP reads the encoder's output at the most recent position (default false). */
  lastOutput?: boolean;
  /** Weight of the next-item objective at every history position (training only; needs causal; default 0: off). */
  nextItem?: number;
  /** Pre-LN transformer blocks of the history encoder (default 0: one attention block without LN or FFN). */
  blocks?: number;
  /** The blocks' feed-forward hidden width (default: fieldDim). */
  ffnHidden?: number;
}

/**
 * The shape a model was trained with, read back from its config: what a warm start (vireo refresh) trains
 * again. Every field is written out (Required), so a new shape field that is not carried is a type error.
 */
export function shapeOf(c: RetrievalConfig): Required<RetrievalShape> {
  return {
    fieldDim: c.fieldDim,
    embeddingDim: c.embeddingDim,
    heads: c.heads,
    itemHidden: c.itemHidden,
    userHidden: c.userHidden,
    temperature: c.temperature,
    historyLength: c.historyLength,
    historyItemFields: c.historyItemFields,
    historyRows: c.historyId !== undefined,
    lastItem: c.lastItem ?? false,
    causal: c.causal ?? false,
    lastOutput: c.lastOutput ?? false,
    nextItem: c.nextItem ?? 0,
    blocks: c.blocks ?? 0,
    ffnHidden: c.ffnHidden ?? c.fieldDim,
  };
}

/** Longest history the defaults attend over (the spec's maxLength, capped: attention is O(L²)). */
export const DEFAULT_HISTORY_CAP = 20;

/** The sequence feature the history comes from, if the spec has one over item:id. */
function historyFeature(ds: Dataset): Feature | undefined {
  return ds.spec.features.find(
    (f) => f.kind === 'sequence' && featureView(f.name) === 'user' && (f.vocabulary ?? f.name) === 'item:id',
  );
}

/** Whether the dataset has the column a feature reads (entity tables, or the impressions for context). */
function hasColumn(ds: Dataset, f: Feature): boolean {
  const view = featureView(f.name);
  if (view === 'item') return ds.items?.columns.has(f.name) ?? false;
  if (view === 'user') return f.name === 'user:id' || (ds.users?.columns.has(f.name) ?? false);
  return ds.impressions?.columns.has(f.name) ?? false;
}

/**
 * Lays out the fields of a dataset: item tower `item:id` first, then the item's categorical and
 * multi-hot features, then one numeric field over its numeric features; user tower `user:id`
 * first, then user and context features the same way; the L recency rows last.
 * @example const config = retrievalConfig(loadDataset(dir), { fieldDim: 32, embeddingDim: 64, heads: 2, itemHidden:
 * 128, userHidden: 128, temperature: 0.05, historyLength: 0 });
 */
export function retrievalConfig(ds: Dataset, shape: RetrievalShape): RetrievalConfig {
  if (!ds.interactions || !ds.items)
    throw new UsageError(
      `${ds.dir} has no interactions or items table: retrieval needs user–item ` +
        `events (ingest MovieLens, the synthetic world or a tabular log with users and items).`,
    );
  let next = 0;
  const take = (f: Omit<RetrievalField, 'offset'>): RetrievalField => {
    const field = { ...f, offset: next };
    next += f.rows;
    return field;
  };
  const byView = (views: string[]) =>
    ds.spec.features.filter((f) => views.includes(featureView(f.name)) && f.kind !== 'sequence' && hasColumn(ds, f));
  const fieldsOf = (
    features: Feature[],
    numericName: string,
    first?: string,
    derived: string[] = [],
  ): RetrievalField[] => {
    const ordered = [...features].sort((a, b) => Number(b.name === first) - Number(a.name === first));
    const out: RetrievalField[] = [];
    const numeric: string[] = [];
    for (const f of ordered) {
      if (f.kind === 'numeric') {
        const rows = cardinality(f, ds.vocabularies);
        if (rows > 0) out.push(take({ name: f.name, kind: 'bucket', rows, width: 1 }));
        else numeric.push(f.name);
      } else if (f.kind === 'categorical') {
        out.push(
          take({
            name: f.name,
            kind: 'categorical',
            rows: cardinality(f, ds.vocabularies),
            width: 1,
            vocabulary: f.buckets === undefined ? (f.vocabulary ?? f.name) : undefined,
          }),
        );
      } else if (f.kind === 'multi_hot') {
        out.push(
          take({
            name: f.name,
            kind: 'multi_hot',
            rows: cardinality(f, ds.vocabularies),
            width: f.maxLength,
            vocabulary: f.buckets === undefined ? (f.vocabulary ?? f.name) : undefined,
          }),
        );
      }
    }
    numeric.push(...derived);
    if (numeric.length > 0)
      out.push(
        take({ name: numericName, kind: 'numeric', rows: numeric.length, width: numeric.length, features: numeric }),
      );
    return out;
  };
  const itemFeatures = byView(['item']);
  if (!itemFeatures.some((f) => f.name === 'item:id')) {
    // The id is implicit in the row order when the spec does not list it.
    itemFeatures.unshift({ name: 'item:id', kind: 'categorical' } as Feature);
  }
  const itemFields = fieldsOf(itemFeatures, 'item:numeric', 'item:id');
  const idField = itemFields.find((f) => f.name === 'item:id')!;
  if (idField.rows < ds.items.rows + FIRST_INDEX) idField.rows = ds.items.rows + FIRST_INDEX;
  const userFeatures = byView(['user']);
  const contextFeatures = byView(['context']);
  // context:time, derived from the event time: where the event falls in the training span.
  const range = ds.summary.timeRange;
  const timed = range !== null && range.max > range.min;
  const userFields = [
    ...fieldsOf(userFeatures, 'user:numeric', 'user:id'),
    ...fieldsOf(contextFeatures, 'context:numeric', undefined, timed ? [TIME_FEATURE] : []),
  ];
  const L =
    shape.historyLength > 0
      ? shape.historyLength
      : Math.min(
          DEFAULT_HISTORY_CAP,
          (historyFeature(ds) as { maxLength?: number } | undefined)?.maxLength ?? DEFAULT_HISTORY_CAP,
        );
  const position = take({ name: 'position', kind: 'position', rows: L, width: 1 });
  const label = take({ name: 'history:label', kind: 'label', rows: 2, width: 1 });
  // The history's own item:id rows take the item tower's place in the history; positions then hold the id alone
  // unless historyItemFields says otherwise (then the own id row beside the item's other, shared, field rows).
  const historyId = shape.historyRows
    ? take({
        name: 'history:item:id',
        kind: 'categorical',
        rows: idField.rows,
        width: 1,
        vocabulary: idField.vocabulary,
      })
    : undefined;
  return {
    fieldDim: shape.fieldDim,
    embeddingDim: shape.embeddingDim,
    historyLength: L,
    heads: shape.heads,
    itemHidden: shape.itemHidden,
    userHidden: shape.userHidden,
    temperature: shape.temperature,
    tableRows: next,
    itemFields,
    userFields,
    position,
    label,
    historyItemFields: shape.historyItemFields ?? !historyId,
    // Written only when on, so that a config without it is byte for byte what it was before it existed.
    ...(historyId ? { historyId } : {}),
    lastItem: shape.lastItem ?? false,
    causal: shape.causal ?? false,
    lastOutput: shape.lastOutput ?? false,
    ...((shape.nextItem ?? 0) > 0 ? { nextItem: shape.nextItem } : {}),
    // Written only with blocks, so that a block-less config is byte for byte what it was before blocks existed.
    ...((shape.blocks ?? 0) > 0 ? { blocks: shape.blocks, ffnHidden: shape.ffnHidden ?? shape.fieldDim } : {}),
    ...(timed ? { timeRange: { min: range.min, max: range.max } } : {}),
  };
}

/**
 * Reads field values out of a dataset's tables, as the towers' `set` wants them.
 * Items by row, users by row, context by impression row (−1: unknown, every context field missing).
 */
export class FeatureReader {
  private readonly itemColumns: (ArrayLike<number> | ArrayLike<number>[] | null)[];
  private readonly userColumns: (ArrayLike<number> | ArrayLike<number>[] | null)[];
  private readonly widths = new Map<string, number>();

  constructor(
    private readonly ds: Dataset,
    readonly config: RetrievalConfig,
  ) {
    this.itemColumns = config.itemFields.map((f) => this.column('items', f));
    this.userColumns = config.userFields.map((f) =>
      this.column(featureView(f.name) === 'context' ? 'impressions' : 'users', f),
    );
  }

  private column(
    table: 'items' | 'users' | 'impressions',
    f: RetrievalField,
  ): ArrayLike<number> | ArrayLike<number>[] | null {
    const source = table === 'items' ? this.ds.items : table === 'users' ? this.ds.users : this.ds.impressions;
    const get = (name: string) => {
      const t = source?.columns.get(name);
      if (t) this.widths.set(name, t.shape[1] ?? 1);
      return (t?.data as ArrayLike<number> | undefined) ?? null;
    };
    if (f.kind === 'numeric')
      return f.features!.map((n) => (n === TIME_FEATURE ? TIME_COLUMN : (get(n) ?? new Float32Array(0))));
    return get(f.name);
  }

  private value(
    f: RetrievalField,
    col: ArrayLike<number> | ArrayLike<number>[] | null,
    row: number,
    idFallback: boolean,
    ts = NaN,
  ): FieldValue {
    if (f.kind === 'numeric') {
      // Numeric fields read per feature; the derived time needs no row (it is always known).
      const cols = col as ArrayLike<number>[];
      return cols.map((c) =>
        c === TIME_COLUMN ? timeFeature(this.config, ts) : row >= 0 && row < c.length ? c[row] : 0,
      );
    }
    if (row < 0) return null;
    if (col === null) return idFallback ? row + FIRST_INDEX : null;
    const c = col as ArrayLike<number> & { subarray?: (a: number, b: number) => ArrayLike<number> };
    if (f.kind === 'multi_hot') {
      const w = this.widths.get(f.name) ?? f.width;
      return c.subarray!(row * w, (row + 1) * w);
    }
    return c[row];
  }

  /** Item `row`'s value of item field `f`. */
  item(row: number, f: number): FieldValue {
    const field = this.config.itemFields[f];
    return this.value(field, this.itemColumns[f], row, field.name === 'item:id');
  }

  /** User field values for user `row` at an event at time `ts` whose impression row is `context` (−1: none). */
  user(row: number, context: number, ts: number): FieldValue[] {
    return this.config.userFields.map((field, j) =>
      this.value(
        field,
        this.userColumns[j],
        featureView(field.name) === 'context' ? context : row,
        field.name === 'user:id',
        ts,
      ),
    );
  }
}
