import { describe, expect, it } from 'vitest';
import { OOV_INDEX } from '@vireo/core';
import { SPLIT_TEST, SPLIT_TRAIN, SPLIT_VALID, loadDataset } from './dataset.ts';
import { IngestError } from './errors.ts';
import { ingestMovielens, parseTitle, pointInTimeTags, tagCutoffs } from './movielens.ts';
import { fixture, testOptions } from '../../test/ingest-helpers.ts';

const crlf = (lines: string[]) => lines.join('\r\n') + '\r\n';
const MOVIES = crlf([
  'movieId,title,genres',
  '1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy',
  '11,"American President, The (1995)",Comedy|Drama|Romance',
  '29,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",Adventure|Drama|Fantasy|Mystery|Sci-Fi',
  '40,Untitled,(no genres listed)',
]);
const RATINGS = crlf([
  'userId,movieId,rating,timestamp',
  '1,1,4.0,964982703',
  '1,11,5.0,964982800',
  '1,29,2.5,964982900',
  '1,40,4.5,964983000',
  '2,1,3.0,1445714994',
  '2,29,4.0,1445714999',
]);
// Tags written before every held-out event (the ranking cut-off is user 2's first rating, 1445714994).
const TAGS = crlf([
  'userId,movieId,tag,timestamp',
  '2,1,Pixar,964980000',
  '1,1,pixar,964980001',
  '1,11,pixar,964980001',
  '1,29,surreal,964980001',
  '2,1,funny,964980002',
]);

const run = (files: Record<string, string>, overrides = {}) => {
  const opts = testOptions(overrides);
  return ingestMovielens(fixture(files), { ...opts, minRating: 4 }).then((summary) => ({ summary, opts }));
};

