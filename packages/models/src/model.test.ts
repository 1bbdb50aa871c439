// rankingInputs: the ranker's input rows as the engine builds them, in particular the derived
// history features (the user's recent items mapped through an item feature), which must come out
// slot for slot as the trainer builds them (trainer/src/ranking/data.ts, tested there).
import { describe, expect, it } from 'vitest';
import { FIRST_INDEX, OOV_INDEX, PAD_INDEX } from '@vireo/core';
import { testRng } from '@vireo/kernels';
import {
  derivedValue,
  rankingInputs,
  userFieldValues,
  withLocalHistory,
  type FeatureValues,
  type ModelData,
} from './model.ts';
import { sparseWidth, type RankingConfig } from './ranking/ranking.ts';
import { itemIdIndex } from './retrieval/retrieval.ts';

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

/** rankingInputs as it was before its per-feature loops (one branch per value): the reference for them. */
function rankingInputsPerValue(
  m: ModelData,
  c: RankingConfig,
  rows: ArrayLike<number>,
  values: FeatureValues,
  dense: Float32Array,
  sparse: Int32Array,
): void {
  const n = rows.length;
  const Nd = Math.max(1, c.denseFeatures.length);
  const S = sparseWidth(c);
  if (c.denseFeatures.length === 0) dense.fill(1, 0, n);
  c.denseFeatures.forEach((name, j) => {
    const t = m.itemFeatures.get(name);
    const shared = Number(values[name] ?? 0);
    for (let b = 0; b < n; b++) dense[b * Nd + j] = t ? Number(t.data[rows[b]]) : shared;
  });
  let slot = 0;
  for (const f of c.sparseFeatures) {
    const t = f.derived ? undefined : m.itemFeatures.get(f.name);
    const shared = f.derived ? derivedValue(m, f.derived, values) : values[f.name];
    for (let b = 0; b < n; b++) {
      for (let l = 0; l < f.width; l++) {
        let v: number;
        if (t)
          v = Number(t.shape.length > 1 ? t.data[rows[b] * t.shape[1] + l] : l === 0 ? t.data[rows[b]] : PAD_INDEX);
        else if (f.name === 'item:id') v = l === 0 ? itemIdIndex(rows[b]) : PAD_INDEX;
        else if (Array.isArray(shared) || ArrayBuffer.isView(shared))
          v = Number((shared as ArrayLike<number>)[l] ?? PAD_INDEX);
        else v = l === 0 && shared !== undefined && shared !== null ? Number(shared) : PAD_INDEX;
        sparse[b * S + slot + l] = v < f.rows ? v : OOV_INDEX;
      }
    }
    slot += f.width;
  }
}

describe('rankingInputs builds what it built value by value', () => {
  it('on random catalogues, features and values (negative, large and missing ids, int64 and 2-D columns)', () => {
    const rng = testRng(23);
    // Ids spread over the int32 range and beyond it, negatives and the edges included.
    const id = () =>
      [
        () => rng.int(12),
        () => rng.int(2 ** 31) - 2 ** 30,
        () => -1 - rng.int(50),
        () => 2 ** 31 - 1,
        () => -(2 ** 31),
      ][rng.int(5)]();
    for (let trial = 0; trial < 40; trial++) {
      const N = 1 + rng.int(30);
      const W = 1 + rng.int(4);
      const genres = Int32Array.from({ length: N * W }, id);
      const price = Float32Array.from({ length: N }, () => rng.int(1000) / 7);
      const big = BigInt64Array.from({ length: N }, () => BigInt(id()));
      const m = {
        itemIds: Array.from({ length: N }, (_, i) => `i${i}`),
        itemFeatures: new Map<string, unknown>([
          ['item:genres', { dtype: 'I32', shape: [N, W], data: genres }],
          ['item:price', { dtype: 'F32', shape: [N], data: price }],
          ['item:big', { dtype: 'I64', shape: [N], data: big }],
        ]),
      } as unknown as ModelData;
      const rows = 1 + rng.int(6);
      const c: RankingConfig = {
        ...config,
        denseFeatures: rng.int(2) ? ['item:price', 'context:temp'] : [],
        sparseFeatures: [
          { name: 'item:genres', rows: 1 + rng.int(2 ** 31 - 1), width: W },
          { name: 'item:big', rows: 1 + rng.int(40), width: 1 + rng.int(2) },
          { name: 'item:id', rows: 1 + rng.int(N + 4), width: 1 + rng.int(2) },
          { name: 'user:recent', rows: 1 + rng.int(20), width: 1 + rng.int(5) },
          { name: 'user:id', rows: 1 + rng.int(2 ** 31 - 1), width: 1 },
          { name: 'context:hour', rows: 24, width: 2 },
          { name: 'context:missing', rows: 3, width: 1 },
          {
            name: 'user:recent>item:genres',
            rows: 9,
            width: 3,
            derived: { sequence: 'user:recent', through: 'item:genres' },
          },
        ],
      };
      const values: FeatureValues = {
        'user:recent': Array.from({ length: rng.int(7) }, () => (rng.int(3) ? FIRST_INDEX + rng.int(N) : id())),
        'user:id': id(),
        'context:hour': rng.int(2) ? String(rng.int(30)) : 'night',
        'context:temp': rng.int(40) - 10,
      };
      const picked = Array.from({ length: rows }, () => rng.int(N));
      const S = sparseWidth(c);
      const Nd = Math.max(1, c.denseFeatures.length);
      const [dense, sparse] = [new Float32Array(rows * Nd), new Int32Array(rows * S).fill(-7)];
      const [denseRef, sparseRef] = [new Float32Array(rows * Nd), new Int32Array(rows * S).fill(-7)];
      rankingInputs(m, c, picked, values, dense, sparse);
      rankingInputsPerValue(m, c, picked, values, denseRef, sparseRef);
      expect(Array.from(sparse), `trial ${trial}`).toEqual(Array.from(sparseRef));
      expect(Array.from(dense), `trial ${trial}`).toEqual(Array.from(denseRef));
    }
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
