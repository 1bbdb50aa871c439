import { describe, expect, it } from 'vitest';
import { FIRST_INDEX, PAD_INDEX } from '@vireo/core';
import { join } from 'node:path';
import { loadDataset } from './dataset.ts';
import { CRITEO_COLUMNS, ingestCriteo } from './criteo.ts';
import { fixture, testOptions } from '../../test/ingest-helpers.ts';

/** A Criteo line: label, 13 integer columns, 26 hex categories ('' = missing). */
function line(label: number, ints: Array<number | string>, cats: string[]): string {
  return [label, ...ints, ...cats].join('\t');
}
const ints = (x: number): Array<number | ''> => Array.from({ length: 13 }, (_, i) => (i === 1 ? '' : x + i));
const cats = (c: string): string[] => Array.from({ length: 26 }, (_, i) => (i === 25 ? '' : `${c}${i}`));

describe('criteo', () => {
  it('ingests label, counts (log1p + standardize) and categories, empty = missing', async () => {
    const rows = [
      line(1, ints(0), cats('a')),
      line(0, ints(10), cats('b')),
      line(0, ints(0), cats('a')),
      line(1, ints(5), cats('a')),
    ];
    const opts = testOptions({ validFraction: 0.25, testFraction: 0.25 });
    const summary = await ingestCriteo(join(fixture({ 'day.tsv': rows.join('\n') + '\n' }), 'day.tsv'), {
      ...opts,
      minCount: 1,
    });
    expect(CRITEO_COLUMNS).toHaveLength(40);
    expect(summary.counts).toMatchObject({ impressions: 4, users: 0, items: 0, interactions: 0 });
    expect(summary.labels.click).toMatchObject({ positives: 2, rate: 0.5 });
    expect(summary.splits.ranking).toMatchObject({ train: 2, valid: 1, test: 1 });
    const ds = loadDataset(opts.out);
    expect(ds.users).toBeNull();
    const im = ds.impressions!;
    expect([...im.labels.get('click')!]).toEqual([1, 0, 0, 1]);
    // c1: 'a0' three times, 'b0' once → vocabulary by frequency; c26 always missing → PAD.
    expect(ds.vocabularies['context:c1']).toEqual(['a0', 'b0']);
    expect([...(im.columns.get('context:c1')!.data as Int32Array)]).toEqual([
      FIRST_INDEX,
      FIRST_INDEX + 1,
      FIRST_INDEX,
      FIRST_INDEX,
    ]);
    expect([...(im.columns.get('context:c26')!.data as Int32Array)]).toEqual([
      PAD_INDEX,
      PAD_INDEX,
      PAD_INDEX,
      PAD_INDEX,
    ]);
    // i1 = [0, 10, 0, 5] → log1p → standardized with the fitted mean / std (stored in spec.json).
    const i1 = ds.spec.features.find((f) => f.name === 'context:i1')!;
    const std = i1.kind === 'numeric' && i1.transforms[1];
    const logs = [0, 10, 0, 5].map(Math.log1p);
    const mean = logs.reduce((a, b) => a + b) / 4;
    expect(std).toMatchObject({ op: 'standardize' });
    // Fitted on the float32 values the pipeline produces, hence float32 agreement.
    expect((std as { mean: number }).mean).toBeCloseTo(mean, 6);
    const got = [...(im.columns.get('context:i1')!.data as Float32Array)];
    const sd = Math.sqrt(logs.reduce((a, x) => a + (x - mean) ** 2, 0) / 3);
    got.forEach((x, r) => expect(x).toBeCloseTo((logs[r] - mean) / sd, 5));
    expect(ds.statistics['context:i2']).toMatchObject({ missing: 4 });
  });

  it('counts malformed lines (field count, non-integer counts, labels) and refuses a non-TSV file', async () => {
    const rows = [
      line(1, ints(0), cats('a')),
      line(0, ints(1), cats('b')).replace(/\t[^\t]*$/, ''),
      line(2, ints(0), cats('a')),
      line(0, ['x', ...ints(0).slice(1)], cats('a')),
      line(0, ints(3), cats('c')),
    ];
    const opts = testOptions();
    const summary = await ingestCriteo(join(fixture({ 'day.tsv': rows.join('\n') }), 'day.tsv'), {
      ...opts,
      minCount: 1,
    });
    expect(summary.counts.impressions).toBe(2);
    expect(summary.badRows.samples.map((s) => [s.line, s.reason])).toEqual([
      [2, 'expected 40 tab-separated fields, found 39'],
      [3, 'label "click" must be 0 or 1, got "2"'],
      [4, 'context:i1 must be a number, got "x"'],
    ]);
    await expect(
      ingestCriteo(join(fixture({ 'x.csv': 'a,b,c\n1,2,3\n' }), 'x.csv'), { ...testOptions(), minCount: 1 }),
    ).rejects.toThrow(/is not tab-separated with 40 columns/);
    await expect(ingestCriteo('/nonexistent.tsv', { ...testOptions(), minCount: 1 })).rejects.toThrow(
      /cannot read input file \/nonexistent.tsv: no such file\./,
    );
  });
});
