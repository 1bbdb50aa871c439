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
});
