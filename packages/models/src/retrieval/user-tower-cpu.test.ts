// The CPU backend's user tower (CpuUserTower) against userTowerReference, its specification, on fresh random weights
// and histories: W 16 / 32, 0 / 1 / 2 blocks, causal or not, with and without the last item, the last output and the
// history's own rows, histories empty, short, full and longer than L (with PAD and out-of-vocabulary ids).
import { describe, expect, it } from 'vitest';
import { FIRST_INDEX, PAD_INDEX } from '@vireo/core';
import { testRng } from '@vireo/kernels';
import { userTowerReference } from './reference.ts';
import { ItemEntryCache, retrievalParamLayout, type RetrievalConfig, type RetrievalFieldKind } from './retrieval.ts';
import { CpuUserTower } from './user-tower-cpu.ts';

const N = 50; // items
const L = 8;

interface Options {
  W: number;
  blocks: number;
  causal: boolean;
  lastItem: boolean;
  lastOutput: boolean;
  historyRows: boolean;
  historyItemFields?: boolean;
}

function config(o: Options): RetrievalConfig {
  let next = 0;
  const take = (name: string, rows: number, kind: RetrievalFieldKind = 'categorical', width = 1) => {
    const f = { name, kind, offset: next, rows, width };
    next += rows;
    return f;
  };
  const itemFields = [take('item:id', N + FIRST_INDEX), take('item:category', 5 + FIRST_INDEX)];
  const userFields = [take('user:id', 10 + FIRST_INDEX), take('user:tags', 6 + FIRST_INDEX, 'multi_hot', 3)];
  const position = take('position', L, 'position');
  const label = take('history:label', 2, 'label');
  const historyId = o.historyRows ? take('history:item:id', N + FIRST_INDEX) : undefined;
  return {
    fieldDim: o.W,
    embeddingDim: 14, // widths past a multiple of 4: the columns past the last tile of four
    historyLength: L,
    heads: 2,
    itemHidden: 16,
    userHidden: 22,
    temperature: 0.1,
    tableRows: next,
    itemFields,
    userFields,
    position,
    label,
    historyItemFields: o.historyItemFields ?? false,
    lastItem: o.lastItem,
    causal: o.causal,
    lastOutput: o.lastOutput,
    ...(historyId ? { historyId } : {}),
    ...(o.blocks > 0 ? { blocks: o.blocks, ffnHidden: 10 } : {}),
  };
}

const histories = (rng: ReturnType<typeof testRng>): number[][] => [
  [],
  [FIRST_INDEX + rng.int(N)],
  Array.from({ length: 3 }, () => FIRST_INDEX + rng.int(N)),
  Array.from({ length: L }, () => FIRST_INDEX + rng.int(N)),
  // longer than L, with PAD gaps and an id past the vocabulary (its OOV row)
  [...Array.from({ length: L + 4 }, () => FIRST_INDEX + rng.int(N)), PAD_INDEX, N + FIRST_INDEX + 7, PAD_INDEX],
];

function compare(o: Options, seed: number): number {
  const c = config(o);
  const rng = testRng(seed);
  const layout = retrievalParamLayout(c);
  const params = rng.uniform(layout.length, -0.4, 0.4);
  for (const e of layout.entries)
    if (e.name.endsWith('.gamma')) for (let i = 0; i < e.size; i++) params[e.offset + i] += 1;
  const table = rng.uniform(c.tableRows * c.fieldDim, -0.5, 0.5);
  const entries = o.historyItemFields
    ? new ItemEntryCache(c, (row, j) => (j === 0 ? row + FIRST_INDEX : FIRST_INDEX + (row % 5))).append
    : undefined;
  const tower = new CpuUserTower(c, params, table, entries);
  let worst = 0;
  for (const history of histories(rng)) {
    for (const fields of [
      [FIRST_INDEX + rng.int(10), [FIRST_INDEX + 1, FIRST_INDEX + 4, PAD_INDEX]],
      [null, null],
    ]) {
      const want = userTowerReference(c, params, table, fields, history, entries);
      const got = tower.forward(fields, history);
      expect(got.length).toBe(c.embeddingDim);
      for (let d = 0; d < want.length; d++) worst = Math.max(worst, Math.abs(got[d] - want[d]));
    }
  }
  return worst;
}

describe('CpuUserTower against userTowerReference', () => {
  const cases: Options[] = [];
  for (const W of [16, 32])
    for (const blocks of [0, 1, 2])
      for (const causal of [false, true])
        for (const historyRows of [false, true])
          cases.push({ W, blocks, causal, historyRows, lastItem: causal, lastOutput: causal || historyRows });
  cases.push({ W: 16, blocks: 0, causal: false, historyRows: false, lastItem: true, lastOutput: false });
  cases.push({
    W: 16,
    blocks: 1,
    causal: true,
    historyRows: false,
    lastItem: true,
    lastOutput: true,
    historyItemFields: true,
  });
  // The history's own id rows beside the items' other fields (--history-rows --history-fields).
  cases.push({
    W: 32,
    blocks: 0,
    causal: true,
    historyRows: true,
    lastItem: true,
    lastOutput: true,
    historyItemFields: true,
  });

  it.each(cases.map((o, i) => [JSON.stringify(o), o, i] as const))('agrees within 1e-5: %s', (_, o, i) => {
    expect(compare(o, 100 + i)).toBeLessThan(1e-5);
  });

  it('serves every request afresh: a second user after a longer history gives what the reference gives', () => {
    const o = { W: 32, blocks: 1, causal: true, historyRows: true, lastItem: true, lastOutput: true };
    const c = config(o);
    const rng = testRng(5);
    const params = rng.uniform(retrievalParamLayout(c).length, -0.4, 0.4);
    const table = rng.uniform(c.tableRows * c.fieldDim, -0.5, 0.5);
    const tower = new CpuUserTower(c, params, table);
    const fields = [FIRST_INDEX + 2, [FIRST_INDEX + 3]];
    tower.forward(
      fields,
      Array.from({ length: L }, (_, j) => FIRST_INDEX + j),
    );
    const short = [FIRST_INDEX + 9, FIRST_INDEX + 4];
    const want = userTowerReference(c, params, table, fields, short);
    const got = tower.forward(fields, short);
    expect(Math.max(...Array.from(got, (x, d) => Math.abs(x - want[d])))).toBeLessThan(1e-5);
  });
});
