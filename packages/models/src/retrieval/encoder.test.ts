// The history encoder's transformer blocks (docs/ARCHITECTURE.md §4): the GPU user tower against the CPU reference on
// fresh random weights and histories (0, 1 and 2 blocks), and one training step's gradients of every block parameter
// and of history table rows against central differences of the CPU reference's loss in float64.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIRST_INDEX } from '@vireo/core';
import { Gpu, softmaxXentReference, testRng } from '@vireo/kernels';
import { itemTowerReference, userTowerReference } from './reference.ts';
import { ItemEntryCache, retrievalParamLayout, type RetrievalConfig } from './retrieval.ts';
import { RetrievalTraining } from './step.ts';
import { RetrievalWeights, UserTower } from './towers.ts';

const N = 20; // items
const USERS = 6;
const HOURS = 24;

/** A small model: W 8, 2 heads, L 5, the item tower's id and category, user id and hour, with `blocks`. */
function config(blocks: number): RetrievalConfig {
  const L = 5;
  let next = 0;
  const take = (name: string, rows: number, kind: 'categorical' | 'position' | 'label' = 'categorical') => {
    const f = { name, kind, offset: next, rows, width: 1 };
    next += rows;
    return f;
  };
  const itemFields = [take('item:id', N + FIRST_INDEX), take('item:category', 4 + FIRST_INDEX)];
  const userFields = [take('user:id', USERS + FIRST_INDEX), take('context:hour', HOURS + FIRST_INDEX)];
  const position = take('position', L, 'position');
  const label = take('history:label', 2, 'label');
  return {
    fieldDim: 8,
    embeddingDim: 8,
    historyLength: L,
    heads: 2,
    itemHidden: 8,
    userHidden: 16,
    temperature: 0.1,
    tableRows: next,
    itemFields,
    userFields,
    position,
    label,
    historyItemFields: false,
    lastItem: true,
    causal: true,
    lastOutput: true,
    ...(blocks > 0 ? { blocks, ffnHidden: 12 } : {}),
  };
}

/** Random weights: every dense value in ±0.4, layer norms' gamma in 1 ± 0.3, table rows in ±0.5. */
function randomWeights(c: RetrievalConfig, seed: number): { params: Float32Array; table: Float32Array } {
  const rng = testRng(seed);
  const layout = retrievalParamLayout(c);
  const params = rng.uniform(layout.length, -0.4, 0.4);
  for (const e of layout.entries)
    if (e.name.endsWith('.gamma')) for (let i = 0; i < e.size; i++) params[e.offset + i] += 1;
  return { params, table: rng.uniform(c.tableRows * c.fieldDim, -0.5, 0.5) };
}

/**
 * The same model with the history's own item:id rows (historyId) appended to the table; with `fields`, history
 * positions also read the items' category rows (historyItemFields), shared with the item tower.
 */
function withHistoryRows(c: RetrievalConfig, fields = false): RetrievalConfig {
  const rows = N + FIRST_INDEX;
  const historyId = { name: 'history:item:id', kind: 'categorical' as const, offset: c.tableRows, rows, width: 1 };
  return { ...c, tableRows: c.tableRows + rows, historyId, historyItemFields: fields };
}

/** Model variants by their history rows: the item tower's, their own, their own beside the items' other fields. */
type Rows = 'shared' | 'own' | 'own+fields';
const variant = (c: RetrievalConfig, rows: Rows) => (rows === 'shared' ? c : withHistoryRows(c, rows === 'own+fields'));

const itemValues = (row: number) => [row + FIRST_INDEX, FIRST_INDEX + (row % 4)];

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

describe('bundles from before blocks', () => {
  it('a config without `blocks` lays out the same tensors as before, and `blocks: 0` is the same model', () => {
    const c = config(0);
    expect('blocks' in c).toBe(false);
    expect(retrievalParamLayout(c).entries.map((e) => e.name)).toEqual([
      'item.fc1.weight',
      'item.fc1.bias',
      'item.fc2.weight',
      'item.fc2.bias',
      'history.q.weight',
      'history.k.weight',
      'history.v.weight',
      'history.out.weight',
      'history.out.bias',
      'history.pool.key.weight',
      'history.pool.query',
      'user.fc1.weight',
      'user.fc1.bias',
      'user.fc2.weight',
      'user.fc2.bias',
    ]);
    const { params, table } = randomWeights(c, 2);
    const history = [FIRST_INDEX + 3, FIRST_INDEX + 7, FIRST_INDEX + 1];
    const fields = [FIRST_INDEX + 1, FIRST_INDEX + 5];
    expect(userTowerReference({ ...c, blocks: 0 }, params, table, fields, history)).toEqual(
      userTowerReference(c, params, table, fields, history),
    );
  });
});

