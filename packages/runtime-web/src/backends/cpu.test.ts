// The CPU backend's user tower (userTowerReference of @vireo/models) honours the bundle's
// `causal` flag: the engine parity test checks WebGPU against it, this checks the flag matters.
// packInt64, the ranker's int64 inputs, against a BigInt per value.
import { describe, expect, it } from 'vitest';
import { FIRST_INDEX } from '@vireo/core';
import { testRng } from '@vireo/kernels';
import { retrievalParamLayout, userTowerReference } from '@vireo/models';
import { fixtureRetrievalConfig } from '@vireo/testkit/fixture';
import { packInt64 } from './cpu.ts';

describe('userTowerReference with causal self-attention', () => {
  const base = { ...fixtureRetrievalConfig(), historyItemFields: false };
  const rng = testRng(17);
  const params = rng.uniform(retrievalParamLayout(base).length, -0.4, 0.4);
  const table = rng.uniform(base.tableRows * base.fieldDim, -0.5, 0.5);
  const fields = [FIRST_INDEX + 1, FIRST_INDEX + 2];
  const user = (causal: boolean, history: number[]) =>
    Array.from(userTowerReference({ ...base, causal }, params, table, fields, history));

  it('changes the user vector of a history of several events, and not of one event', () => {
    const three = [FIRST_INDEX + 3, FIRST_INDEX + 5, FIRST_INDEX + 8];
    const a = user(true, three);
    const b = user(false, three);
    expect(Math.max(...a.map((x, i) => Math.abs(x - b[i])))).toBeGreaterThan(1e-3);
    expect(user(true, [FIRST_INDEX + 3])).toEqual(user(false, [FIRST_INDEX + 3]));
  });

  it('with lastOutput, reads h at the newest position: changing that slot of fc1 moves the vector', () => {
    const c = { ...base, causal: true, lastOutput: true };
    const layout = retrievalParamLayout(c);
    const p = rng.uniform(layout.length, -0.4, 0.4);
    const fc1 = layout.byName.get('user.fc1.weight')!;
    const K = fc1.shape[1];
    expect(K).toBe((c.userFields.length + 3) * c.fieldDim); // fields, pooled, last item, last output
    const history = [FIRST_INDEX + 3, FIRST_INDEX + 5];
    const before = userTowerReference(c, p, table, fields, history);
    for (let h = 0; h < fc1.shape[0]; h++) p[fc1.offset + h * K + K - 1] += 0.5; // the slot's last column
    const after = userTowerReference(c, p, table, fields, history);
    expect(Math.max(...Array.from(after, (x, i) => Math.abs(x - before[i])))).toBeGreaterThan(1e-3);
  });
});

describe('packInt64: int32 ids as ONNX int64 through int32 word pairs', () => {
  it('equals a BigInt per value on random rows (negative, zero, large and extreme ids)', () => {
    const rng = testRng(29);
    const id = () =>
      [() => rng.int(100), () => rng.int(2 ** 31), () => -rng.int(2 ** 31), () => 2 ** 31 - 1, () => -(2 ** 31)][
        rng.int(5)
      ]();
    for (let trial = 0; trial < 50; trial++) {
      const n = 1 + rng.int(40);
      const widths = Array.from({ length: 1 + rng.int(4) }, () => 1 + rng.int(5));
      const S = widths.reduce((a, b) => a + b, 0);
      const sparse = Int32Array.from({ length: n * S }, id);
      let slot = 0;
      for (const width of widths) {
        // Packed at an offset into a larger, dirty array: the words past n·width stay as they were.
        const backing = new BigInt64Array(n * width + 3).fill(-5n);
        const out = backing.subarray(1);
        packInt64(sparse, S, slot, width, n, out);
        const want = Array.from({ length: n * width }, (_, j) =>
          BigInt(sparse[Math.floor(j / width) * S + slot + (j % width)]),
        );
        expect(Array.from(out.subarray(0, n * width)), `trial ${trial} slot ${slot}`).toEqual(want);
        expect([backing[0], backing[n * width + 1], backing[n * width + 2]]).toEqual([-5n, -5n, -5n]);
        slot += width;
      }
    }
  });

  it('refuses an output too small for the rows', () => {
    expect(() => packInt64(new Int32Array(6), 3, 0, 2, 3, new BigInt64Array(5))).toThrow(/5 values, 3·2 needed/);
  });
});
