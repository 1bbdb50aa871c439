// The ranking view's inputs: the user's history (the clicks strictly before each impression) and
// the history mapped through the item's category, checked row by row against the raw tables.
import { describe, expect, it } from 'vitest';
import { FIRST_INDEX, PAD_INDEX } from '@vireo/core';
import { ingestSynthetic, loadDataset } from '../ingest/index.ts';
import { testOptions } from '../ingest/testing.ts';
import { rankingData } from './data.ts';

describe('rankingData', () => {
  it('builds the history and its categories from the clicks before each impression', async () => {
    const opts = testOptions();
    await ingestSynthetic({ seed: 5, users: 30, items: 40, events: 900, categories: 5, dim: 4, days: 10 }, opts);
    const ds = loadDataset(opts.out);
    const data = rankingData(ds);
    const names = data.features.sparse.map((f) => f.name);
    const at = names.indexOf('user:recent_items');
    expect(names[at + 1]).toBe('user:recent_items>item:category');
    expect(data.features.sparse[at + 1]).toMatchObject({ rows: ds.vocabularies['item:category'].length + FIRST_INDEX, width: 20, derived: { sequence: 'user:recent_items', through: 'item:category' } });

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
      for (let q = 0; q < im.rows; q++) if (user[q] === user[r] && im.ts[q] < im.ts[r] && click[q] > 0.5) clicks.push(q);
      clicks.sort((a, b) => im.ts[a] - im.ts[b]);
      const want = clicks.slice(-20).map((q) => item[q] + FIRST_INDEX);
      const history = Array.from(data.sparse.subarray(r * S + offset, r * S + offset + 20));
      const categories = Array.from(data.sparse.subarray(r * S + offset + 20, r * S + offset + 40));
      expect(history).toEqual([...want, ...new Array(20 - want.length).fill(PAD_INDEX)]);
      expect(categories).toEqual(history.map((i) => (i === PAD_INDEX ? PAD_INDEX : category[i - FIRST_INDEX])));
      if (want.length > 0) withHistory++;
    }
    expect(withHistory).toBeGreaterThan(data.rows / 2);
  });
});
