// AdamW's CPU reference against hand-derived values (it is the definition the GPU is checked
// against, so it is pinned to PyTorch's AdamW formulas here).
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../kernel.ts';
import { adamParams, adamReference } from './adam.ts';

describe('AdamW CPU reference', () => {
  it('first step moves each parameter by ≈ lr·sign(g) after decoupled decay', () => {
    const grad = Float64Array.of(0.5, -2, 0);
    const param = Float64Array.of(1, 1, 1);
    const zeros = new Float64Array(3);
    const o = { lr: 0.1, weightDecay: 0.01, step: 1 };
    const r = adamReference(grad, param, zeros, zeros, 0, 3, o);
    const decayed = 1 * (1 - 0.1 * 0.01);
    // m̂ = g, v̂ = g²  ⇒  update = lr·g/(|g| + eps)
    expect(r.param[0]).toBeCloseTo(decayed - 0.1 * (0.5 / (0.5 + 1e-8)), 14);
    expect(r.param[1]).toBeCloseTo(decayed + 0.1 * (2 / (2 + 1e-8)), 14);
    expect(r.param[2]).toBeCloseTo(decayed, 14);
    expect(r.m[1]).toBeCloseTo(0.1 * -2, 14);
    expect(r.v[1]).toBeCloseTo(0.001 * 4, 14);
    expect(Array.from(param)).toEqual([1, 1, 1]); // inputs untouched
  });

  it('updates only the range and uses bias corrections of step t', () => {
    const n = 6;
    const grad = new Float64Array(n).fill(1);
    const param = new Float64Array(n).fill(0);
    const m = new Float64Array(n).fill(0.5);
    const v = new Float64Array(n).fill(0.25);
    const r = adamReference(grad, param, m, v, 2, 3, { lr: 1, beta1: 0.5, beta2: 0.5, eps: 0, step: 2 });
    // m = 0.5·0.5 + 0.5·1 = 0.75, v = 0.5·0.25 + 0.5 = 0.625, m̂ = 0.75/0.75 = 1, v̂ = 0.625/0.75
    expect(Array.from(r.param)).toEqual([0, 0, ...Array(3).fill(-1 / Math.sqrt(0.625 / 0.75)), 0]);
    expect(r.m[1]).toBe(0.5);
    expect(r.m[2]).toBe(0.75);
    expect(adamParams(0, 1, { lr: 1, step: 3 }).bc2).toBeCloseTo(1 - 0.999 ** 3, 15);
  });

  it('rejects bad ranges and steps with a ShapeError naming them', () => {
    const a = new Float32Array(4);
    expect(() => adamReference(a, a, a, a, 2, 3, { lr: 1, step: 1 })).toThrow(/range offset=2 count=3/);
    expect(() => adamReference(a, a, a, a, 0, 4, { lr: 1, step: 0 })).toThrow(ShapeError);
    expect(() => adamReference(new Float32Array(3), a, a, a, 0, 4, { lr: 1, step: 1 })).toThrow(/grad has 3 values/);
  });
});
