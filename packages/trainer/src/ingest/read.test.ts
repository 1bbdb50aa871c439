import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { forEachLine, forEachRecord, parseCsvLine } from './read.ts';
import { fixture, tempDir } from '../../test/ingest-helpers.ts';

describe('forEachLine', () => {
  it('strips CRLF and LF, numbers lines from 1, keeps a last line without newline', async () => {
    const dir = fixture({ 'a.txt': 'one\r\ntwo\n\r\nthree' });
    const lines: Array<[string, number]> = [];
    await forEachLine(join(dir, 'a.txt'), (t, n) => lines.push([t, n]));
    expect(lines).toEqual([
      ['one', 1],
      ['two', 2],
      ['', 3],
      ['three', 4],
    ]);
  });

  it('joins lines and multi-byte characters split across 1 MiB chunks', async () => {
    const dir = tempDir();
    const path = join(dir, 'big.txt');
    // Line lengths chosen so that a CRLF pair and a 4-byte emoji straddle the chunk boundary.
    const filler = 'x'.repeat((1 << 20) - 3);
    writeFileSync(path, `${filler}😀\r\nafter\r\n`);
    const lines: string[] = [];
    let progress = 0;
    await forEachLine(
      path,
      (t) => lines.push(t),
      (b) => (progress = b),
    );
    expect(lines).toEqual([`${filler}😀`, 'after']);
    expect(progress).toBe((1 << 20) - 3 + 4 + 2 + 7);
  });
});

describe('CSV', () => {
  it('parses quoted fields, escaped quotes and empty fields', () => {
    expect(parseCsvLine('11,"American President, The (1995)",Comedy|Drama')).toEqual([
      '11',
      'American President, The (1995)',
      'Comedy|Drama',
    ]);
    expect(parseCsvLine('1,"say ""hi""",,x')).toEqual(['1', 'say "hi"', '', 'x']);
    expect(parseCsvLine('a,"open')).toBeNull();
  });

  it('streams records whose quoted field spans lines, with the line they start on', async () => {
    const dir = fixture({ 'r.csv': 'id,text\r\n1,"two\r\nlines"\r\n2,plain\r\n3,"never closed\r\n' });
    const records: Array<[string[] | null, number]> = [];
    await forEachRecord(join(dir, 'r.csv'), 'csv', (f, n) => records.push([f, n]));
    expect(records).toEqual([
      [['id', 'text'], 1],
      [['1', 'two\nlines'], 2],
      [['2', 'plain'], 4],
      [null, 5],
    ]);
  });
});
