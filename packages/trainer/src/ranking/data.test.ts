// The ranking view's inputs: the user's history (the clicks strictly before each impression) and
// the history mapped through the item's category, checked row by row against the raw tables, and
// against the engine's rankingInputs (what serving builds from the same values: no skew).
import { describe, expect, it } from 'vitest';
import { FIRST_INDEX, PAD_INDEX } from '@vireo/core';
import { ingestSynthetic, loadDataset } from '../ingest/index.ts';
import { testOptions } from '../../test/ingest-helpers.ts';
import { rankingData } from './data.ts';
import { rankingInputs, type ModelData, type RankingConfig } from '@vireo/models';

describe('rankingData', () => {
  it('builds the history and its categories from the clicks before each impression', async () => {
    const opts = testOptions();
    await ingestSynthetic({ seed: 5, users: 30, items: 40, events: 900, categories: 5, dim: 4, days: 10 }, opts);
    const ds = loadDataset(opts.out);
    const data = rankingData(ds);
    const names = data.features.sparse.map((f) => f.name);
    const at = names.indexOf('user:recent_items');
    expect(names[at + 1]).toBe('user:recent_items>item:category');
    expect(data.features.sparse[at + 1]).toMatchObject({
      rows: ds.vocabularies['item:category'].length + FIRST_INDEX,
      width: 20,
      derived: { sequence: 'user:recent_items', through: 'item:category' },
    });

    const S = data.sparse.length / data.rows;
    const offset = data.features.sparse.slice(0, at).reduce((s, f) => s + f.width, 0);
    const category = ds.items!.columns.get('item:category')!.data;
    const im = ds.impressions!;
    const click = im.labels.get('click')!;
    const user = im.user!;
    const item = im.item!;
    let withHistory = 0;
    for (let r = 0; r < data.rows; r++) {
      // the user's clicks strictly before this impression, the last 20, oldest first
      const clicks: number[] = [];
      for (let q = 0; q < im.rows; q++)
        if (user[q] === user[r] && im.ts[q] < im.ts[r] && click[q] > 0.5) clicks.push(q);
      clicks.sort((a, b) => im.ts[a] - im.ts[b]);
      const want = clicks.slice(-20).map((q) => item[q] + FIRST_INDEX);
      const history = Array.from(data.sparse.subarray(r * S + offset, r * S + offset + 20));
      const categories = Array.from(data.sparse.subarray(r * S + offset + 20, r * S + offset + 40));
      expect(history).toEqual([...want, ...new Array(20 - want.length).fill(PAD_INDEX)]);
      expect(categories).toEqual(history.map((i) => (i === PAD_INDEX ? PAD_INDEX : category[i - FIRST_INDEX])));
      if (want.length > 0) withHistory++;
    }
    expect(withHistory).toBeGreaterThan(data.rows / 2);

    // Serving: the engine gets the user's and the context's values (here: this row's own slots),
    // fills item features from the catalogue (items.safetensors holds the items table's columns)
    // and derives the history's categories itself; every slot and dense value must match.
    const items = ds.items!;
    const model = {
      itemIds: ds.vocabularies['item:id'],
      itemFeatures: new Map(
        [...items.columns].map(([name, c]) => [name, { dtype: c.dtype, shape: c.shape, data: c.data }]),
      ),
    } as unknown as ModelData;
    const config = { denseFeatures: data.features.dense, sparseFeatures: data.features.sparse } as RankingConfig;
    const Nd = data.features.dense.length;
    for (let r = 0; r < data.rows; r += 7) {
      const values: Record<string, unknown> = {};
      let from = r * S;
      for (const f of data.features.sparse) {
        if (!f.name.startsWith('item:') && !f.derived)
          values[f.name] = Array.from(data.sparse.subarray(from, from + f.width));
        from += f.width;
      }
      for (const name of Object.keys(values))
        if ((values[name] as number[]).length === 1) values[name] = (values[name] as number[])[0];
      const dense = new Float32Array(Math.max(1, Nd));
      const sparse = new Int32Array(S);
      rankingInputs(model, config, [item[r]], values, dense, sparse);
      expect(Array.from(sparse), `row ${r}`).toEqual(Array.from(data.sparse.subarray(r * S, (r + 1) * S)));
      expect(Array.from(dense.subarray(0, Nd))).toEqual(Array.from(data.dense.subarray(r * Nd, (r + 1) * Nd)));
    }
  });
});
