import { describe, expect, it } from 'vitest';
import { OOV_INDEX } from '@vireo/core';
import { SPLIT_TEST, SPLIT_TRAIN, SPLIT_VALID, loadDataset } from './dataset.ts';
import { IngestError } from './errors.ts';
import { ingestMovielens, parseTitle } from './movielens.ts';
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
const TAGS = crlf([
  'userId,movieId,tag,timestamp',
  '2,1,Pixar,1445714994',
  '1,1,pixar,1445714996',
  '1,11,pixar,1445714996',
  '1,29,surreal,1445714996',
  '2,1,funny,1445714999',
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
