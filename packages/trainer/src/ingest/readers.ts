// Row readers for logs described by a feature spec: CSV (with a header), TSV (fixed column names,
// the Criteo layout), JSON Lines and Parquet. Each streams rows as objects keyed by column name,
// with the 1-based line (or row) number, and checks the layout before the first row.
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { RawValue } from '@vireo/core';
import { IngestError } from './errors.ts';
import { fileSize, forEachLine, forEachRecord } from './read.ts';

export type RawRow = Record<string, RawValue>;

/** Called per row: the row, or a reason why the row is malformed. */
export type OnRow = (row: RawRow | string, line: number) => void;

export interface RowReader {
  path: string;
  bytes: number;
  /** Units of `onProgress` (bytes for text, rows for Parquet) and their total. */
  total: number;
  /** Streams every row; `required` columns must exist in the layout (else an IngestError). */
  read(required: string[], onRow: OnRow, onProgress: (done: number) => void): Promise<void>;
}

function missingColumns(required: string[], have: readonly string[]): string[] {
  const set = new Set(have);
  return required.filter((c) => !set.has(c));
}

function layoutError(path: string, missing: string[], have: readonly string[]): IngestError {
  // A tab-separated file read as CSV has one column whose name holds every tab.
  if (have.length === 1 && have[0].includes('\t'))
    return new IngestError(
      `${path} looks tab-separated (its header has tabs and no commas): --source csv reads comma-separated ` +
        'files; convert it, or write it as JSON Lines for --source jsonl.',
    );
  const shown = have.slice(0, 12).join(', ') + (have.length > 12 ? ', …' : '');
  return new IngestError(
    `${path} has no column${missing.length > 1 ? 's' : ''} ` +
      `${missing.map((m) => `"${m}"`).join(', ')} that the spec reads (its columns: ${shown || 'none'}).`,
  );
}

/** CSV with a header line naming the columns. */
export async function csvReader(path: string): Promise<RowReader> {
  const bytes = await fileSize(path);
  return {
    path,
    bytes,
    total: bytes,
    async read(required, onRow, onProgress) {
      let header: string[] | null = null;
      await forEachRecord(
        path,
        'csv',
        (fields, line) => {
          if (header === null) {
            if (fields === null) throw new IngestError(`${path}: the header line has an unterminated quote.`);
            header = fields.map((f) => f.trim().replace(/^\uFEFF/, ''));
            const missing = missingColumns(required, header);
            if (missing.length) throw layoutError(path, missing, header);
            return;
          }
          if (fields === null) return onRow('unterminated quoted field', line);
          if (fields.length === 1 && fields[0] === '') return; // blank line
          if (fields.length !== header.length)
            return onRow(`expected ${header.length} fields, found ${fields.length}`, line);
          const row: RawRow = {};
          for (let j = 0; j < header.length; j++) row[header[j]] = fields[j];
          onRow(row, line);
        },
        onProgress,
      );
      if (header === null) throw new IngestError(`${path} is empty: expected a header line.`);
    },
  };
}

/** Tab-separated values without a header, in the given column order (e.g. Criteo). */
export async function tsvReader(path: string, columns: readonly string[]): Promise<RowReader> {
  const bytes = await fileSize(path);
  return {
    path,
    bytes,
    total: bytes,
    async read(_required, onRow, onProgress) {
      let rows = 0;
      await forEachRecord(
        path,
        'tsv',
        (fields, line) => {
          if (fields === null) return;
          if (fields.length === 1 && fields[0] === '') return;
          rows++;
          if (fields.length !== columns.length) {
            // A first line that does not split into the columns at all: the wrong file, not a bad row.
            if (rows === 1 && fields.length === 1)
              throw new IngestError(
                `${path} is not tab-separated with ${columns.length} columns (the first line has no tabs).`,
              );
            return onRow(`expected ${columns.length} tab-separated fields, found ${fields.length}`, line);
          }
          const row: RawRow = {};
          for (let j = 0; j < columns.length; j++) row[columns[j]] = fields[j];
          onRow(row, line);
        },
        onProgress,
      );
      if (rows === 0) throw new IngestError(`${path} is empty.`);
    },
  };
}

/** JSON Lines: one object per line; missing keys read as missing values. */
export async function jsonlReader(path: string): Promise<RowReader> {
  const bytes = await fileSize(path);
  return {
    path,
    bytes,
    total: bytes,
    async read(required, onRow, onProgress) {
      let first = true;
      await forEachLine(
        path,
        (text, line) => {
          if (text.trim() === '') return;
          let value: unknown;
          try {
            value = JSON.parse(text);
          } catch (err) {
            if (first)
              throw new IngestError(
                `${path} is not JSON Lines: line ${line} is not valid JSON (${(err as Error).message}).`,
              );
            return onRow(`not valid JSON (${(err as Error).message})`, line);
          }
          if (value === null || typeof value !== 'object' || Array.isArray(value))
            return onRow('expected a JSON object', line);
          if (first) {
            // The first row stands for the layout: a spec column absent from it is a wrong file.
            const missing = missingColumns(required, Object.keys(value));
            if (missing.length) throw layoutError(path, missing, Object.keys(value));
            first = false;
          }
          onRow(value as RawRow, line);
        },
        onProgress,
      );
      if (first) throw new IngestError(`${path} is empty: expected one JSON object per line.`);
    },
  };
}

/** Rows read per Parquet request: bounds memory whatever the row-group size. */
const PARQUET_BATCH_ROWS = 65_536;

/** Parquet through hyparquet, read in row ranges so that a large file never sits in memory. */
export async function parquetReader(path: string): Promise<RowReader> {
  const bytes = await fileSize(path);
  const file = await asyncBufferFromFile(path);
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    throw new IngestError(`${path} is not a Parquet file (${(err as Error).message}).`);
  }
  const rows = Number(metadata.num_rows);
  return {
    path,
    bytes,
    total: rows,
    async read(required, onRow, onProgress) {
      const have = parquetSchema(metadata).children.map((c) => c.element.name);
      const missing = missingColumns(required, have);
      if (missing.length) throw layoutError(path, missing, have);
      for (let start = 0; start < rows; start += PARQUET_BATCH_ROWS) {
        const end = Math.min(rows, start + PARQUET_BATCH_ROWS);
        const batch = await parquetReadObjects({
          file,
          metadata,
          rowStart: start,
          rowEnd: end,
          columns: required.length ? required : undefined,
        });
        for (let i = 0; i < batch.length; i++) {
          const row: RawRow = {};
          for (const [k, v] of Object.entries(batch[i])) row[k] = normalizeParquetValue(v);
          onRow(row, start + i + 1);
        }
        onProgress(end);
      }
    },
  };
}

/** Parquet values → raw values: bigint → number, Date → unix seconds, lists kept as lists. */
function normalizeParquetValue(v: unknown): RawValue {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.getTime() / 1000;
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'bigint' ? Number(x) : (x as RawValue))) as RawValue;
  if (v === null || v === undefined || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    return v;
  return JSON.stringify(v);
}

/** Picks the reader for a generic source. */
export async function readerFor(format: 'csv' | 'jsonl' | 'parquet', path: string): Promise<RowReader> {
  if (format === 'csv') return csvReader(path);
  if (format === 'jsonl') return jsonlReader(path);
  return parquetReader(path);
}
