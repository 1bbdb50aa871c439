// The CPU backend's user tower (userTowerReference of @vireo/models) honours the bundle's
// `causal` flag: the engine parity test checks WebGPU against it, this checks the flag matters.
import { describe, expect, it } from 'vitest';
import { FIRST_INDEX } from '@vireo/core';
import { testRng } from '@vireo/kernels';
import { retrievalParamLayout, userTowerReference } from '@vireo/models';
import { fixtureRetrievalConfig } from '@vireo/testkit/fixture';

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
