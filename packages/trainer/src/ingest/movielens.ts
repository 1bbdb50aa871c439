// MovieLens in the ml-latest-small layout (GroupLens): a folder with
//   movies.csv   movieId,title,genres          (titles quoted when they hold commas)
//   ratings.csv  userId,movieId,rating,timestamp
//   tags.csv     userId,movieId,tag,timestamp  (optional)
// CRLF line endings. Items are the movies (file order) with genres (multi-hot), release year, title
// tokens and user tags (only those written before the item's first held-out event: point in time); users are the
// raters (by id). Every rating is an event: the retrieval view
// takes rating ≥ --min-rating as positive, the ranking view labels `like` (the same) and `rating`.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buildLookups, parseFeatureSpec, type FeatureSpec, type RawValue } from '@vireo/core';
import { DatasetWriter, SPLIT_TRAIN, type DatasetSummary } from './dataset.ts';
import { FeatureColumn, writeEntityFeatures } from './encode.ts';
import { IngestError } from './errors.ts';
import { SpecFitter } from './fit.ts';
import { Growable } from './growable.ts';
import { badRowLedger, stage, type IngestOptions } from './options.ts';
import { fileSize, forEachRecord } from './read.ts';
import { leaveLastOut, timeCutoffs } from './splits.ts';
import { timeRange, userTimeOrder, writeImpressionCore, writeInteractions } from './views.ts';

/** Longest history the user tower reads, declared in the spec for the runtime. */
const HISTORY_LENGTH = 50;

/** `vireo ingest --source movielens --min-rating`'s default: a rating of 4 or more is a like. */
export const DEFAULT_MIN_RATING = 4;

export function movielensSpec(): FeatureSpec {
  return parseFeatureSpec({
    name: 'movielens',
    entities: { user: { key: 'userId' }, item: { key: 'movieId' } },
    timestamp: 'timestamp',
    features: [
      { name: 'user:id', kind: 'categorical', source: 'userId' },
      {
        name: 'user:recent_items',
        kind: 'sequence',
        maxLength: HISTORY_LENGTH,
        vocabulary: 'item:id',
        description: "the user's positives before the event, oldest first; built from the interactions table",
      },
      { name: 'item:id', kind: 'categorical', source: 'movieId' },
      { name: 'item:genres', kind: 'multi_hot', maxLength: 10 },
      {
        name: 'item:year',
        kind: 'numeric',
        fill: 2000,
        transforms: [{ op: 'clip', min: 1900, max: 2030 }, { op: 'standardize' }],
      },
      {
        name: 'item:title',
        kind: 'multi_hot',
        maxLength: 8,
        minCount: 2,
        description: 'lower-cased title words, year removed',
      },
      { name: 'item:tags', kind: 'multi_hot', maxLength: 8, minCount: 2, description: "users' tags, most used first" },
      { name: 'context:hour', kind: 'categorical', description: 'UTC hour of the rating' },
      { name: 'context:weekday', kind: 'categorical', description: 'UTC day of the week, 0 = Sunday' },
    ],
    labels: [
      { name: 'like', kind: 'binary' },
      { name: 'rating', kind: 'regression' },
    ],
  });
}

const STOP_WORDS = new Set([
  'the',
  'a',
  'an',
  'of',
  'and',
  'in',
  'on',
  'to',
  'la',
  'le',
  'les',
  'el',
  'de',
  'der',
  'die',
  'das',
]);

/** "American President, The (1995)" → { year: 1995, tokens: ['american', 'president'] }. */
export function parseTitle(title: string): { year: number | null; tokens: string[] } {
  const m = /\((\d{4})(?:[–-]\d{4})?\)\s*$/.exec(title);
  const rest = m ? title.slice(0, m.index) : title;
  const tokens = rest
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t.length > 1 && !STOP_WORDS.has(t));
  return { year: m ? Number(m[1]) : null, tokens: [...new Set(tokens)] };
}

