// The dataset folder `vireo ingest` writes and the trainers read:
//
//   DIR/dataset.json        summary: source, counts, splits, labels, tables and their columns, bad rows
//   DIR/spec.json           the feature spec, with fitted statistics (standardize mean/std) filled in
//   DIR/vocabularies.json   vocabulary name → values (value j encodes as index j + FIRST_INDEX)
//   DIR/statistics.json     per feature and label: counts, missing, mean/std/min/max or top values
//   DIR/<table>/<column>.bin  one column: raw little-endian elements, row-major, no header
//
// Tables (all optional; which exist depends on the source):
//   users         U rows   user features; row u is user vocabularies['user:id'][u]
//   items         N rows   item features; row i is item vocabularies['item:id'][i]
//   interactions  E rows   the retrieval view, sorted by (user, time)
//   impressions   R rows   the ranking view (labels, context features), in input or time order
//   oracle        synthetic worlds only: the true latent factors (see synthetic.ts)
// Column files are named after the column with ':' replaced by '.', e.g. items/item.genres.bin.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
  fstatSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import {
  parseFeatureSpec,
  type Dtype,
  type FeatureSpec,
  type Tensor,
  type TypedArray,
  type Vocabularies,
} from '@vireo/core';
import { IngestError, type BadRow } from './errors.ts';

/** Split codes in every `split` column. */
export const SPLIT_TRAIN = 0;
export const SPLIT_VALID = 1;
export const SPLIT_TEST = 2;

export type TableName = 'users' | 'items' | 'interactions' | 'impressions' | 'oracle';
const TABLES: readonly TableName[] = ['users', 'items', 'interactions', 'impressions', 'oracle'];

/** Where a column lives and what it holds; `shape[0]` is the table's row count. */
export interface ColumnInfo {
  file: string;
  dtype: Dtype;
  shape: number[];
}

export interface TableInfo {
  rows: number;
  columns: Record<string, ColumnInfo>;
}

/** Statistics of one feature or label over the rows it was fitted on (the whole input). */
export interface FeatureStatistics {
  kind: 'numeric' | 'categorical' | 'multi_hot' | 'sequence' | 'binary' | 'regression';
  /** Rows seen. */
  count: number;
  /** Rows where the value was missing or unparsable. */
  missing: number;
  /** numeric / regression: over present raw values. */
  mean?: number;
  std?: number;
  min?: number;
  max?: number;
  /** binary labels: positives and their rate. */
  positives?: number;
  rate?: number;
  /** indexed kinds: distinct raw values seen, vocabulary size kept, and the most frequent values. */
  distinct?: number;
  vocabularySize?: number;
  top?: Array<[string, number]>;
}

export type DatasetStatistics = Record<string, FeatureStatistics>;

/** Summary of the retrieval split (per-user leave-last-out over positives, by time). */
export interface RetrievalSplitSummary {
  method: 'leave-last-out';
  /** A user needs this many positives to give one to test (and one more to give one to valid). */
  minPositives: number;
  train: number;
  valid: number;
  test: number;
  usersWithTest: number;
  usersWithValid: number;
}

/** Summary of the ranking split (global time cut-offs). */
export interface RankingSplitSummary {
  method: 'time';
  /** Rows with ts ≥ validFrom are valid, ts ≥ testFrom test (unix seconds, or row index for Criteo). */
  validFrom: number;
  testFrom: number;
  train: number;
  valid: number;
  test: number;
}

/** What a dataset folder holds: `vireo ingest` replaces these, and refuses a folder with anything else. */
const DATASET_ENTRIES: ReadonlySet<string> = new Set([
  'dataset.json',
  'spec.json',
  'vocabularies.json',
  'statistics.json',
  ...TABLES,
]);

