// Row-wise Adagrad's CPU reference against hand-derived values, and its argument checks.
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../kernel.ts';
import { rowwiseAdagradReference } from './rowwise_adagrad.ts';

describe('row-wise Adagrad CPU reference', () => {
  it('updates only the given rows with one accumulator each', () => {
    const D = 2;
    const table = Float64Array.of(1, 1, 2, 2, 3, 3);
    const acc = Float64Array.of(0, 1, 0);
    const r = rowwiseAdagradReference(Uint32Array.of(2, 1), Float64Array.of(3, 4, 1, 1), table, acc, D, {
      lr: 0.5,
      eps: 0,
    });
    // row 2: acc = 0 + (9 + 16)/2 = 12.5; row 1: acc = 1 + (1 + 1)/2 = 2
    expect(Array.from(r.acc)).toEqual([0, 2, 12.5]);
    expect(Array.from(r.table.subarray(0, 2))).toEqual([1, 1]);
    expect(r.table[2]).toBeCloseTo(2 - 0.5 / Math.sqrt(2), 14);
    expect(r.table[4]).toBeCloseTo(3 - (0.5 * 3) / Math.sqrt(12.5), 14);
    expect(r.table[5]).toBeCloseTo(3 - (0.5 * 4) / Math.sqrt(12.5), 14);
  });

  it('rejects repeated ids, ids outside the table and wrong shapes, naming the argument', () => {
    const table = new Float32Array(6);
    const acc = new Float32Array(3);
    expect(() => rowwiseAdagradReference(Uint32Array.of(1, 1), new Float32Array(4), table, acc, 2, { lr: 1 })).toThrow(
      /ids\[1\] = 1 repeats/,
    );
    expect(() => rowwiseAdagradReference(Uint32Array.of(3), new Float32Array(2), table, acc, 2, { lr: 1 })).toThrow(
      /ids\[0\] = 3 is outside the table/,
    );
    expect(() => rowwiseAdagradReference(Uint32Array.of(0), new Float32Array(3), table, acc, 2, { lr: 1 })).toThrow(
      /grad has 3 values/,
    );
    expect(() =>
      rowwiseAdagradReference(Uint32Array.of(0), new Float32Array(2), table, new Float32Array(2), 2, { lr: 1 }),
    ).toThrow(ShapeError);
  });
});
