// The refresh's grown dataset (appendEvents) and the ranker's warm start (warmStartRanking), on a
// tiny synthetic world: vocabularies grow at their end, events become rows with the right labels
// and splits, events already in the base are left out; table rows follow vocabulary values.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLookups, FIRST_INDEX, OOV_INDEX, transformValue, type RawValue } from '@vireo/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main as vireo } from '../cli.ts';
import { loadDataset, SPLIT_TEST, SPLIT_TRAIN } from '../ingest/index.ts';
import { rankingData } from '../ranking/data.ts';
import { initialWeights } from '../ranking/fit.ts';
import { rankingConfigFor } from '../ranking/index.ts';
import { appendEvents } from './dataset.ts';
import { edgeEvents } from '../../test/ingest-helpers.ts';
import { carryRetrieval, warmStartRanking } from './warm.ts';
import { retrievalConfig } from '../retrieval/features.ts';
import { initialWeights as initialRetrievalWeights, weightTensors } from '@vireo/models/training';
import { rankingParameters, tableBases, WIDE_WEIGHT, wideWidth, type RankingConfig } from '@vireo/models';

const T = Date.UTC(2026, 0, 1);
const ev = edgeEvents();

describe('refresh: the grown dataset and the ranker warm start', () => {
  let root: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'vireo-refresh-ds-'));
    const quiet = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const quietErr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const args = ['--users', '12', '--items', '20', '--events', '300', '--categories', '3', '--seed', '3'];
      expect(await vireo(['ingest', '--source', 'synthetic', '--out', join(root, 'base'), ...args])).toBe(0);
    } finally {
      quiet.mockRestore();
      quietErr.mockRestore();
    }
  }, 60_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('appends events as rows: new ids at the end, labels from the type, the latest share held out', () => {
    const base = loadDataset(join(root, 'base'));
    const [u0, u1] = base.vocabularies['user:id'];
    const [i0, i1] = base.vocabularies['item:id'];
    const it = base.interactions!;
    const known = { user: base.vocabularies['user:id'][it.user[0]], item: base.vocabularies['item:id'][it.item[0]] };
    const events = [
      ev(known.user, known.item, 'click', Math.round(it.ts[0] * 1000)), // already in the base
      ev(u0, i0, 'click', T + 1000),
      ev(u1, i1, 'impression', T + 2000),
      ev('new-user', 'new-item', 'purchase', T + 3000, 12.5),
      ev(u0, 'new-item', 'click', T + 4000),
    ];
    const { ds, summary } = appendEvents(join(root, 'base'), events, join(root, 'grown'), 0.25);
    expect(summary).toMatchObject({ events: 4, alreadyInBase: 1, positives: 3, newUsers: 1, newItems: 1 });
    expect(summary.windowEvents).toBe(1);
    // Old indices keep their meaning; new ids at the end, with their id rows.
    expect(ds.vocabularies['user:id']).toEqual([...base.vocabularies['user:id'], 'new-user']);
    expect(ds.vocabularies['item:id']).toEqual([...base.vocabularies['item:id'], 'new-item']);
    const U = ds.users!.rows;
    const N = ds.items!.rows;
    expect((ds.users!.columns.get('user:id')!.data as Int32Array)[U - 1]).toBe(U - 1 + FIRST_INDEX);
    expect((ds.items!.columns.get('item:id')!.data as Int32Array)[N - 1]).toBe(N - 1 + FIRST_INDEX);
    // Interactions: the base's plus the three positives, sorted by (user, time); the newest held out.
    const g = ds.interactions!;
    expect(g.rows).toBe(it.rows + 3);
    for (let e = 1; e < g.rows; e++)
      expect(g.user[e] > g.user[e - 1] || (g.user[e] === g.user[e - 1] && g.ts[e] >= g.ts[e - 1])).toBe(true);
    const newest = [...g.ts.keys()].find((e) => g.ts[e] === (T + 4000) / 1000)!;
    expect(g.split[newest]).toBe(SPLIT_TEST);
    expect([...g.split].filter((s) => s === SPLIT_TEST).length).toBe(1);
    const purchase = [...g.ts.keys()].find((e) => g.ts[e] === (T + 3000) / 1000)!;
    expect([g.user[purchase], g.item[purchase], g.weight[purchase]]).toEqual([U - 1, N - 1, 2]);
    // Impressions: one row per event, labels from the type and value.
    const im = ds.impressions!;
    expect(im.rows).toBe(base.impressions!.rows + 4);
    const R0 = base.impressions!.rows;
    const label = (name: string) => Array.from(im.labels.get(name)!.subarray(R0));
    expect(label('click')).toEqual([1, 0, 1, 1]);
    expect(label('conversion')).toEqual([0, 0, 1, 0]);
    expect(label('revenue')).toEqual([0, 0, 12.5, 0]);
    expect(Array.from(im.split.subarray(0, R0)).every((s) => s === SPLIT_TRAIN)).toBe(true);
  });

  // MovieLens' ranking label is `like` (a rating at --min-rating or above), not `click`. Before, every appended row
  // had like 0 (only label:click was written), so a refresh trained the ranker on new events all marked negative
  // and its gate compared CTR AUCs of NaN (one label only in the window), promoting blind.
  it('labels appended events of a MovieLens dataset: like from clicks and from ratings at --min-rating', async () => {
    const raw = join(root, 'ml-raw');
    mkdirSync(raw);
    const movies = ['movieId,title,genres', ...Array.from({ length: 10 }, (_, m) => `${m + 1},M${m + 1} (2000),Drama`)];
    const ratings = ['userId,movieId,rating,timestamp'];
    for (let u = 1; u <= 6; u++)
      for (let k = 0; k < 8; k++) ratings.push(`${u},${1 + ((u + k) % 10)},${k % 2 ? 4.5 : 2},${1e9 + u * 100 + k}`);
    writeFileSync(join(raw, 'movies.csv'), `${movies.join('\n')}\n`);
    writeFileSync(join(raw, 'ratings.csv'), `${ratings.join('\n')}\n`);
    const quiet = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const quietErr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await vireo(['ingest', '--source', 'movielens', '--path', raw, '--out', join(root, 'ml')])).toBe(0);
    } finally {
      quiet.mockRestore();
      quietErr.mockRestore();
    }
    const base = loadDataset(join(root, 'ml'));
    expect([...base.impressions!.labels.keys()]).toContain('like');
    const [u0] = base.vocabularies['user:id'];
    const [i0, i1, i2, i3] = base.vocabularies['item:id'];
    const events = [
      ev(u0, i0, 'click', T + 1000),
      ev(u0, i1, 'impression', T + 2000),
      ev(u0, i2, 'rating', T + 3000, 4),
      ev(u0, i3, 'rating', T + 4000, 3.5),
    ];
    const { ds, summary } = appendEvents(join(root, 'ml'), events, join(root, 'ml-grown'), 0.5);
    expect(summary.positives).toBe(2);
    const R0 = base.impressions!.rows;
    const label = (name: string) => Array.from(ds.impressions!.labels.get(name)!.subarray(R0));
    expect(label('like')).toEqual([1, 0, 1, 0]);
    expect(label('rating')).toEqual([0, 0, 4, 3.5]);
    expect(ds.interactions!.rows).toBe(base.interactions!.rows + 2);
    // The held-out window (the latest half) has a positive and a negative: its AUC is a number.
    const rd = rankingData(ds);
    const window = [...Array(rd.rows).keys()].filter((r) => ds.impressions!.split[r] === SPLIT_TEST);
    expect(new Set(window.map((r) => ds.impressions!.labels.get('like')![r]))).toEqual(new Set([0, 1]));
  });

  it('gives items pushed to the edge rows with their pushed features, so a retrain keeps them', () => {
    const base = loadDataset(join(root, 'base'));
    const spec = new Map(base.spec.features.map((f) => [f.name, f]));
    const [category] = base.vocabularies['item:category'];
    const attributes = base.vocabularies['item:attributes'].slice(0, 2);
    const pushed = new Map([['pushed-item', { category, attributes, price: 12 }]]);
    const events = [ev(base.vocabularies['user:id'][0], 'event-item', 'click', T + 9000)];
    const { ds, summary } = appendEvents(join(root, 'base'), events, join(root, 'grown-pushed'), 0.25, pushed);
    expect(summary.newItems).toBe(2);
    expect(ds.vocabularies['item:id'].slice(-2)).toEqual(['event-item', 'pushed-item']);
    const N = ds.items!.rows;
    const col = (name: string) => ds.items!.columns.get(name)!;
    const lookups = buildLookups(base.spec, ds.vocabularies);
    const want = (name: string, raw: RawValue) => transformValue(spec.get(name)!, raw, lookups);
    // The pushed item: its features through the spec's transforms; the event-only item: PAD / 0.
    expect((col('item:category').data as Int32Array)[N - 1]).toBe(want('item:category', category));
    expect((col('item:category').data as Int32Array)[N - 2]).toBe(0);
    const width = col('item:attributes').shape[1];
    const attrs = Array.from((col('item:attributes').data as Int32Array).subarray((N - 1) * width, N * width));
    expect(attrs).toEqual(Array.from(want('item:attributes', attributes) as Int32Array));
    expect(attrs.filter((v) => v >= FIRST_INDEX).length).toBe(2);
    expect((col('item:price').data as Float32Array)[N - 1]).toBeCloseTo(want('item:price', 12) as number, 5);
  });

  it("carries the retrieval champion with the OOV row for ids it lists past its table (an items-only update's)", () => {
    const base = loadDataset(join(root, 'base'));
    const shape = { fieldDim: 8, embeddingDim: 8, heads: 1, itemHidden: 8, userHidden: 8, temperature: 0.1 };
    const old = retrievalConfig(base, { ...shape, historyLength: 4 });
    const weights = initialRetrievalWeights(old, 5);
    // The champion lists 'listed-only' in item:id (an items-only update added it) but has no table row for it.
    const previous = {
      config: old,
      vocabularies: { ...base.vocabularies, 'item:id': [...base.vocabularies['item:id'], 'listed-only'] },
      tensors: weightTensors(old, weights),
    };
    const pushed = new Map([['listed-only', {}]]);
    const grown = appendEvents(join(root, 'base'), [], join(root, 'grown-listed'), 0.25, pushed).ds;
    const config = retrievalConfig(grown, { ...shape, historyLength: 4 });
    const { weights: carried } = carryRetrieval(config, grown.vocabularies, previous, 'oov');
    const W = config.fieldDim;
    const field = (c: typeof config) => c.itemFields.find((f) => f.name === 'item:id')!;
    const row = (table: Float32Array, c: typeof config, j: number) =>
      Array.from(table.subarray((field(c).offset + j) * W, (field(c).offset + j + 1) * W));
    const last = grown.vocabularies['item:id'].length - 1 + FIRST_INDEX;
    expect(row(carried.table, config, last)).toEqual(row(weights.table, old, OOV_INDEX));
    expect(row(carried.table, config, FIRST_INDEX)).toEqual(row(weights.table, old, FIRST_INDEX));
  });

  it('warm-starts the ranker: rows by vocabulary value, new ones fresh or the OOV row', () => {
    const base = loadDataset(join(root, 'base'));
    const grown = loadDataset(join(root, 'grown'));
    const arch = { dim: 8, bottom: [8], top: [8], tower: [4], interaction: 'dot' as const };
    const oldData = rankingData(base);
    const newData = rankingData(grown);
    const oldConfig = rankingConfigFor(oldData, arch);
    const config = rankingConfigFor(newData, arch);
    const prior = { ctr: 0.3, cvr: 0.1, revenue: 1 };
    const previous = { ...initialWeights(oldConfig, 7, prior), config: oldConfig, vocabularies: base.vocabularies };
    const f = config.sparseFeatures.findIndex((s) => s.name === 'item:id');
    const D = 8;
    const row = (t: Float32Array, r: number) => Array.from(t.subarray(r * D, (r + 1) * D));
    for (const mode of ['fresh', 'oov'] as const) {
      const init = initialWeights(config, 1, prior);
      const fresh = row(init.tables[f], config.sparseFeatures[f].rows - 1);
      const report = warmStartRanking(config, grown.spec, grown.vocabularies, init, previous, mode);
      expect(report.dense).toBeGreaterThan(0);
      expect(report.rowsNew).toBeGreaterThan(0);
      const old = previous.tables[f];
      // Every old item keeps its row; the new item (last row) is fresh, or the parent's OOV row.
      for (let r = 0; r < base.vocabularies['item:id'].length + FIRST_INDEX; r++)
        expect(row(init.tables[f], r)).toEqual(row(old, r));
      const last = row(init.tables[f], config.sparseFeatures[f].rows - 1);
      expect(last).toEqual(mode === 'fresh' ? fresh : row(old, OOV_INDEX));
      expect(Array.from(init.params.subarray(0, 16))).toEqual(Array.from(previous.params.subarray(0, 16)));
    }
  });

  it("carries a champion's wide term: dense weights, biases as they are; table rows by value, new ones OOV's", () => {
    const base = loadDataset(join(root, 'base'));
    const grown = loadDataset(join(root, 'grown'));
    const arch = { dim: 8, bottom: [8], top: [8], tower: [4], interaction: 'dot' as const };
    const oldConfig = { ...rankingConfigFor(rankingData(base), arch), wide: true };
    const config = { ...rankingConfigFor(rankingData(grown), arch), wide: true };
    const prior = { ctr: 0.3, cvr: 0.1, revenue: 1 };
    const old = initialWeights(oldConfig, 7, prior);
    const wideOf = (c: RankingConfig) => rankingParameters(c).entries.find((e) => e.name === WIDE_WEIGHT)!;
    const eo = wideOf(oldConfig);
    for (let i = 0; i < eo.size; i++) old.params[eo.offset + i] = Math.sin(i + 1); // distinct weights
    const previous = { ...old, config: oldConfig, vocabularies: base.vocabularies };
    const init = initialWeights(config, 1, prior);
    warmStartRanking(config, grown.spec, grown.vocabularies, init, previous, 'oov');
    const e = wideOf(config);
    const [W, Wo] = [wideWidth(config), wideWidth(oldConfig)];
    const Nd = config.denseFeatures.length;
    const f = config.sparseFeatures.findIndex((s) => s.name === 'item:id');
    const [base0, old0] = [tableBases(config).bases[f], tableBases(oldConfig).bases[f]];
    expect(config.sparseFeatures[f].rows).toBeGreaterThan(oldConfig.sparseFeatures[f].rows);
    for (let h = 0; h < config.heads.length; h++) {
      const now = init.params.subarray(e.offset + h * W, e.offset + (h + 1) * W);
      const then = old.params.subarray(eo.offset + h * Wo, eo.offset + (h + 1) * Wo);
      expect(Array.from(now.subarray(0, Nd))).toEqual(Array.from(then.subarray(0, Nd)));
      expect(now[W - 1]).toBe(then[Wo - 1]);
      for (let r = 0; r < base.vocabularies['item:id'].length + FIRST_INDEX; r++)
        expect(now[Nd + base0 + r]).toBe(then[Nd + old0 + r]);
      expect(now[Nd + base0 + config.sparseFeatures[f].rows - 1]).toBe(then[Nd + old0 + OOV_INDEX]);
    }
  });
});
