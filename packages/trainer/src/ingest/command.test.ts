// `vireo ingest` end to end through the CLI entry: exit codes, one-line errors, --json output.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatasetWriter, loadDataset } from './dataset.ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../cli.ts';
import { fixture, tempDir } from '../../test/ingest-helpers.ts';

async function vireo(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  try {
    const code = await main(['ingest', ...argv]);
    return { code, stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}
afterEach(() => vi.restoreAllMocks());

describe('vireo ingest', () => {
  it('writes a synthetic dataset and prints its summary as JSON', async () => {
    const out = join(tempDir(), 'world');
    const world = (events: string) =>
      ['--source', 'synthetic', '--users', '50', '--items', '40', '--events', events, '--categories', '4'] as const;
    const r = await vireo(...world('2000'), '--out', out, '--json', '--quiet');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({
      format: 'vireo-dataset',
      source: 'synthetic',
      counts: { users: 50, items: 40, impressions: 2000 },
    });
    // Running again into the same folder replaces the dataset, and says so (before, without a word).
    const again = await vireo(...world('1000'), '--out', out, '--quiet');
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`vireo ingest: replaced the earlier synthetic dataset in ${out} (`);
    // A dataset of another source replaced (a wrong --out) is named as such.
    const sequential = await vireo(
      '--source',
      'sequential',
      '--users',
      '30',
      '--items',
      '100',
      '--out',
      out,
      '--quiet',
    );
    expect(sequential.code).toBe(0);
    expect(sequential.stderr).toMatch(/replaced the earlier synthetic dataset in .* with this sequential one\.\n/);
  });

  it('answers user mistakes with one sentence and exit code 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--source', 'synthetic', '--out', '/tmp/x', '--colour'], /Unknown option '--colour' \(known flags: /],
      // predict's name for its input file; before, the sentence listed 29 flags and left the user to find --path.
      [
        ['--source', 'movielens', '--input', 'ml', '--out', '/tmp/x'],
        /Unknown option '--input': did you mean --path\?/,
      ],
      [['--source', 'synthetic', '--users', '9', '--ot', '/tmp/x'], /Unknown option '--ot': did you mean --out\?/],
      [
        ['--out', '/tmp/x'],
        /--source is required: one of synthetic, sequential, movielens, criteo, events, csv, jsonl, parquet\./,
      ],
      [['--source', 'kaggle', '--out', '/tmp/x'], /unknown --source 'kaggle'/],
      [
        ['--source', 'sequential', '--out', '/tmp/x', '--successor-strength', '0.7', '--recency-strength', '0.5'],
        /--successor-strength plus --recency-strength must be at most 1\./,
      ],
      [['--source', 'sequential', '--out', '/tmp/x', '--days', '3'], /--days applies to --source synthetic/],
      // A user's events are distinct items: before, 50 items and the default 60 events spun forever.
      [
        ['--source', 'sequential', '--out', '/tmp/x', '--users', '10', '--items', '50'],
        /--max-events \(60\) cannot exceed --items \(50\): a user's events are distinct items\./,
      ],
      [['--source', 'criteo', '--out', '/tmp/x'], /--source criteo needs --path FILE/],
      [
        ['--source', 'criteo', '--path', '/nonexistent.tsv', '--out', '/tmp/x'],
        /cannot read input file \/nonexistent.tsv: no such file\./,
      ],
      [['--source', 'synthetic', '--events', 'many', '--out', '/tmp/x'], /--events must be an integer/],
      [['--source', 'movielens', '--path', '/nonexistent', '--out', '/tmp/x'], /is not a folder/],
      [
        [
          '--source',
          'csv',
          '--path',
          '/x.csv',
          '--spec',
          join(fixture({ 's.json': '{"features":[{"name":"item:a","kind":"categorical","buckets":0}]}' }), 's.json'),
          '--out',
          '/tmp/x',
        ],
        /features\[0\]\.buckets: expected a positive integer/,
      ],
    ];
    for (const [argv, message] of cases) {
      const r = await vireo(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toMatch(message);
      expect(r.stderr.trim().split('\n'), argv.join(' ')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  // Before, "the spec declares no user history, so it reads user:recent_items…" came first, then the error that
  // ended the ingest: a note about a dataset that was never written.
  it('a spec column the file lacks: the sentence alone, without the history note', async () => {
    const spec = {
      entities: { user: { key: 'user_id' }, item: { key: 'item_id' } },
      timestamp: 'ts',
      features: [{ name: 'item:price', kind: 'numeric' }],
      labels: [{ name: 'click', source: 'clicked', kind: 'binary' }],
    };
    const dir = fixture({
      'spec.json': JSON.stringify(spec),
      'logs.csv': 'user_id,item_id,ts,clicked\nu1,i1,1,1\nu2,i1,2,0\n',
      'good.csv': 'user_id,item_id,ts,price,clicked\nu1,i1,1,3,1\nu2,i1,2,4,0\nu1,i2,3,5,1\n',
    });
    const flags = ['--source', 'csv', '--spec', join(dir, 'spec.json'), '--quiet'];
    const r = await vireo(...flags, '--path', join(dir, 'logs.csv'), '--out', join(dir, 'out'));
    expect({ code: r.code, stderr: r.stderr }).toEqual({
      code: 2,
      stderr:
        `vireo ingest: ${join(dir, 'logs.csv')} has no column "price" that the spec reads (its columns: user_id, ` +
        'item_id, ts, clicked).\n',
    });
    const ok = await vireo(...flags, '--path', join(dir, 'good.csv'), '--out', join(dir, 'ok'));
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/^vireo ingest: the spec declares no user history, so it reads user:recent_items/m);
  });

  it('fails with exit code 1 past --max-bad-rows, after showing the first bad rows', async () => {
    const dir = fixture({
      'day.tsv': ['1\tx', '0\ty', '1\tz'].join('\n') + '\n' + ['0', ...new Array(39).fill('')].join('\t') + '\n',
    });
    const r = await vireo(
      '--source',
      'criteo',
      '--path',
      join(dir, 'day.tsv'),
      '--out',
      join(tempDir(), 'd'),
      '--max-bad-rows',
      '2',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/skipped .*day.tsv line 1: expected 40 tab-separated fields, found 2/);
    expect(r.stderr).toMatch(/more than 2 malformed rows/);
  });

  // Before, the old dataset was deleted when the new ingest started: a failed re-ingest left no dataset at all.
  it('keeps the dataset a folder held when an ingest into it fails; a good one replaces it whole', async () => {
    const spec = {
      entities: { user: { key: 'user_id' }, item: { key: 'item_id' } },
      timestamp: 'ts',
      features: [{ name: 'item:price', kind: 'numeric' }],
      labels: [{ name: 'click', source: 'clicked', kind: 'binary' }],
    };
    const row = (i: number, bad: boolean) => `u${i % 3},i${i % 4},${i + 1},3,${bad ? 'yes' : i % 2}`;
    const rows = (n: number, bad = false) =>
      `user_id,item_id,ts,price,clicked\n${Array.from({ length: n }, (_, i) => row(i, bad)).join('\n')}\n`;
    const dir = fixture({
      'spec.json': JSON.stringify(spec),
      'a.csv': rows(6),
      'b.csv': rows(8),
      'bad.csv': rows(20, true),
    });
    const out = join(dir, 'data');
    const flags = ['--source', 'csv', '--spec', join(dir, 'spec.json'), '--out', out, '--quiet', '--json'];
    const first = await vireo(...flags, '--path', join(dir, 'a.csv'));
    expect(first.code, first.stderr).toBe(0);
    const failed = await vireo(...flags, '--path', join(dir, 'bad.csv'));
    expect(failed.code).toBe(1);
    expect(loadDataset(out).summary.counts.impressions).toBe(6);
    // An ingest that stops once it has begun writing (a full disk, Ctrl-C, a file changed under it).
    new DatasetWriter(out).writeColumn('impressions', 'label:click', 'F32', new Float32Array(3));
    expect(loadDataset(out).summary.counts.impressions).toBe(6);
    const second = await vireo(...flags, '--path', join(dir, 'b.csv'));
    expect(second.code, second.stderr).toBe(0);
    expect(loadDataset(out).summary.counts.impressions).toBe(8);
    expect(readdirSync(dir).sort()).toEqual(['a.csv', 'b.csv', 'bad.csv', 'data', 'spec.json']);
    // A `data.partial` that ingest did not leave is someone's: refused in one sentence, kept.
    writeFileSync(`${out}.partial`, 'notes');
    const foreign = await vireo(...flags, '--path', join(dir, 'a.csv'));
    expect({ code: foreign.code, stderr: foreign.stderr }).toEqual({
      code: 2,
      stderr: `vireo ingest: ${out}.partial is not what ingest leaves there: move it away, or choose another --out.\n`,
    });
    expect(readFileSync(`${out}.partial`, 'utf8')).toBe('notes');
    expect(loadDataset(out).summary.counts.impressions).toBe(8);
  });
});