describe('movielens', () => {
  it('parses titles: quoted commas, year, tokens', () => {
    expect(parseTitle('American President, The (1995)')).toEqual({ year: 1995, tokens: ['american', 'president'] });
    expect(parseTitle('Untitled')).toEqual({ year: null, tokens: ['untitled'] });
  });

  it('ingests the ml-latest-small layout (CRLF, quoted titles, tags)', async () => {
    const { summary, opts } = await run({ 'movies.csv': MOVIES, 'ratings.csv': RATINGS, 'tags.csv': TAGS });
    expect(summary.counts).toMatchObject({ users: 2, items: 4, interactions: 6, positives: 4 });
    expect(summary.badRows.count).toBe(0);
    const ds = loadDataset(opts.out);
    expect(ds.vocabularies['item:id']).toEqual(['1', '11', '29', '40']);
    expect(ds.vocabularies['item:genres'].slice(0, 3)).toEqual(['Adventure', 'Comedy', 'Drama']);
    const genres = ds.items!.columns.get('item:genres')!;
    expect(genres.shape).toEqual([4, 10]);
    expect([...(genres.data as Int32Array).subarray(30, 40)]).toEqual(new Array(10).fill(0)); // (no genres listed)
    // Tags lower-cased, most used first per movie; the vocabulary keeps tags on ≥ 2 movies (minCount),
    // so "pixar" (movies 1 and 11) stays and "funny", "surreal" (one movie each) are OOV.
    expect(ds.vocabularies['item:tags']).toEqual(['pixar']);
    const tags = ds.items!.columns.get('item:tags')!.data as Int32Array;
    expect([...tags.subarray(0, 3)]).toEqual([2, OOV_INDEX, 0]);
    expect(tags[2 * 8]).toBe(OOV_INDEX);
    // Retrieval: user 1 (3 positives) → valid + test; user 2 (1 positive) → train only.
    const it = ds.interactions!;
    expect([...it.user]).toEqual([0, 0, 0, 0, 1, 1]);
    expect([...it.split]).toEqual([SPLIT_TRAIN, SPLIT_VALID, SPLIT_VALID, SPLIT_TEST, SPLIT_TRAIN, SPLIT_TRAIN]);
    expect([...it.weight]).toEqual([4, 5, 2.5, 4.5, 3, 4]);
    expect([...ds.impressions!.labels.get('like')!]).toEqual([1, 1, 0, 1, 0, 1]);
  });

  it("uses only tags written before the item's earliest held-out event (point in time)", async () => {
    // User 1 rates movies 1, 11, 29, 40 (all liked): 29 is validation (t=30), 40 is test (t=40). User 3 rates 11
    // at t=5 and 29 at t=6, 40 at t=7: with 3 positives, 29 (t=6) is valid and 40 (t=7) test for them.
    // Held out: movie 29 from t=6, movie 40 from t=7; movies 1 and 11 are never held out (train only), so their
    // cut-off is the ranking view's validation cut-off.
    const ratings = crlf([
      'userId,movieId,rating,timestamp',
      '1,1,5,10',
      '1,11,5,20',
      '1,29,5,30',
      '1,40,5,40',
      '3,11,5,5',
      '3,29,5,6',
      '3,40,5,7',
    ]);
    const tags = crlf([
      'userId,movieId,tag,timestamp',
      '1,29,dreamlike,3', // before movie 29's first held-out event (t=6): kept
      '2,29,dreamlike,4', // kept
      '1,29,weird,6', // at the held-out event: a leak, dropped
      '3,29,weird,31', // after: dropped
      '1,40,dreamlike,1', // kept
      '1,40,later,7', // at movie 40's held-out event: dropped
      '1,40,later,8', // dropped
    ]);
    const { opts } = await run({ 'movies.csv': MOVIES, 'ratings.csv': ratings, 'tags.csv': tags });
    const ds = loadDataset(opts.out);
    // Had every tag counted, movie 29 would read [dreamlike, weird → OOV] and movie 40 [later → OOV, dreamlike].
    expect(ds.vocabularies['item:tags']).toEqual(['dreamlike']);
    const column = ds.items!.columns.get('item:tags')!.data as Int32Array;
    const row = (i: number) => [...column.subarray(i * 8, i * 8 + 2)];
    expect(row(2)).toEqual([2, 0]); // movie 29: only "dreamlike" (index 2 = first entry after padding and OOV)
    expect(row(3)).toEqual([2, 0]); // movie 40
  });

  it('point-in-time tag cut-offs: per item the earliest held-out event, else the ranking cut-off', () => {
    const events = {
      user: Int32Array.of(0, 0, 0, 0),
      item: Int32Array.of(0, 1, 2, 2),
      ts: Float64Array.of(1, 2, 3, 4),
      positive: [1, 1, 1, 1],
    };
    // Leave-last-out: event 3 (item 2, t=4) is test, event 2 (item 2, t=3) valid; the ranking cut-off (last 50 %)
    // is t=3.
    const cutoff = tagCutoffs(events, 1, 4, { validFraction: 0.25, testFraction: 0.25, minPositives: 3 });
    expect([...cutoff]).toEqual([3, 3, 3, 3]);
    const late = tagCutoffs(events, 1, 3, { validFraction: 0, testFraction: 0, minPositives: 3 });
    expect([...late]).toEqual([Infinity, Infinity, 3]);
    const rows = [
      { item: 2, tag: 'b', ts: 1 },
      { item: 2, tag: 'a', ts: 2 },
      { item: 2, tag: 'b', ts: 2.5 },
      { item: 2, tag: 'c', ts: 3 },
      { item: 0, tag: 'c', ts: 100 },
    ];
    expect(pointInTimeTags(rows, late)).toEqual([['c'], [], ['b', 'a']]);
  });

  it('skips malformed ratings with their line numbers, and fails past --max-bad-rows', async () => {
    const bad = RATINGS + crlf(['3,999,4.0,964982703', '3,1,seven,964982703', '3,1,4.0']);
    const { summary, opts } = await run({ 'movies.csv': MOVIES, 'ratings.csv': bad });
    expect(summary.counts.interactions).toBe(6);
    expect(summary.badRows.samples.map((s) => [s.line, s.reason])).toEqual([
      [8, 'movieId "999" is not in movies.csv'],
      [9, 'rating must be a number in [0, 5], got "seven"'],
      [10, 'expected 4 fields, found 3'],
    ]);
    expect(opts.notes[0]).toMatch(/ratings.csv line 8: movieId "999" is not in movies.csv/);
    const failing = run({ 'movies.csv': MOVIES, 'ratings.csv': bad }, { maxBadRows: 2 });
    await expect(failing).rejects.toThrow(IngestError);
    await expect(failing).rejects.toThrow(
      /more than 2 malformed rows \(the first: .*ratings.csv line 8: .*\); fix the input or raise --max-bad-rows\./,
    );
    await expect(failing).rejects.toMatchObject({ exitCode: 1 });
  });

  it('refuses a folder with the wrong layout in one sentence', async () => {
    await expect(run({ 'ratings.csv': RATINGS })).rejects.toThrow(
      /cannot read MovieLens file .*movies.csv: no such file\./,
    );
    await expect(run({ 'movies.csv': MOVIES, 'ratings.csv': 'user,item\r\n1,1\r\n' })).rejects.toThrow(
      /does not have the MovieLens header "userId,movieId,rating,timestamp"/,
    );
    const opts = testOptions();
    await expect(ingestMovielens('/nonexistent/ml', { ...opts, minRating: 4 })).rejects.toThrow(
      /--path \/nonexistent\/ml is not a folder/,
    );
  });
});
