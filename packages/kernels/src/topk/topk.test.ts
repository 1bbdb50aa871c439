// topk's CPU side: the references (the definition of "correct"), the quantizers, the layout the
// score kernels read, and the shape checks. The GPU against these: topk.check.ts.
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../kernel.ts';
import { testRng } from '../testing.ts';
import {
  TOPK_NONE,
  TOPK_ROW_BLOCK,
  checkTopk,
  exclusionsFromLists,
  interleaveRows,
  quantizeItems,
  quantizeQuery,
  roundHalfEven,
  topkInt8Reference,
  topkLevels,
  topkRecall,
  topkReference,
} from './topk.ts';

describe('topkReference', () => {
  // items (N=6, D=2); query (1, 1): scores 3, 1, 3, -2, 3, 0
  const items = new Float32Array([1, 2, 0, 1, 2, 1, -1, -1, 3, 0, 0, 0]);
  const query = new Float32Array([1, 1]);

  it('orders by score, ties by the lower index', () => {
    const r = topkReference(query, items, 1, 6, 2, 6);
    expect(Array.from(r.ids)).toEqual([0, 2, 4, 1, 5, 3]);
    expect(Array.from(r.scores)).toEqual([3, 3, 3, 1, 0, -2]);
  });

  it('never returns excluded items and pads with NONE / −inf when too few remain', () => {
    const r = topkReference(query, items, 1, 6, 2, 6, exclusionsFromLists([[2, 5, 2]]));
    expect(Array.from(r.ids)).toEqual([0, 4, 1, 3, TOPK_NONE, TOPK_NONE]);
    expect(Array.from(r.scores)).toEqual([3, 3, 1, -2, -Infinity, -Infinity]);
  });

  it('handles several queries with their own exclusions', () => {
    const q = new Float32Array([1, 1, -1, 0]); // second query: scores -1, 0, -2, 1, -3, 0
    const r = topkReference(q, items, 2, 6, 2, 2, exclusionsFromLists([[0], [3]]));
    expect(Array.from(r.ids)).toEqual([2, 4, 1, 5]);
  });

  it('ranks NaN below every number and −0 equal to +0', () => {
    const it2 = new Float32Array([NaN, -0, 0, -Infinity]); // D = 1
    const r = topkReference(new Float32Array([1]), it2, 1, 4, 1, 4);
    expect(Array.from(r.ids)).toEqual([1, 2, 3, 0]);
  });

  it('returns float64 scores for float64 queries, float32 for float32', () => {
    expect(topkReference(query, items, 1, 6, 2, 1).scores).toBeInstanceOf(Float32Array);
    expect(topkReference(Float64Array.from(query), items, 1, 6, 2, 1).scores).toBeInstanceOf(Float64Array);
  });

  it('agrees with a full sort on random inputs with many ties', () => {
    const rng = testRng(11);
    const [B, N, D, k] = [3, 500, 4, 123];
    const q = Float32Array.from({ length: B * D }, () => rng.int(3) - 1);
    const x = Float32Array.from({ length: N * D }, () => rng.int(3) - 1);
    const r = topkReference(q, x, B, N, D, k);
    for (let b = 0; b < B; b++) {
      const s = Array.from({ length: N }, (_, i) => [0, 1, 2, 3].reduce((a, d) => a + q[b * D + d] * x[i * D + d], 0));
      const order = [...s.keys()].sort((i, j) => s[j] - s[i] || i - j).slice(0, k);
      expect(Array.from(r.ids.subarray(b * k, (b + 1) * k))).toEqual(order);
    }
  });
});

describe('checkTopk', () => {
  const q = new Float32Array(8);
  const shape = (f: () => void, what: RegExp) => {
    expect(f).toThrow(ShapeError);
    expect(f).toThrow(what);
  };
  it('names the wrong argument', () => {
    shape(() => checkTopk(q, 40, 2, 10, 4, 11), /k = 11 is larger than N = 10/);
    shape(() => checkTopk(q, 40, 2, 10, 4, 0), /k must be a positive integer/);
    shape(() => checkTopk(q, 40, 2, 10, 5, 3), /queries has 8 values, expected B·D/);
    shape(() => checkTopk(q, 44, 2, 10, 4, 3), /items has 44 values, expected N·D/);
    shape(
      () => checkTopk(q, 40, 2, 10, 4, 3, { ids: [1, 10], offsets: [0, 1, 2] }),
      /exclude\.ids\[1\] = 10 is not an item/,
    );
    shape(
      () => checkTopk(q, 40, 2, 10, 4, 3, { ids: [1], offsets: [0, 1] }),
      /exclude\.offsets has 2 values, expected B\+1 = 3/,
    );
    shape(
      () => checkTopk(q, 40, 2, 10, 4, 3, { ids: [1, 2], offsets: [0, 2, 1] }),
      /exclude\.offsets\[2\] = 1 is less than/,
    );
    shape(
      () => checkTopk(q, 40, 2, 10, 4, 3, { ids: [1, 2], offsets: [0, 1, 1] }),
      /exclude\.offsets\[B\] is 1, expected exclude\.ids\.length = 2/,
    );
  });
});

