// attention's CPU references: masking and padding behaviour, and the backward against float64
// central finite differences of the forward (gradCheck).
import { describe, expect, it } from 'vitest';
import {
  attentionBackwardReference,
  attentionParams,
  attentionPoolBackwardReference,
  attentionPoolReference,
  attentionReference,
} from './attention.ts';
import { ShapeError } from '../kernel.ts';
import { gradCheck, testRng } from '../testing.ts';

const f64 = (a: Float32Array) => Float64Array.from(a);

describe('attention reference (forward)', () => {
  it('with one valid key returns that value row, and zeros past the length', () => {
    const [B, L, D, H] = [1, 3, 4, 2];
    const rng = testRng(1);
    const q = rng.uniform(B * L * D),
      k = rng.uniform(B * L * D),
      v = rng.uniform(B * L * D);
    const out = attentionReference(q, k, v, [1], B, L, D, H);
    expect(Array.from(out.subarray(0, D))).toEqual(Array.from(v.subarray(0, D)));
    expect(Array.from(out.subarray(D))).toEqual(new Array(2 * D).fill(0));
  });

  it('gives zeros, not NaN, for a row with no valid key', () => {
    const [B, L, D, H] = [2, 4, 6, 3];
    const rng = testRng(2);
    const [q, k, v] = [0, 1, 2].map(() => rng.uniform(B * L * D));
    const out = attentionReference(q, k, v, [0, 4], B, L, D, H);
    expect(Array.from(out.subarray(0, L * D)).every((x) => x === 0)).toBe(true);
    const pooled = attentionPoolReference(rng.uniform(D), k, v, [0, 2], B, L, D, H);
    expect(Array.from(pooled.subarray(0, D)).every((x) => x === 0)).toBe(true);
    expect(Array.from(pooled).every(Number.isFinite)).toBe(true);
  });

  it('ignores padded keys and values entirely', () => {
    const [B, L, D, H] = [2, 5, 4, 1];
    const rng = testRng(3);
    const [q, k, v] = [0, 1, 2].map(() => rng.uniform(B * L * D));
    const lengths = [3, 5];
    const before = attentionReference(q, k, v, lengths, B, L, D, H);
    const k2 = k.slice(),
      v2 = v.slice();
    for (let j = 3; j < L; j++)
      for (let d = 0; d < D; d++) {
        k2[j * D + d] = 100;
        v2[j * D + d] = -100;
      }
    expect(attentionReference(q, k2, v2, lengths, B, L, D, H)).toEqual(before);
  });

  it('pooling equals self-attention whose every query row is the learned query', () => {
    const [B, L, D, H] = [3, 6, 8, 2];
    const rng = testRng(4);
    const query = rng.uniform(D),
      k = rng.uniform(B * L * D),
      v = rng.uniform(B * L * D);
    const lengths = [6, 1, 4];
    const q = new Float32Array(B * L * D);
    for (let r = 0; r < B * L; r++) q.set(query, r * D);
    const self = attentionReference(q, k, v, lengths, B, L, D, H);
    const pooled = attentionPoolReference(query, k, v, lengths, B, L, D, H);
    for (let b = 0; b < B; b++) {
      expect(Array.from(pooled.subarray(b * D, (b + 1) * D))).toEqual(
        Array.from(self.subarray(b * L * D, b * L * D + D)),
      );
    }
  });

  it('causal: row i is unchanged by any later key or value, and row 0 is its own value', () => {
    const [B, L, D, H] = [2, 6, 8, 2];
    const rng = testRng(6);
    const [q, k, v] = [0, 1, 2].map(() => rng.uniform(B * L * D));
    const lengths = [6, 4];
    const before = attentionReference(q, k, v, lengths, B, L, D, H, true);
    for (let b = 0; b < B; b++) {
      expect(Array.from(before.subarray(b * L * D, b * L * D + D))).toEqual(
        Array.from(v.subarray(b * L * D, b * L * D + D)),
      );
    }
    // change keys and values from position 3 on: rows 0..2 stay bit-identical, row 3 moves
    const k2 = k.slice(),
      v2 = v.slice();
    for (let b = 0; b < B; b++) for (let i = (b * L + 3) * D; i < (b + 1) * L * D; i++) k2[i] = v2[i] = 7;
    const after = attentionReference(q, k2, v2, lengths, B, L, D, H, true);
    for (let b = 0; b < B; b++) {
      const row = (i: number, a: Float32Array) => Array.from(a.subarray((b * L + i) * D, (b * L + i + 1) * D));
      for (let i = 0; i < 3; i++) expect(row(i, after)).toEqual(row(i, before));
      expect(row(3, after)).not.toEqual(row(3, before));
    }
    // the last valid row sees every valid key: it equals the bidirectional output's
    const full = attentionReference(q, k, v, lengths, B, L, D, H);
    expect(Array.from(before.subarray(5 * D, 6 * D))).toEqual(Array.from(full.subarray(5 * D, 6 * D)));
  });

  it('keeps the input type: float64 in, float64 out', () => {
    const rng = testRng(5);
    const [q, k, v] = [0, 1, 2].map(() => f64(rng.uniform(2 * 3 * 4)));
    expect(attentionReference(q, k, v, [2, 3], 2, 3, 4, 2)).toBeInstanceOf(Float64Array);
    expect(attentionReference(Float32Array.from(q), k, v, [2, 3], 2, 3, 4, 2)).toBeInstanceOf(Float32Array);
  });

  it('throws a ShapeError naming the wrong argument', () => {
    const a = new Float32Array(2 * 3 * 4);
    expect(() => attentionReference(a, a, a, [1, 4], 2, 3, 4, 2)).toThrow(/lengths\[1\] = 4/);
    expect(() => attentionReference(a, a, a, [1, 2], 2, 3, 4, 3)).toThrow(ShapeError);
    expect(() => attentionPoolReference(new Float32Array(3), a, a, [1, 2], 2, 3, 4, 2)).toThrow(/query has 3 values/);
    expect(() => attentionParams(2, 3, 4, 2, true, true)).toThrow(/pooling .* cannot be causal/);
  });
});

