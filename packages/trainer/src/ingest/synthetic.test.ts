import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIRST_INDEX as F, auc, createRng, topK, recallAtK } from '@vireo/core';
import { describe, expect, it } from 'vitest';
import { SPLIT_TEST, SPLIT_TRAIN, loadDataset } from './dataset.ts';
import { loadOracle } from './load-oracle.ts';
import { nextClickScores } from './oracle.ts';
import { fmClicks } from './fm-clicks.ts';
import { AGE_GROUPS, ingestSynthetic, type WorldConfig } from './synthetic.ts';
import { testOptions } from '../../test/ingest-helpers.ts';

const SMALL: WorldConfig = { seed: 7, users: 300, items: 200, events: 20_000, categories: 8, dim: 8, days: 14 };

/** Files of `b` that differ from `a` (compared as bytes). */
function differing(a: string, b: string, files: string[]): string[] {
  return files.filter((f) => !readFileSync(join(a, f)).equals(readFileSync(join(b, f))));
}

describe('synthetic world', () => {
  it('is reproducible from its seed, and another seed gives another world', async () => {
    const a = testOptions();
    const b = testOptions();
    const c = testOptions();
    const sa = await ingestSynthetic(SMALL, a);
    await ingestSynthetic(SMALL, b);
    await ingestSynthetic({ ...SMALL, seed: 8 }, c);
    const files = Object.values(sa.tables).flatMap((t) => Object.values(t.columns).map((col) => col.file));
    files.push('spec.json', 'vocabularies.json', 'statistics.json');
    expect(files.length).toBeGreaterThan(20);
    expect(differing(a.out, b.out, files)).toEqual([]);
    expect(
      differing(a.out, c.out, ['impressions/item.bin', 'items/oracle.latent.bin', 'interactions/item.bin']),
    ).toHaveLength(3);
  });

  it('writes the views, labels and oracle the trainers need, with consistent shapes', async () => {
    const opts = testOptions();
    const summary = await ingestSynthetic(SMALL, opts);
    const ds = loadDataset(opts.out);
    const { users, items, interactions, impressions } = ds;
    expect(summary.counts).toMatchObject({ users: 300, items: 200, impressions: 20_000 });
    expect(users!.rows).toBe(300);
    expect(items!.columns.get('item:attributes')!.shape).toEqual([200, 4]);
    expect(items!.columns.get('item:title')!.shape).toEqual([200, 8]);
    expect(items!.columns.get('oracle:latent')!.shape).toEqual([200, 8]);
    expect(impressions!.rows).toBe(20_000);
    expect(interactions!.rows).toBe(summary.counts.interactions);
    expect(interactions!.userOffsets[300]).toBe(interactions!.rows);

    // Clicks follow the oracle: observed rate ≈ mean true probability, and the oracle ranks them well.
    const click = impressions!.labels.get('click')!;
    const pClick = impressions!.columns.get('oracle:pClick')!.data as Float32Array;
    const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, x) => s + x, 0) / a.length;
    expect(Math.abs(mean(click) - mean(pClick))).toBeLessThan(0.01);
    expect(auc(click, pClick)).toBeGreaterThan(0.7);
    // Conversions only after clicks; revenue only with conversions.
    const conversion = impressions!.labels.get('conversion')!;
    const revenue = impressions!.labels.get('revenue')!;
    for (let r = 0; r < impressions!.rows; r++) {
      if (conversion[r] > click[r] || revenue[r] > 0 !== conversion[r] > 0)
        throw new Error(`row ${r}: click ${click[r]} conversion ${conversion[r]} revenue ${revenue[r]}`);
    }

    // Interactions are the clicks, sorted by user then time, with one test positive per split user.
    expect(interactions!.rows).toBe(click.reduce((s, x) => s + x, 0));
    let tests = 0;
    for (let e = 1; e < interactions!.rows; e++) {
      const u = interactions!.user;
      if (u[e] < u[e - 1] || (u[e] === u[e - 1] && interactions!.ts[e] < interactions!.ts[e - 1]))
        throw new Error(`interactions out of order at ${e}`);
    }
    for (let e = 0; e < interactions!.rows; e++) tests += interactions!.split[e] === SPLIT_TEST ? 1 : 0;
    expect(tests).toBe(summary.splits.retrieval!.usersWithTest);

    // The oracle's next-click ranking beats popularity on the held-out clicks: the world has signal.
    const truth = loadOracle(ds)!;
    const popularity = new Float32Array(200);
    for (let e = 0; e < interactions!.rows; e++)
      if (interactions!.split[e] === SPLIT_TRAIN) popularity[interactions!.item[e]]++;
    const scores = new Float32Array(200);
    let oracleRecall = 0;
    let popularRecall = 0;
    let n = 0;
    for (let u = 0; u < 300; u++) {
      const seen = new Set<number>();
      for (let e = interactions!.userOffsets[u]; e < interactions!.userOffsets[u + 1]; e++) {
        if (interactions!.split[e] === SPLIT_TRAIN) seen.add(interactions!.item[e]);
        if (interactions!.split[e] !== SPLIT_TEST) continue;
        const ts = interactions!.ts[e];
        const target = [interactions!.item[e]];
        oracleRecall += recallAtK(
          topK(nextClickScores(truth, u, ts, Math.floor((ts - truth.start) / 3600) % 24, 0, scores), 20, seen),
          target,
          20,
        );
        popularRecall += recallAtK(topK(popularity, 20, seen), target, 20);
        n++;
        break;
      }
    }
    expect(n).toBeGreaterThan(100);
    expect(oracleRecall / n).toBeGreaterThan(popularRecall / n + 0.05);
  });

  it('--clicks fm draws clicks from a factorization machine with pairwise terms, with its oracle', async () => {
    // The FM identity against the brute-force pairwise sum on random fields.
    const cards = [30, 6, 20, 5, 24, 3];
    const fm = fmClicks(3, cards, 1.4);
    const rng = createRng(11);
    const x = () => cards.map((n) => rng.int(n)) as [number, number, number, number, number, number];
    const a = x();
    const b = [...a] as typeof a;
    b[0] = (a[0] + 1) % 30; // another user, everything else equal
    const c = [...b] as typeof a;
    c[2] = (a[2] + 1) % 20; // and another item
    const d = [...a] as typeof a;
    d[2] = c[2];
    // With only two fields changed, z(a) − z(b) − z(d) + z(c) is the user × item pairwise term difference: nonzero.
    expect(Math.abs(fm.logit(a) - fm.logit(b) - fm.logit(d) + fm.logit(c))).toBeGreaterThan(1e-3);

    const opts = testOptions();
    const summary = await ingestSynthetic({ ...SMALL, clicks: 'fm', fmStrength: 1.4 }, opts);
    const ds = loadDataset(opts.out);
    const im = ds.impressions!;
    const click = im.labels.get('click')!;
    const pClick = im.columns.get('oracle:pClick')!.data as Float32Array;
    const fmWorld = fmClicks(SMALL.seed, [300, AGE_GROUPS.length, 200, 8, 24, 3], 1.4);
    const age = ds.users!.columns.get('user:age_group')!.data as Int32Array;
    const category = ds.items!.columns.get('item:category')!.data as Int32Array;
    const hour = im.columns.get('context:hour')!.data as Int32Array;
    const device = im.columns.get('context:device')!.data as Int32Array;
    // The written oracle is the FM's probability of each impression (features are stored from FIRST_INDEX).
    for (let r = 0; r < 500; r++) {
      const u = im.user![r];
      const i = im.item![r];
      const z = fmWorld.logit([u, age[u] - F, i, category[i] - F, hour[r] - F, device[r] - F]);
      expect(pClick[r]).toBeCloseTo(1 / (1 + Math.exp(-z)), 5);
    }
    const mean = (v: ArrayLike<number>) => Array.from(v).reduce((s, q) => s + q, 0) / v.length;
    expect(Math.abs(mean(click) - mean(pClick))).toBeLessThan(0.01);
    expect(auc(click, pClick)).toBeGreaterThan(0.88);
    // The latent world's retrieval oracle does not describe these clicks.
    expect(loadOracle(ds)).toBeNull();
    expect(summary.options).toMatchObject({ clicks: 'fm', fmStrength: 1.4 });
  });
});