describe('quantizers', () => {
  it('roundHalfEven is WGSL round()', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6].map(roundHalfEven)).toEqual([0, 2, 2, 0, -2, 2, -3]);
  });

  it('quantizeItems: per-row max-abs scale, codes within half a step', () => {
    const rng = testRng(3);
    const [N, D] = [50, 37];
    const x = rng.uniform(N * D);
    x.fill(0, 7 * D, 8 * D); // an all-zero row
    const { values, scales } = quantizeItems(x, N, D);
    expect(scales[7]).toBe(0);
    for (let i = 0; i < N; i++) {
      let m = 0;
      for (let d = 0; d < D; d++) m = Math.max(m, Math.abs(values[i * D + d]));
      if (i !== 7) expect(m).toBe(127);
      for (let d = 0; d < D; d++)
        expect(Math.abs(values[i * D + d] * scales[i] - x[i * D + d])).toBeLessThanOrEqual(scales[i] * 0.5 + 1e-7);
    }
  });

  it('quantizeQuery: power-of-two scale, hi ∈ ±127, lo ∈ ±64, error ≤ scale/2', () => {
    const rng = testRng(5);
    for (const range of [1e-3, 0.3, 1, 127, 128, 5e4]) {
      const q = rng.uniform(64, -range, range);
      const { hi, lo, scale } = quantizeQuery(q, 64);
      expect(Number.isInteger(Math.log2(scale))).toBe(true);
      const m = Math.max(...Array.from(q, Math.abs));
      expect(m).toBeLessThanOrEqual(127 * 128 * scale); // 2^e = 128·scale is the smallest with max ≤ 127·2^e
      expect(m).toBeGreaterThan(127 * 64 * scale);
      for (let d = 0; d < 64; d++) {
        expect(Math.abs(hi[d])).toBeLessThanOrEqual(127);
        expect(Math.abs(lo[d])).toBeLessThanOrEqual(64);
        expect(Math.abs(scale * (128 * hi[d] + lo[d]) - q[d])).toBeLessThanOrEqual(scale / 2);
      }
    }
    expect(quantizeQuery(new Float32Array(4), 4).scale).toBe(0);
  });

  it('int8 reference equals the float reference when quantization is exact', () => {
    const rng = testRng(9);
    const [B, N, D, k] = [2, 300, 12, 40];
    // codes in ±127 with power-of-two scales, queries with max exactly 127: nothing is rounded
    const values = Int8Array.from({ length: N * D }, () => rng.int(255) - 127);
    const scales = Float32Array.from({ length: N }, () => 2 ** (rng.int(5) - 2));
    const q = Float32Array.from({ length: B * D }, () => rng.int(255) - 127);
    q[0] = 127;
    q[D] = -127;
    const dequant = Float32Array.from(values, (v, j) => v * scales[Math.floor(j / D)]);
    const exclude = exclusionsFromLists([[1, 2, 3], [299]]);
    const a = topkInt8Reference(q, { values, scales }, B, N, D, k, exclude);
    const b = topkReference(q, dequant, B, N, D, k, exclude);
    expect(Array.from(a.ids)).toEqual(Array.from(b.ids));
    expect(Array.from(a.scores)).toEqual(Array.from(b.scores));
  });
});

describe('layout and plan', () => {
  it('interleaveRows puts word j of row i at ((i / 64)·R + j)·64 + i % 64', () => {
    const [rows, D] = [130, 6]; // f32: R = 2 words, the second half padding
    const R = 2;
    const x = Float32Array.from({ length: rows * D }, (_, j) => j + 1);
    const dst = new Uint32Array(Math.ceil(rows / TOPK_ROW_BLOCK) * R * TOPK_ROW_BLOCK * 4);
    interleaveRows(new Uint8Array(x.buffer), rows, D * 4, R, dst);
    const out = new Float32Array(dst.buffer);
    for (const i of [0, 63, 64, 129]) {
      for (let d = 0; d < 8; d++) {
        const w = (Math.floor(i / 64) * R + (d >> 2)) * 64 + (i % 64);
        expect(out[w * 4 + (d & 3)]).toBe(d < D ? x[i * D + d] : 0);
      }
    }
  });

  it('interleaveRows pads int8 rows whose length is not a multiple of 4', () => {
    const values = Int8Array.from({ length: 3 * 5 }, (_, j) => j - 7); // 3 rows of D = 5, R = 1
    const dst = new Uint32Array(TOPK_ROW_BLOCK * 4);
    interleaveRows(new Uint8Array(values.buffer, values.byteOffset, values.length), 3, 5, 1, dst);
    const bytes = new Int8Array(dst.buffer);
    expect(Array.from(bytes.subarray(2 * 16, 2 * 16 + 8))).toEqual([3, 4, 5, 6, 7, 0, 0, 0]);
  });

  it('topkLevels: 4 score levels, then one per 8 index bits', () => {
    expect(topkLevels(1)).toEqual({ indexBits: 8, levels: 5 });
    expect(topkLevels(256)).toEqual({ indexBits: 8, levels: 5 });
    expect(topkLevels(257)).toEqual({ indexBits: 16, levels: 6 });
    expect(topkLevels(1_000_000)).toEqual({ indexBits: 24, levels: 7 });
    expect(topkLevels(2 ** 24 + 1)).toEqual({ indexBits: 32, levels: 8 });
  });

  it('topkRecall counts the reference ids found, ignoring NONE places', () => {
    const want = new Uint32Array([1, 2, 3, TOPK_NONE]);
    expect(topkRecall(new Uint32Array([3, 9, 1, 2]), want, 1, 4)).toBe(1);
    expect(topkRecall(new Uint32Array([3, 9, 8, 7]), want, 1, 4)).toBeCloseTo(1 / 3);
  });
});