/** dataset.json. */
export interface DatasetSummary {
  format: 'vireo-dataset';
  formatVersion: 1;
  source: string;
  name: string;
  createdAt: string;
  /** Flags that shaped the data (seed, sizes, thresholds). */
  options: Record<string, unknown>;
  inputs: Array<{ path: string; bytes: number }>;
  counts: { users: number; items: number; interactions: number; positives: number; impressions: number };
  /** Earliest and latest event time (unix seconds), null when the source has no time. */
  timeRange: { min: number; max: number } | null;
  splits: { retrieval?: RetrievalSplitSummary; ranking?: RankingSplitSummary };
  labels: Record<string, FeatureStatistics>;
  tables: Partial<Record<TableName, TableInfo>>;
  badRows: { count: number; samples: BadRow[] };
  /** Synthetic worlds: how the truth was generated (see synthetic.ts). */
  oracle?: Record<string, unknown>;
  elapsedSeconds: number;
}

function columnFile(table: TableName, column: string): string {
  return `${table}/${column.replace(/:/g, '.')}.bin`;
}

const CTORS: Partial<
  Record<
    Dtype,
    { new (n: number): TypedArray; new (b: ArrayBuffer, o: number, n: number): TypedArray; BYTES_PER_ELEMENT: number }
  >
> = {
  F64: Float64Array,
  F32: Float32Array,
  I32: Int32Array,
  U32: Uint32Array,
  U16: Uint16Array,
  I8: Int8Array,
  U8: Uint8Array,
} as never;

/**
 * A column written row by row to its file through a fixed buffer, so that columns of 10M rows
 * never sit in memory.
 */
export class ColumnWriter {
  private readonly buffer: TypedArray & { [i: number]: number };
  private used = 0;
  rows = 0;

  constructor(
    private readonly fd: number,
    readonly dtype: Dtype,
    readonly width: number,
    chunkRows = 1 << 15,
  ) {
    const Ctor = CTORS[dtype];
    if (!Ctor) throw new Error(`ColumnWriter: dtype ${dtype} is not a column dtype`);
    this.buffer = new Ctor(chunkRows * width) as TypedArray & { [i: number]: number };
  }

  /** Appends one scalar row (width 1). */
  push(value: number): void {
    this.buffer[this.used++] = value;
    this.rows++;
    if (this.used === this.buffer.length) this.flush();
  }

  /** Appends one row of `width` values. */
  pushRow(values: ArrayLike<number>): void {
    for (let j = 0; j < this.width; j++) {
      this.buffer[this.used++] = values[j];
      if (this.used === this.buffer.length) this.flush();
    }
    this.rows++;
  }