describe('the history encoder on the GPU against the CPU reference', () => {
  it.each<[number, Rows]>([
    [0, 'shared'],
    [1, 'shared'],
    [2, 'shared'],
    [1, 'own'],
    [1, 'own+fields'],
  ])('%i blocks, %s history rows: user vectors within 1e-5 on random weights and histories', async (blocks, rows) => {
    const c = variant(config(blocks), rows);
    const entries = c.historyItemFields ? new ItemEntryCache(c, (row, f) => itemValues(row)[f]).append : undefined;
    const { params, table } = randomWeights(c, 11 + blocks);
    const weights = RetrievalWeights.create(gpu, c);
    gpu.write(weights.params, params);
    gpu.write(weights.table, table);
    expect(retrievalParamLayout(c).byName.has('history.1.ffn2.weight')).toBe(blocks === 2);
    const B = 4;
    const itemFeatures = c.historyItemFields ? (row: number, f: number) => itemValues(row)[f] : undefined;
    const user = await UserTower.create(gpu, weights, { maxBatch: B, itemFeatures });
    const rng = testRng(5 + blocks);
    // Histories of 1..8 items (longer than L = 5: the window), user ids and hours.
    const users = Array.from({ length: B }, (_, b) => ({
      fields: [FIRST_INDEX + rng.int(USERS), FIRST_INDEX + rng.int(HOURS)],
      history: Array.from({ length: 1 + ((b * 3 + rng.int(3)) % 8) }, () => FIRST_INDEX + rng.int(N)),
    }));
    user.set(B, (b) => users[b]);
    gpu.run((pass) => user.encode(pass));
    const out = await gpu.readF32(user.act.out.buffer, B * c.embeddingDim);
    let worst = 0;
    for (let b = 0; b < B; b++) {
      const ref = userTowerReference(c, params, table, users[b].fields, users[b].history, entries);
      for (let d = 0; d < c.embeddingDim; d++) worst = Math.max(worst, Math.abs(out[b * c.embeddingDim + d] - ref[d]));
    }
    // Unit vectors from float32 sums of a few hundred terms on either side: ~1e-6 apart.
    expect(worst).toBeLessThan(1e-5);
    if (c.historyId) {
      // The user tower reads the history's own rows: new item-tower item:id rows leave its vectors as they were.
      const other = table.slice();
      const item = c.itemFields[0];
      other.fill(0.3, item.offset * c.fieldDim, (item.offset + item.rows) * c.fieldDim);
      const u = users[0];
      expect(userTowerReference(c, params, other, u.fields, u.history, entries)).toEqual(
        userTowerReference(c, params, table, u.fields, u.history, entries),
      );
      // The category rows (shared with the item tower) move it only when positions read the items' other fields.
      const category = c.itemFields[1];
      other.fill(0.3, category.offset * c.fieldDim, (category.offset + category.rows) * c.fieldDim);
      const before = userTowerReference(c, params, table, u.fields, u.history, entries);
      const after = userTowerReference(c, params, other, u.fields, u.history, entries);
      expect(Array.from(after).some((x, d) => x !== before[d])).toBe(c.historyItemFields);
    }
    user.destroy();
    weights.destroy();
  });
});

