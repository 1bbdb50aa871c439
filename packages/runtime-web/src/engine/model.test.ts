// rankingInputs: the ranker's input rows as the engine builds them, in particular the derived
// history features (the user's recent items mapped through an item feature), which must come out
// slot for slot as the trainer builds them (trainer/src/ranking/data.ts, tested there).
import { describe, expect, it } from 'vitest';
import { FIRST_INDEX, OOV_INDEX, PAD_INDEX } from '@vireo/core';
import { rankingInputs, type ModelData } from './model.ts';
import type { RankingConfig } from '../model/ranking.ts';

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
    { name: 'user:recent_items>item:category', rows: 5, width: 4, derived: { sequence: 'user:recent_items', through: 'item:category' } },
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