describe('attention reference (backward) against finite differences', () => {
  // Float64 central differences with eps = 1e-6 on O(1) inputs: truncation ~eps² and rounding
  // ~1e-16/eps = 1e-10, so atol 1e-7, rtol 1e-5 leaves a wide margin while catching any real bug.
  const tol = { atol: 1e-7, rtol: 1e-5 };

  it.each([
    [1, 1, 1, 1, [1]],
    [2, 5, 6, 2, [3, 5]],
    [3, 4, 6, 3, [0, 4, 1]],
    [2, 7, 4, 1, [7, 2]],
  ] as const)('self-attention B=%i L=%i D=%i H=%i lengths %j: dq, dk, dv', (B, L, D, H, lengths) => {
    const rng = testRng(11 + B * L);
    const inputs = [0, 1, 2].map(() => f64(rng.uniform(B * L * D, -1.5, 1.5)));
    const r = gradCheck(
      ([q, k, v]) => attentionReference(q, k, v, lengths, B, L, D, H),
      ([q, k, v], dy) => {
        const g = attentionBackwardReference(q, k, v, lengths, dy, B, L, D, H);
        return [g.dq, g.dk, g.dv];
      },
      inputs,
      { ...tol, maxPerInput: 96 },
    );
    expect(r.worst, r.detail).toBeLessThanOrEqual(1);
  });

  it.each([
    [1, 1, 1, 1, [1]],
    [2, 5, 6, 2, [3, 5]],
    [3, 4, 6, 3, [0, 4, 1]],
  ] as const)('causal self-attention B=%i L=%i D=%i H=%i lengths %j: dq, dk, dv', (B, L, D, H, lengths) => {
    const rng = testRng(41 + B * L);
    const inputs = [0, 1, 2].map(() => f64(rng.uniform(B * L * D, -1.5, 1.5)));
    const r = gradCheck(
      ([q, k, v]) => attentionReference(q, k, v, lengths, B, L, D, H, true),
      ([q, k, v], dy) => {
        const g = attentionBackwardReference(q, k, v, lengths, dy, B, L, D, H, true);
        return [g.dq, g.dk, g.dv];
      },
      inputs,
      { ...tol, maxPerInput: 96 },
    );
    expect(r.worst, r.detail).toBeLessThanOrEqual(1);
  });

  it.each([
    [1, 1, 1, 1, [1]],
    [3, 5, 6, 2, [3, 0, 5]],
    [4, 6, 8, 4, [6, 1, 2, 5]],
  ] as const)('pooling B=%i L=%i D=%i H=%i lengths %j: dquery (summed over B), dk, dv', (B, L, D, H, lengths) => {
    const rng = testRng(23 + B * L);
    const inputs = [
      f64(rng.uniform(D, -1.5, 1.5)),
      f64(rng.uniform(B * L * D, -1.5, 1.5)),
      f64(rng.uniform(B * L * D, -1.5, 1.5)),
    ];
    const r = gradCheck(
      ([query, k, v]) => attentionPoolReference(query, k, v, lengths, B, L, D, H),
      ([query, k, v], dy) => {
        const g = attentionPoolBackwardReference(query, k, v, lengths, dy, B, L, D, H);
        return [g.dquery, g.dk, g.dv];
      },
      inputs,
      { ...tol, maxPerInput: 200 },
    );
    expect(r.worst, r.detail).toBeLessThanOrEqual(1);
  });

  it('gives zero gradients to padded positions', () => {
    const [B, L, D, H] = [1, 4, 4, 2];
    const rng = testRng(31);
    const [q, k, v, dout] = [0, 1, 2, 3].map(() => rng.uniform(B * L * D));
    const g = attentionBackwardReference(q, k, v, [2], dout, B, L, D, H);
    for (const a of [g.dq, g.dk, g.dv]) {
      expect(Array.from(a.subarray(2 * D)).every((x) => x === 0)).toBe(true);
      expect(Array.from(a.subarray(0, 2 * D)).some((x) => x !== 0)).toBe(true);
    }
  });
});