describe('the transformer blocks backward', () => {
  it.each<Rows>(['shared', 'own', 'own+fields'])(
    "one step's gradients of block tensors and history rows match float64 central differences (%s history rows)",
    async (rowsOf) => {
      const c = variant(config(2), rowsOf);
      const entries = c.historyItemFields ? new ItemEntryCache(c, (row, f) => itemValues(row)[f]).append : undefined;
      const B = 8;
      const w = randomWeights(c, 3);
      const hyper = { lr: 0.001, tableLr: 0.05, weightDecay: 0, temperature: c.temperature };
      const tr = await RetrievalTraining.create(gpu, c, B, hyper, (row, f) => itemValues(row)[f]);
      const rng = testRng(9);
      const rows = Array.from({ length: B }, (_, b) => (b * 7 + 3) % N); // distinct items: no accidental hits
      const users = Array.from({ length: B }, (_, b) => ({
        fields: [FIRST_INDEX + (b % USERS), FIRST_INDEX + rng.int(HOURS)],
        history: Array.from({ length: 2 + (b % 6) }, () => FIRST_INDEX + rng.int(N)),
      }));
      const logq = Float32Array.from(rows, (r) => -Math.log(N) + 0.1 * Math.sin(r));
      const ids = Uint32Array.from(rows);
      tr.item.set(B, (b, f) => itemValues(rows[b])[f]);
      tr.setUsers(B, (b) => users[b]);
      gpu.write(tr.weights.params, w.params);
      gpu.write(tr.weights.table, w.table);
      tr.run({ logq, ids });
      const loss = await tr.readLoss();
      const grads = await tr.readGrads();
      const tg = tr.tableGradients();
      const gradRowIds = Array.from(await gpu.readU32(tg.rows, tg.count));
      const W = c.fieldDim;
      const tableGrad = await gpu.readF32(tg.gradRows, tg.count * W);
      // The step's loss, on the CPU in float64: the in-batch softmax (τ, logQ) over u·vᵀ, mean over the batch.
      const D = c.embeddingDim;
      const cpuLoss = (params: Float64Array, table: Float64Array) => {
        const u = users.map((x) => userTowerReference(c, params, table, x.fields, x.history, entries));
        const v = rows.map((r) => itemTowerReference(c, params, table, itemValues(r)));
        const scores = new Float64Array(B * B);
        for (let i = 0; i < B; i++)
          for (let j = 0; j < B; j++) for (let d = 0; d < D; d++) scores[i * B + j] += u[i][d] * v[j][d];
        return softmaxXentReference(scores, logq, ids, B, c.temperature).loss.reduce((s, x) => s + x, 0) / B;
      };
      const p64 = Float64Array.from(w.params);
      const t64 = Float64Array.from(w.table);
      expect(Math.abs(cpuLoss(p64, t64) - loss)).toBeLessThan(1e-5);
      const layout = retrievalParamLayout(c);
      type Check = { what: string; grad: number; bump: (p: Float64Array, t: Float64Array, e: number) => void };
      const checks: Check[] = [];
      for (const e of layout.entries) {
        if (!e.name.startsWith('history.') || e.name.startsWith('history.pool')) continue;
        const i = (checks.length * 7 + 1) % e.size; // one entry of each tensor, spread over their rows
        const at = e.offset + i;
        checks.push({ what: `${e.name}[${i}]`, grad: grads[at], bump: (p, _t, x) => void (p[at] += x) });
      }
      // Recency rows feed only the history encoder's input x: their gradient is what the blocks pass back.
      for (let j = 0; j < c.historyLength; j++) {
        const row = c.position.offset + j;
        const r = gradRowIds.indexOf(row);
        expect(r, `position row ${j} has a gradient`).toBeGreaterThanOrEqual(0);
        for (const d of [j + 1])
          checks.push({
            what: `position[${j}, ${d}]`,
            grad: tableGrad[r * W + d],
            bump: (_p, t, x) => void (t[row * W + d] += x),
          });
      }
      if (c.historyId) {
        // The history's own rows take the gradient of the history and the last item; the item tower's item:id rows
        // only that of the batch's items.
        const own = users.flatMap((x) => x.history.slice(-c.historyLength)).map((v) => c.historyId!.offset + v);
        for (const row of [...new Set(own)].slice(0, 4)) {
          const r = gradRowIds.indexOf(row);
          expect(r, `history row ${row} has a gradient`).toBeGreaterThanOrEqual(0);
          checks.push({
            what: `history:item:id[${row}, 2]`,
            grad: tableGrad[r * W + 2],
            bump: (_p, t, x) => void (t[row * W + 2] += x),
          });
        }
        const item = c.itemFields[0];
        const itemRows = gradRowIds.filter((row) => row >= item.offset && row < item.offset + item.rows);
        expect(itemRows.sort((a, b) => a - b)).toEqual(
          [...new Set(rows.map((r) => item.offset + r + FIRST_INDEX))].sort((a, b) => a - b),
        );
      }
      const eps = 1e-5;
      let worst = 0;
      for (const k of checks) {
        const up = [p64.slice(), t64.slice()] as const;
        k.bump(up[0], up[1], eps);
        const down = [p64.slice(), t64.slice()] as const;
        k.bump(down[0], down[1], -eps);
        const fd = (cpuLoss(...up) - cpuLoss(...down)) / (2 * eps);
        // float32 forward and backward on the GPU against float64 differences: ~1e-6 absolute.
        const err = Math.abs(fd - k.grad) / (2e-5 + 1e-3 * Math.abs(fd));
        worst = Math.max(worst, err);
        expect(err, `${k.what}: step ${k.grad}, central difference ${fd}`).toBeLessThan(1);
      }
      expect(checks.filter((k) => Math.abs(k.grad) > 1e-3).length).toBeGreaterThan(checks.length / 2); // not zeros
      tr.destroy();
    },
  );
});
