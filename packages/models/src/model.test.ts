// rankingInputs: the ranker's input rows as the engine builds them, in particular the derived
// history features (the user's recent items mapped through an item feature), which must come out
// slot for slot as the trainer builds them (trainer/src/ranking/data.ts, tested there).
import { describe, expect, it } from 'vitest';
import { FIRST_INDEX, OOV_INDEX, PAD_INDEX } from '@vireo/core';
import { rankingInputs, userFieldValues, withLocalHistory, type ModelData } from './model.ts';
import type { RankingConfig } from './ranking/ranking.ts';

// Four items; item:category per catalogue row (model-ready indices: category j → j + 2).
const categoryOfRow = [FIRST_INDEX + 1, FIRST_INDEX, FIRST_INDEX + 1, FIRST_INDEX + 2];
const model = {
  itemIds: ['a', 'b', 'c', 'd'],
  itemFeatures: new Map([['item:category', { dtype: 'I32', shape: [4], data: Int32Array.from(categoryOfRow) }]]),
} as unknown as ModelData;

const config: RankingConfig = {
  denseFeatures: [],
  sparseFeatures: [
    { name: 'user:recent_items', rows: 6, width: 4 },
    {
      name: 'user:recent_items>item:category',
      rows: 5,
      width: 4,
      derived: { sequence: 'user:recent_items', through: 'item:category' },
    },
    { name: 'item:category', rows: 5, width: 1 },
  ],
  embeddingDim: 4,
  bottomMlp: [4],
  topMlp: [],
  towerMlp: [],
  interaction: 'dot',
  heads: ['ctr'],
};

describe('rankingInputs', () => {
  it('maps the history through the item feature slot by slot (PAD kept, unknown items OOV) for every candidate', () => {
    // history: rows 3, 0, an item the catalogue lacks (OOV), then padding
    const history = [3 + FIRST_INDEX, 0 + FIRST_INDEX, OOV_INDEX, PAD_INDEX];
    const rows = [2, 1];
    const dense = new Float32Array(rows.length);
    const sparse = new Int32Array(rows.length * 9);
    rankingInputs(model, config, rows, { 'user:recent_items': history }, dense, sparse);
    const derived = [categoryOfRow[3], categoryOfRow[0], OOV_INDEX, PAD_INDEX];
    expect(Array.from(sparse.subarray(0, 9))).toEqual([...history, ...derived, categoryOfRow[2]]);
    expect(Array.from(sparse.subarray(9, 18))).toEqual([...history, ...derived, categoryOfRow[1]]);
    expect(Array.from(dense)).toEqual([1, 1]); // no dense features: the constant input
  });

  it('leaves the derived bag empty (all PAD) when the user has no history', () => {
    const sparse = new Int32Array(9).fill(-1);
    rankingInputs(model, config, [0], {}, new Float32Array(1), sparse);
    expect(Array.from(sparse.subarray(0, 8))).toEqual(new Array(8).fill(PAD_INDEX));
    expect(sparse[8]).toBe(categoryOfRow[0]);
  });
});

describe('withLocalHistory: on-device events reach the ranker before the edge has them', () => {
  const withSpec = {
    ...model,
    itemRow: new Map(model.itemIds.map((id, i) => [id, i])),
    manifest: {
      featureSpec: { features: [{ name: 'user:recent_items', kind: 'sequence', vocabulary: 'item:id', maxLength: 4 }] },
    },
    ranking: { config },
  } as unknown as ModelData;
  const ix = (row: number) => row + FIRST_INDEX;

  it(
    'appends the items on the device after those from the edge, ' +
      'drops duplicates of them and unknown ids, keeps the last L, pads',
    () => {
      const edge = [ix(1), ix(2), PAD_INDEX, PAD_INDEX];
      expect(withLocalHistory(withSpec, { 'user:recent_items': edge }, ['d', 'zzz'])['user:recent_items']).toEqual([
        ix(1),
        ix(2),
        ix(3),
        PAD_INDEX,
      ]);
      // b is both on the edge and on the device: it counts once, in the device's (newer) place
      expect(withLocalHistory(withSpec, { 'user:recent_items': edge }, ['b', 'a', 'c'])['user:recent_items']).toEqual([
        ix(1),
        ix(0),
        ix(2),
        PAD_INDEX,
      ]);
      // more than L: the most recent L
      expect(
        withLocalHistory(withSpec, { 'user:recent_items': [ix(0), ix(1), ix(2), ix(3)] }, ['a'])['user:recent_items'],
      ).toEqual([ix(1), ix(2), ix(3), ix(0)]);
      // no edge features at all (offline, first visit): the device's history alone
      expect(withLocalHistory(withSpec, {}, ['c'])['user:recent_items']).toEqual([
        ix(2),
        PAD_INDEX,
        PAD_INDEX,
        PAD_INDEX,
      ]);
    },
  );

  it('changes the derived history bag the ranker sees, and nothing without local events', () => {
    const values = { 'user:recent_items': [ix(1), PAD_INDEX, PAD_INDEX, PAD_INDEX] };
    expect(withLocalHistory(withSpec, values, [])).toBe(values);
    const sparse = new Int32Array(9);
    rankingInputs(withSpec, config, [0], withLocalHistory(withSpec, values, ['d']), new Float32Array(1), sparse);
    expect(Array.from(sparse.subarray(0, 8))).toEqual([
      ix(1),
      ix(3),
      PAD_INDEX,
      PAD_INDEX,
      categoryOfRow[1],
      categoryOfRow[3],
      PAD_INDEX,
      PAD_INDEX,
    ]);
  });
});

describe('userFieldValues', () => {
  it('derives context:time from the request time as the trainer does, capped at the end of the training span', () => {
    const fields = [{ name: 'context:numeric', kind: 'numeric', features: ['context:time', 'context:x'] }];
    const m = {
      retrieval: { config: { userFields: fields, timeRange: { min: 1000, max: 2000 } } },
      userIndex: new Map(),
    } as unknown as ModelData;
    expect(userFieldValues(m, 'u', { 'context:x': 3 }, 1500)).toEqual([[0.5, 3]]);
    // a bundle asked long after its data ends sees the end of what it knows, not 10⁶ spans on
    expect(userFieldValues(m, 'u', { 'context:x': 3 }, 1e9)).toEqual([[1, 3]]);
  });
});
