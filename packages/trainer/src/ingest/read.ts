// Streaming readers: files are read in 1 MiB chunks and handed on line by line (CRLF or LF), never
// loaded whole. CSV follows RFC 4180 (quoted fields, "" escapes, quoted newlines); TSV is split on
// tabs with no quoting (the Criteo layout).
import { open, stat } from 'node:fs/promises';
import { IngestError } from './errors.ts';

const CHUNK_BYTES = 1 << 20;

/** Fails with one sentence when `path` is not a readable file. Returns its size in bytes. */
export async function fileSize(path: string, what = 'input file'): Promise<number> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new IngestError(`${what} ${path} is not a file.`);
    return s.size;
  } catch (err) {
    if (err instanceof IngestError) throw err;
    throw new IngestError(
      `cannot read ${what} ${path}: ` +
        `${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}.`,
    );
  }
}

/**
 * Calls `onLine(text, lineNumber)` for every line of the file (1-based numbers, line endings
 * stripped, a final empty line skipped), and `onProgress(bytesRead)` after every chunk.
 * @example await forEachLine('ratings.csv', (text, line) => rows.push(text), (b) => bar.update(b));
 */
export async function forEachLine(
  path: string,
  onLine: (text: string, line: number) => void,
  onProgress?: (bytesRead: number) => void,
): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const buffer = new Uint8Array(CHUNK_BYTES);
    const decoder = new TextDecoder('utf-8');
    let carry = '';
    let line = 0;
    let bytesRead = 0;
    for (;;) {
      const { bytesRead: n } = await handle.read(buffer, 0, CHUNK_BYTES, null);
      if (n === 0) break;
      bytesRead += n;
      const text = carry + decoder.decode(buffer.subarray(0, n), { stream: true });
      let start = 0;
      for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
        const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        onLine(text.slice(start, end), ++line);
        start = nl + 1;
      }
      carry = text.slice(start);
      onProgress?.(bytesRead);
    }
    carry += decoder.decode();
    if (carry.endsWith('\r')) carry = carry.slice(0, -1);
    if (carry !== '') onLine(carry, ++line);
  } finally {
    await handle.close();
  }
}

/** Result of parsing one CSV record: the fields, or `null` when a quote is still open. */
export function parseCsvLine(text: string, delimiter = ','): string[] | null {
  if (text.indexOf('"') === -1) return text.split(delimiter);
  const fields: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  let atFieldStart = true;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += c;
    } else if (c === '"' && atFieldStart) {
      quoted = true;
      atFieldStart = false;
    } else if (c === delimiter) {
      fields.push(field);
      field = '';
      atFieldStart = true;
    } else {
      field += c;
      atFieldStart = false;
    }
    i++;
  }
  if (quoted) return null;
  fields.push(field);
  return fields;
}

/** A quoted CSV field may span lines, but not more than this: past it the record is malformed. */
const MAX_RECORD_CHARS = 1 << 16;

/**
 * Streams the records of a CSV or TSV file: `onRecord(fields, line)` with the 1-based line where
 * the record starts. A CSV record whose quote stays open runs on over the next lines (RFC 4180);
 * one still open at the end of the file or after 64 KiB arrives as `fields === null`.
 * @example await forEachRecord('movies.csv', 'csv', (f, line) => titles.push(f[1]));
 */
export async function forEachRecord(
  path: string,
  format: 'csv' | 'tsv',
  onRecord: (fields: string[] | null, line: number) => void,
  onProgress?: (bytesRead: number) => void,
): Promise<void> {
  let pending = '';
  let pendingLine = 0;
  await forEachLine(
    path,
    (text, line) => {
      if (format === 'tsv') return onRecord(text.split('\t'), line);
      const record = pending ? `${pending}\n${text}` : text;
      const fields = parseCsvLine(record);
      if (fields === null) {
        if (!pending) pendingLine = line;
        pending = record;
        if (pending.length > MAX_RECORD_CHARS) {
          pending = '';
          onRecord(null, pendingLine);
        }
        return;
      }
      const at = pending ? pendingLine : line;
      pending = '';
      onRecord(fields, at);
    },
    onProgress,
  );
  if (pending) onRecord(null, pendingLine);
}