function expectHeader(path: string, fields: string[] | null, want: string[]): void {
  const got = fields?.map((f) => f.trim().replace(/^\uFEFF/, ''));
  if (!got || got.join(',') !== want.join(',')) {
    throw new IngestError(
      `${path} does not have the MovieLens header "${want.join(',')}" ` +
        `(found "${got?.join(',') ?? ''}"); is --path an ml-latest-small folder?`,
    );
  }
}

const INTEGER = /^\d+$/;

/** Ingests an ml-latest-small folder. */
export async function ingestMovielens(
  dir: string,
  opts: IngestOptions & { minRating: number },
): Promise<DatasetSummary> {
  const started = performance.now();
  if (
    !(await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  )
    throw new IngestError(
      `--path ${dir} is not a folder: expected an ml-latest-small folder with movies.csv and ratings.csv.`,
    );
  const paths = { movies: join(dir, 'movies.csv'), ratings: join(dir, 'ratings.csv'), tags: join(dir, 'tags.csv') };
  const bytes = {
    movies: await fileSize(paths.movies, 'MovieLens file'),
    ratings: await fileSize(paths.ratings, 'MovieLens file'),
    tags: await fileSize(paths.tags, 'MovieLens file').catch(() => -1),
  };
  const spec = movielensSpec();
  const bad = badRowLedger(opts);

  // movies.csv → items in file order.
  const movieRow = new Map<string, number>();
  const titles: string[][] = [];
  const years: Array<number | null> = [];
  const genres: string[][] = [];
  await forEachRecord(paths.movies, 'csv', (f, line) => {
    if (line === 1) return expectHeader(paths.movies, f, ['movieId', 'title', 'genres']);
    if (f === null) return bad.add(paths.movies, line, 'unterminated quoted field');
    if (f.length === 1 && f[0] === '') return;
    if (f.length !== 3) return bad.add(paths.movies, line, `expected 3 fields, found ${f.length}`);
    const id = f[0].trim();
    if (!INTEGER.test(id))
      return bad.add(paths.movies, line, `movieId must be an integer, got ${JSON.stringify(f[0])}`);
    if (movieRow.has(id)) return bad.add(paths.movies, line, `movieId ${id} appears twice`);
    movieRow.set(id, movieRow.size);
    const { year, tokens } = parseTitle(f[1]);
    titles.push(tokens);
    years.push(year);
    genres.push(f[2] === '(no genres listed)' ? [] : f[2].split('|').filter(Boolean));
  });
  if (movieRow.size === 0) throw new IngestError(`${paths.movies} lists no movies.`);

  // tags.csv → (movie, tag, time) rows; counted per movie after the ratings, point in time.
  const tagRows: Array<{ item: number; tag: string; ts: number }> = [];
  if (bytes.tags >= 0) {
    await forEachRecord(paths.tags, 'csv', (f, line) => {
      if (line === 1) return expectHeader(paths.tags, f, ['userId', 'movieId', 'tag', 'timestamp']);
      if (f === null) return bad.add(paths.tags, line, 'unterminated quoted field');
      if (f.length === 1 && f[0] === '') return;
      if (f.length !== 4) return bad.add(paths.tags, line, `expected 4 fields, found ${f.length}`);
      const i = movieRow.get(f[1].trim());
      if (i === undefined) return bad.add(paths.tags, line, `movieId ${JSON.stringify(f[1])} is not in movies.csv`);
      if (!INTEGER.test(f[3].trim()))
        return bad.add(paths.tags, line, `timestamp must be unix seconds, got ${JSON.stringify(f[3])}`);
      const tag = f[2].trim().toLowerCase();
      if (tag) tagRows.push({ item: i, tag, ts: Number(f[3].trim()) });
    });
  }

  // ratings.csv → events.
  const rawUser = new Growable(Int32Array);
  const eventItem = new Growable(Int32Array);
  const eventTs = new Growable(Float64Array);
  const eventRating = new Growable(Float32Array);
  const bar = stage(opts, 'ratings', bytes.ratings);
  await forEachRecord(
    paths.ratings,
    'csv',
    (f, line) => {
      if (line === 1) return expectHeader(paths.ratings, f, ['userId', 'movieId', 'rating', 'timestamp']);
      if (f === null) return bad.add(paths.ratings, line, 'unterminated quoted field');
      if (f.length === 1 && f[0] === '') return;
      if (f.length !== 4) return bad.add(paths.ratings, line, `expected 4 fields, found ${f.length}`);
      const [u, m, r, t] = f.map((x) => x.trim());
      if (!INTEGER.test(u) || Number(u) > 2 ** 31 - 1)
        return bad.add(paths.ratings, line, `userId must be an integer, got ${JSON.stringify(f[0])}`);
      const i = movieRow.get(m);
      if (i === undefined) return bad.add(paths.ratings, line, `movieId ${JSON.stringify(f[1])} is not in movies.csv`);
      const rating = Number(r);
      if (r === '' || !(rating >= 0 && rating <= 5))
        return bad.add(paths.ratings, line, `rating must be a number in [0, 5], got ${JSON.stringify(f[2])}`);
      if (!INTEGER.test(t))
        return bad.add(paths.ratings, line, `timestamp must be unix seconds, got ${JSON.stringify(f[3])}`);
      rawUser.push(Number(u));
      eventItem.push(i);
      eventTs.push(Number(t));
      eventRating.push(rating);
    },
    (done) => bar.update(done, { ratings: eventItem.length }),
  );
  bar.finish({ ratings: eventItem.length });
  const n = eventItem.length;
  if (n === 0) throw new IngestError(`${paths.ratings} has no usable ratings (${bad.count} malformed).`);

  // Users ordered by id.
  const userIds = [...new Set(rawUser.view())].sort((a, b) => a - b);
  const userRow = new Map(userIds.map((id, r) => [id, r]));
  const user = Int32Array.from(rawUser.view(), (id) => userRow.get(id)!);
  const item = eventItem.view();
  const ts = eventTs.view();
  const rating = eventRating.view();
  const like = Float32Array.from(rating, (r) => (r >= opts.minRating ? 1 : 0));
  const tags = pointInTimeTags(
    tagRows,
    tagCutoffs({ user, item, ts, positive: like }, userIds.length, movieRow.size, opts),
  );
  const hours = Array.from(ts, (t) => String(new Date(t * 1000).getUTCHours()));
  const weekdays = Array.from(ts, (t) => String(new Date(t * 1000).getUTCDay()));

  // Fit: items once each, context once per event, ids fixed to row order.
  const fixed = { 'user:id': userIds.map(String), 'item:id': [...movieRow.keys()] };
  const fitter = new SpecFitter(spec, fixed);
  const feature = (name: string) => spec.features.find((f) => f.name === name)!;
  const itemRaw: Record<string, (i: number) => RawValue> = {
    'item:id': (i) => fixed['item:id'][i],
    'item:genres': (i) => genres[i],
    'item:year': (i) => years[i],
    'item:title': (i) => titles[i],
    'item:tags': (i) => tags[i],
  };
  for (const [name, raw] of Object.entries(itemRaw))
    for (let i = 0; i < movieRow.size; i++) fitter.addFeature(feature(name), raw(i));
  for (let e = 0; e < n; e++) {
    fitter.row();
    fitter.addFeature(feature('context:hour'), hours[e]);
    fitter.addFeature(feature('context:weekday'), weekdays[e]);
    fitter.addLabel('like', like[e]);
    fitter.addLabel('rating', rating[e]);
  }
  const fitted = fitter.fit();
  const lookups = buildLookups(fitted.spec, fitted.vocabularies);
  const fittedFeature = (name: string) => fitted.spec.features.find((f) => f.name === name)!;

  const out = new DatasetWriter(opts.out);
  writeEntityFeatures(
    out,
    'users',
    [fittedFeature('user:id')],
    userIds.length,
    lookups,
    (_f, u) => fixed['user:id'][u],
  );
  writeEntityFeatures(out, 'items', Object.keys(itemRaw).map(fittedFeature), movieRow.size, lookups, (f, i) =>
    itemRaw[f.name](i),
  );
  const hourColumn = new FeatureColumn(out, 'impressions', fittedFeature('context:hour'), lookups);
  const weekdayColumn = new FeatureColumn(out, 'impressions', fittedFeature('context:weekday'), lookups);
  for (let e = 0; e < n; e++) {
    hourColumn.push(hours[e]);
    weekdayColumn.push(weekdays[e]);
  }
  const ranking = writeImpressionCore(
    out,
    {
      user,
      item,
      ts,
      labels: new Map([
        ['like', like],
        ['rating', rating],
      ]),
    },
    opts,
  );
  const positive = Uint8Array.from(like);
  const retrieval = writeInteractions(
    out,
    { user, item, ts, weight: rating, positive },
    userIds.length,
    opts.minPositives,
  );
  const positives = positive.reduce((a, b) => a + b, 0);

  return out.finish(
    {
      source: 'movielens',
      name: opts.name ?? 'movielens',
      createdAt: new Date().toISOString(),
      options: {
        minRating: opts.minRating,
        validFraction: opts.validFraction,
        testFraction: opts.testFraction,
        minPositives: opts.minPositives,
        maxBadRows: opts.maxBadRows,
      },
      inputs: [
        { path: paths.movies, bytes: bytes.movies },
        { path: paths.ratings, bytes: bytes.ratings },
        ...(bytes.tags >= 0 ? [{ path: paths.tags, bytes: bytes.tags }] : []),
      ],
      counts: { users: userIds.length, items: movieRow.size, interactions: n, positives, impressions: n },
      timeRange: timeRange(ts),
      splits: { retrieval, ranking },
      labels: { like: fitted.statistics['label:like'], rating: fitted.statistics['label:rating'] },
      badRows: bad.toJSON(),
      elapsedSeconds: (performance.now() - started) / 1000,
    },
    fitted.spec,
    fitted.vocabularies,
    fitted.statistics,
  );
}

/**
 * The time before which an item's tags may be used, per item: the earliest event of that item held out by either view
 * (the retrieval view's valid/test events, the ranking view's validation cut-off), so that no held-out event sees a tag
 * written at or after it (docs/ARCHITECTURE.md §4, Ingest: point in time). Items are one static table, so one
 * cut-off per item is the latest time that is safe for every held-out event.
 */
export function tagCutoffs(
  events: { user: Int32Array; item: Int32Array; ts: Float64Array; positive: ArrayLike<number> },
  numUsers: number,
  numItems: number,
  opts: { validFraction: number; testFraction: number; minPositives: number },
): Float64Array {
  const { validFrom } = timeCutoffs(events.ts, opts.validFraction, opts.testFraction);
  const cutoff = new Float64Array(numItems).fill(validFrom);
  const order = userTimeOrder(events.user, events.ts, numUsers);
  const positive = Uint8Array.from(order, (e) => events.positive[e]);
  const split = new Uint8Array(order.length);
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && events.user[order[end]] === events.user[order[start]]) end++;
    leaveLastOut(positive, start, end, split, opts.minPositives);
    start = end;
  }
  for (let r = 0; r < order.length; r++) {
    if (split[r] === SPLIT_TRAIN) continue;
    const e = order[r];
    if (events.ts[e] < cutoff[events.item[e]]) cutoff[events.item[e]] = events.ts[e];
  }
  return cutoff;
}

/** Per item, its tags written strictly before the item's cut-off, most used first (ties by name). */
export function pointInTimeTags(
  rows: ReadonlyArray<{ item: number; tag: string; ts: number }>,
  cutoff: Float64Array,
): string[][] {
  const counts: Array<Map<string, number>> = Array.from(cutoff, () => new Map());
  for (const { item, tag, ts } of rows) if (ts < cutoff[item]) counts[item].set(tag, (counts[item].get(tag) ?? 0) + 1);
  return counts.map((m) => [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([t]) => t));
}