  flush(): void {
    if (this.used === 0) return;
    const bytes = new Uint8Array(this.buffer.buffer, 0, this.used * this.buffer.BYTES_PER_ELEMENT);
    for (let off = 0; off < bytes.length; ) off += writeSync(this.fd, bytes, off, bytes.length - off);
    this.used = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/**
 * Writes a dataset folder: columns (whole or streamed), then the JSON documents, dataset.json
 * last so that an interrupted run leaves no loadable half-dataset. Everything is written into a
 * sibling work folder (`DIR.partial`) and moved into DIR only once complete, so an ingest that fails
 * (bad rows, a full disk, Ctrl-C) leaves the dataset DIR held before it as it was.
 */
export class DatasetWriter {
  private readonly tables: Partial<Record<TableName, TableInfo>> = {};
  private readonly open: Array<{ table: TableName; name: string; writer: ColumnWriter }> = [];
  /** Where the columns and documents are written until finish() moves them into `dir`. */
  private readonly work: string;

  /** Refuses a non-empty folder that is not a dataset; an old dataset there is replaced by finish(). */
  constructor(readonly dir: string) {
    if (existsSync(dir)) {
      let entries: string[];
      try {
        entries = readdirSync(dir);
      } catch {
        throw new IngestError(`--out ${dir} exists and is not a folder.`);
      }
      // Replace only what ingest writes: an earlier dataset, or what an interrupted run left.
      if (!entries.every((e) => DATASET_ENTRIES.has(e)))
        throw new IngestError(
          `--out ${dir} is a non-empty folder that holds no dataset; choose an empty or new folder.`,
        );
    }
    this.work = `${resolve(dir)}.partial`;
    // What an interrupted run left, when it holds only what ingest writes; anything else there is not ours.
    if (existsSync(this.work)) {
      let left: string[] | null = null;
      try {
        left = readdirSync(this.work);
      } catch {
        // a file of that name: not ours
      }
      if (!left?.every((e) => DATASET_ENTRIES.has(e)))
        throw new IngestError(`${this.work} is not what ingest leaves there: move it away, or choose another --out.`);
      rmSync(this.work, { recursive: true, force: true });
    }
    try {
      mkdirSync(this.work, { recursive: true });
    } catch (err) {
      throw new IngestError(`cannot create --out ${dir}: ${(err as Error).message}.`);
    }
  }

  private info(table: TableName): TableInfo {
    return (this.tables[table] ??= { rows: 0, columns: {} });
  }

  private path(table: TableName, name: string): string {
    mkdirSync(join(this.work, table), { recursive: true });
    return join(this.work, columnFile(table, name));
  }

  /** Writes a whole column; `shape` defaults to [rows] (give [rows, L] for multi-valued columns). */
  writeColumn(table: TableName, name: string, dtype: Dtype, data: TypedArray, shape: number[] = [data.length]): void {
    writeFileSync(this.path(table, name), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    const info = this.info(table);
    info.columns[name] = { file: columnFile(table, name), dtype, shape };
    info.rows = shape[0];
  }

  /** Opens a streamed column of `width` values per row; its row count is taken when finished. */
  column(table: TableName, name: string, dtype: Dtype, width = 1): ColumnWriter {
    const writer = new ColumnWriter(openSync(this.path(table, name), 'w'), dtype, width);
    this.open.push({ table, name, writer });
    return writer;
  }

  /** Closes streamed columns, checks each table's columns agree on rows, writes the documents. */
  finish(
    summary: Omit<DatasetSummary, 'tables' | 'format' | 'formatVersion'>,
    spec: FeatureSpec,
    vocabularies: Vocabularies,
    statistics: DatasetStatistics,
  ): DatasetSummary {
    for (const { table, name, writer } of this.open) {
      writer.close();
      const info = this.info(table);
      info.columns[name] = {
        file: columnFile(table, name),
        dtype: writer.dtype,
        shape: writer.width === 1 ? [writer.rows] : [writer.rows, writer.width],
      };
      info.rows = writer.rows;
    }
    this.open.length = 0;
    for (const [table, info] of Object.entries(this.tables)) {
      for (const [name, col] of Object.entries(info.columns)) {
        if (col.shape[0] !== info.rows)
          throw new Error(`dataset table ${table}: column ${name} has ${col.shape[0]} rows, others ${info.rows}`);
      }
    }
    const full: DatasetSummary = { format: 'vireo-dataset', formatVersion: 1, ...summary, tables: this.tables };
    writeFileSync(join(this.work, 'spec.json'), JSON.stringify(spec, null, 2) + '\n');
    writeFileSync(join(this.work, 'vocabularies.json'), JSON.stringify(vocabularies) + '\n');
    writeFileSync(join(this.work, 'statistics.json'), JSON.stringify(statistics, null, 2) + '\n');
    writeFileSync(join(this.work, 'dataset.json'), JSON.stringify(full, null, 2) + '\n');
    this.replace();
    return full;
  }

  /**
   * Moves the finished dataset into `dir`: the old dataset.json goes first (from then on the folder
   * holds no loadable dataset), then the old entries, then the new ones, dataset.json last.
   */
  private replace(): void {
    mkdirSync(this.dir, { recursive: true });
    rmSync(join(this.dir, 'dataset.json'), { force: true });
    for (const entry of readdirSync(this.dir))
      if (DATASET_ENTRIES.has(entry)) rmSync(join(this.dir, entry), { recursive: true, force: true });
    const entries = readdirSync(this.work).sort((a, b) => Number(a === 'dataset.json') - Number(b === 'dataset.json'));
    for (const entry of entries) renameSync(join(this.work, entry), join(this.dir, entry));
    rmSync(this.work, { recursive: true, force: true });
  }
}

// ─── reading ────────────────────────────────────────────────────────────────────────────────────

/** One loaded table: its row count and every column by name (a core Tensor: dtype, shape, data). */
export interface Table {
  rows: number;
  columns: Map<string, Tensor>;
}

/** Users or items: feature columns keyed by feature name (`item:genres` → (N, L) Int32). */
export interface EntityTable extends Table {
  /** Raw ids, row order: ids[r] is the entity of row r (its `view:id` index is r + FIRST_INDEX). */
  ids: string[];
}

/**
 * The retrieval view: every user–item event, sorted by user then time.
 * E = interactions, U = users.
 */
export interface Interactions extends Table {
  user: Int32Array; //     (E) user row
  item: Int32Array; //     (E) item row
  ts: Float64Array; //     (E) unix seconds
  weight: Float32Array; // (E) rating (MovieLens), 1 + conversion (synthetic), 1 otherwise
  positive: Uint8Array; // (E) 1 = a positive for retrieval (click, rating ≥ threshold)
  split: Uint8Array; //    (E) SPLIT_TRAIN / SPLIT_VALID / SPLIT_TEST (per-user leave-last-out)
  userOffsets: Int32Array; // (U+1) user u's events are rows [userOffsets[u], userOffsets[u+1])
}

/**
 * The ranking view: one row per labelled impression. Context features are columns keyed by feature
 * name (`context:hour` → (R) Int32); user and item features are joined through `user` / `item`.
 * R = impressions.
 */
export interface Impressions extends Table {
  user: Int32Array | null; // (R) user row, null when the source has no users (Criteo)
  item: Int32Array | null; // (R) item row, null when the source has no items
  ts: Float64Array; //        (R) unix seconds (Criteo: the row number, the file being in time order)
  split: Uint8Array; //       (R) SPLIT_TRAIN / SPLIT_VALID / SPLIT_TEST (global time cut-offs)
  labels: Map<string, Float32Array>; // label name → (R) value (binary labels are 0 / 1)
}

/** A loaded dataset folder. */
export interface Dataset {
  dir: string;
  summary: DatasetSummary;
  spec: FeatureSpec;
  vocabularies: Vocabularies;
  statistics: DatasetStatistics;
  users: EntityTable | null; //          U rows
  items: EntityTable | null; //          N rows
  interactions: Interactions | null; //  E rows
  impressions: Impressions | null; //    R rows
  /** Synthetic worlds only: latent factors, e.g. `user.latent` (U, D), `item.latent` (N, D); see synthetic.ts. */
  oracle: Table | null;
}

function readJson(dir: string, name: string): unknown {
  const path = join(dir, name);
  if (!existsSync(dir))
    throw new IngestError(`${dir} does not exist: pass the folder vireo ingest --out wrote (or run vireo ingest).`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new IngestError(`${dir} is not a Vireo dataset: ${name} is missing (run vireo ingest --out ${dir}).`);
    throw new IngestError(`${path} is not valid JSON: ${(err as Error).message}.`);
  }
}

/**
 * Checks that `dir` is a dataset folder (its dataset.json) without loading its tables: the cheap check a command
 * makes before long work that ends in loadDataset, with the sentences loadDataset would say.
 * @example checkDatasetFolder(values.data); // throws IngestError when it is not a dataset
 */
export function checkDatasetFolder(dir: string): DatasetSummary {
  const summary = readJson(dir, 'dataset.json') as DatasetSummary;
  if (summary?.format !== 'vireo-dataset' || summary.formatVersion !== 1)
    throw new IngestError(`${dir}/dataset.json is not a version 1 Vireo dataset summary.`);
  return summary;
}

/** Reads a column file into a fresh, aligned typed array (files can exceed one read call). */
function readColumn(dir: string, table: string, name: string, col: ColumnInfo): Tensor {
  const Ctor = CTORS[col.dtype];
  if (!Ctor) throw new IngestError(`${dir}: column ${table}/${name} has unsupported dtype ${col.dtype}.`);
  const count = col.shape.reduce((a, b) => a * b, 1);
  const bytes = count * Ctor.BYTES_PER_ELEMENT;
  const path = join(dir, col.file);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    throw new IngestError(`${dir}: column file ${col.file} is missing; the dataset is incomplete, ingest it again.`);
  }
  try {
    const size = fstatSync(fd).size;
    if (size !== bytes)
      throw new IngestError(
        `${dir}: ${col.file} is ${size} bytes but ${col.dtype} ` +
          `${JSON.stringify(col.shape)} needs ${bytes}; the dataset is corrupt, ingest it again.`,
      );
    const buffer = new ArrayBuffer(bytes);
    const view = new Uint8Array(buffer);
    for (let off = 0; off < bytes; ) {
      const n = readSync(fd, view, off, Math.min(bytes - off, 1 << 30), off);
      if (n === 0) throw new IngestError(`${dir}: ${col.file} ended early.`);
      off += n;
    }
    return { dtype: col.dtype, shape: col.shape, data: new Ctor(buffer, 0, count) };
  } finally {
    closeSync(fd);
  }
}

function loadTable(dir: string, table: TableName, info: TableInfo | undefined): Table | null {
  if (!info) return null;
  const columns = new Map<string, Tensor>();
  for (const [name, col] of Object.entries(info.columns)) columns.set(name, readColumn(dir, table, name, col));
  return { rows: info.rows, columns };
}

function need<T extends TypedArray>(table: Table, table_: string, name: string): T {
  const col = table.columns.get(name);
  if (!col)
    throw new IngestError(`dataset table ${table_} has no column ${name}; ingest it again with this version of vireo.`);
  return col.data as T;
}

/**
 * Loads a dataset folder written by `vireo ingest` into typed arrays.
 * @example
 * const ds = loadDataset('/tmp/ml');
 * const { user, item, split, userOffsets } = ds.interactions!;     // (E), (E), (E), (U+1)
 * const genres = ds.items!.columns.get('item:genres')!;          // Int32 (N, L)
 * const clicks = ds.impressions!.labels.get('click');             // Float32 (R)
 */
export function loadDataset(dir: string): Dataset {
  const summary = checkDatasetFolder(dir);
  const spec = parseFeatureSpec(readJson(dir, 'spec.json'));
  const vocabularies = readJson(dir, 'vocabularies.json') as Vocabularies;
  const statistics = readJson(dir, 'statistics.json') as DatasetStatistics;

  const entity = (name: 'users' | 'items', idVocab: string): EntityTable | null => {
    const t = loadTable(dir, name, summary.tables[name]);
    return t && { ...t, ids: vocabularies[idVocab] ?? [] };
  };
  const users = entity('users', 'user:id');
  const items = entity('items', 'item:id');

  let interactions: Interactions | null = null;
  const it = loadTable(dir, 'interactions', summary.tables.interactions);
  if (it) {
    const user = need<Int32Array>(it, 'interactions', 'user');
    const numUsers = users?.rows ?? summary.counts.users;
    // CSR offsets over the (user, time) order.
    const userOffsets = new Int32Array(numUsers + 1);
    for (let e = 0; e < user.length; e++) userOffsets[user[e] + 1]++;
    for (let u = 0; u < numUsers; u++) userOffsets[u + 1] += userOffsets[u];
    interactions = {
      ...it,
      user,
      item: need(it, 'interactions', 'item'),
      ts: need(it, 'interactions', 'ts'),
      weight: need(it, 'interactions', 'weight'),
      positive: need(it, 'interactions', 'positive'),
      split: need(it, 'interactions', 'split'),
      userOffsets,
    };
  }

  let impressions: Impressions | null = null;
  const im = loadTable(dir, 'impressions', summary.tables.impressions);
  if (im) {
    const labels = new Map<string, Float32Array>();
    for (const l of spec.labels) {
      const col = im.columns.get(`label:${l.name}`);
      if (col) labels.set(l.name, col.data as Float32Array);
    }
    impressions = {
      ...im,
      user: (im.columns.get('user')?.data as Int32Array | undefined) ?? null,
      item: (im.columns.get('item')?.data as Int32Array | undefined) ?? null,
      ts: need(im, 'impressions', 'ts'),
      split: need(im, 'impressions', 'split'),
      labels,
    };
  }

  return {
    dir,
    summary,
    spec,
    vocabularies,
    statistics,
    users,
    items,
    interactions,
    impressions,
    oracle: loadTable(dir, 'oracle', summary.tables.oracle),
  };
}
