import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attentionBackwardReference,
  attentionPoolBackwardReference,
  attentionPoolReference,
  attentionReference,
} from './attention.ts';
import { maxRelError, testRng } from '../testing.ts';
import { ShapeError } from '../kernel.ts';
import { Gpu } from '../gpu/index.ts';
import {
  AttentionPoolOp,
  attention,
  attentionBackward,
  attentionPool,
  attentionPoolBackward,
  SelfAttentionOp,
} from './attention.op.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

const TOL = 1e-5; // as in attention.check.ts

describe('attention bad input', () => {
  const rows = new Float32Array(2 * 3 * 4);
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    [
      'q of the wrong size',
      () => attention(gpu, new Float32Array(5), rows, rows, [1, 2], 2, 3, 4, 2),
      /q has 5 values, expected B·L·D = 2·3·4 = 24/,
    ],
    [
      'k of the wrong size',
      () => attention(gpu, rows, new Float32Array(23), rows, [1, 2], 2, 3, 4, 2),
      /k has 23 values/,
    ],
    [
      'v of the wrong size',
      () => attention(gpu, rows, rows, new Float32Array(25), [1, 2], 2, 3, 4, 2),
      /v has 25 values/,
    ],
    [
      'D not a multiple of H',
      () => attention(gpu, rows, rows, rows, [1, 2], 2, 3, 4, 3),
      /D = 4 is not a multiple of H = 3/,
    ],
    [
      'a fractional dimension',
      () => attention(gpu, rows, rows, rows, [1, 2], 2, 3.5, 4, 2),
      /L must be a positive integer/,
    ],
    [
      'lengths of the wrong size',
      () => attention(gpu, rows, rows, rows, [1], 2, 3, 4, 2),
      /lengths has 1 values, expected B = 2/,
    ],
    [
      'a length past L',
      () => attention(gpu, rows, rows, rows, [1, 4], 2, 3, 4, 2),
      /lengths\[1\] = 4 is outside 0..L = 0..3/,
    ],
    ['a negative length', () => attention(gpu, rows, rows, rows, [-1, 2], 2, 3, 4, 2), /lengths\[0\] = -1/],
    [
      'backward: dout of the wrong size',
      () => attentionBackward(gpu, rows, rows, rows, [1, 2], new Float32Array(8), 2, 3, 4, 2),
      /dout has 8 values/,
    ],
    [
      'pool: query of the wrong size',
      () => attentionPool(gpu, new Float32Array(3), rows, rows, [1, 2], 2, 3, 4, 2),
      /query has 3 values, expected D = 4/,
    ],
    [
      'pool: k of the wrong size',
      () => attentionPool(gpu, new Float32Array(4), new Float32Array(4), rows, [1, 2], 2, 3, 4, 2),
      /k has 4 values/,
    ],
    [
      'pool backward: dpooled of the wrong size',
      () => attentionPoolBackward(gpu, new Float32Array(4), rows, rows, [1, 2], new Float32Array(24), 2, 3, 4, 2),
      /dpooled has 24 values, expected B·D = 8/,
    ],
  ];
  it.each(cases)('%s → ShapeError', async (_name, call, message) => {
    const err = await call().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as Error).message).toMatch(message);
  });

  it('bound ops name a buffer that is too small or missing, and a batch too large', async () => {
    const small = gpu.buffer('test:small', 16);
    const big = gpu.buffer('test:big', 4 * 4 * 8 * 4);
    const shape = { B: 4, L: 4, D: 8, H: 2 };
    const bad = (p: Promise<unknown>) =>
      p.then(
        () => null,
        (e: unknown) => e as Error,
      );
    let err = await bad(SelfAttentionOp.create(gpu, shape, { q: big, k: small, v: big, lengths: big, out: big }));
    expect(err).toBeInstanceOf(ShapeError);
    expect(err?.message).toMatch(/buffer 'k' holds 16 bytes, needs 512/);
    err = await bad(SelfAttentionOp.create(gpu, shape, { q: big, k: big, v: big, lengths: big, out: big, dq: big }));
    expect(err?.message).toMatch(/give all of dout, dq, dk, dv for the backward, or none \(got dq\)/);
    err = await bad(AttentionPoolOp.create(gpu, shape, { query: big, k: big, v: big, lengths: big, pooled: small }));
    expect(err?.message).toMatch(/buffer 'pooled' holds 16 bytes, needs 128/);
    const op = await SelfAttentionOp.create(gpu, shape, { q: big, k: big, v: big, lengths: big, out: big });
    expect(() => gpu.run((pass) => op.encodeForward(pass, 5))).toThrow(/batch 5 is outside 1..4/);
    expect(() => gpu.run((pass) => op.encodeBackward(pass))).toThrow(/has no backward/);
    op.destroy();
    small.destroy();
    big.destroy();
  });
});

describe('attention', () => {
  it('gives zeros, not NaN, for rows with no valid key, and zero gradients there', async () => {
    const [B, L, D, H] = [3, 5, 8, 2];
    const rng = testRng(4);
    const [q, k, v, dout] = [0, 1, 2, 3].map(() => rng.uniform(B * L * D));
    // NaN in padded positions must not leak: they are never read into a result
    for (const a of [k, v]) a.fill(NaN, 0, L * D);
    const lengths = [0, 5, 2];
    const out = await attention(gpu, q, k, v, lengths, B, L, D, H);
    expect(Array.from(out.subarray(0, L * D)).every((x) => x === 0)).toBe(true);
    expect(Array.from(out).every(Number.isFinite)).toBe(true);
    const g = await attentionBackward(gpu, q, k, v, lengths, dout, B, L, D, H);
    for (const a of [g.dq, g.dk, g.dv]) {
      expect(Array.from(a.subarray(0, L * D)).every((x) => x === 0)).toBe(true);
      expect(Array.from(a).every(Number.isFinite)).toBe(true);
    }
    const pooled = await attentionPool(gpu, rng.uniform(D), k, v, lengths, B, L, D, H);
    expect(Array.from(pooled.subarray(0, D)).every((x) => x === 0)).toBe(true);
    expect(Array.from(pooled).every(Number.isFinite)).toBe(true);
  });

  it('is deterministic: the same inputs give bit-identical gradients, d(query) included', async () => {
    const [B, L, D, H] = [300, 9, 16, 4];
    const rng = testRng(5);
    const [k, v] = [0, 1].map(() => rng.uniform(B * L * D));
    const query = rng.uniform(D);
    const dpooled = rng.uniform(B * D);
    const lengths = Array.from({ length: B }, () => rng.int(L + 1));
    const a = await attentionPoolBackward(gpu, query, k, v, lengths, dpooled, B, L, D, H);
    const b = await attentionPoolBackward(gpu, query, k, v, lengths, dpooled, B, L, D, H);
    expect(new Uint32Array(a.dquery.buffer)).toEqual(new Uint32Array(b.dquery.buffer));
    expect(new Uint32Array(a.dk.buffer)).toEqual(new Uint32Array(b.dk.buffer));
    const want = attentionPoolBackwardReference(query, k, v, lengths, dpooled, B, L, D, H);
    expect(maxRelError(a.dquery, want.dquery)).toBeLessThanOrEqual(TOL);
  });

  it('bound ops run forward and backward over batches smaller than they were made for', async () => {
    const [maxB, L, D, H] = [12, 6, 12, 3];
    const rng = testRng(6);
    const n = maxB * L * D;
    const [q, k, v, dout] = [0, 1, 2, 3].map(() => rng.uniform(n));
    const query = rng.uniform(D);
    const dpooled = rng.uniform(maxB * D);
    const lengths = Array.from({ length: maxB }, () => rng.int(L + 1));
    const up = (name: string, a: Float32Array | Uint32Array) => gpu.upload(`test:${name}`, a);
    const buf = {
      q: up('q', q),
      k: up('k', k),
      v: up('v', v),
      dout: up('dout', dout),
      lengths: up('lengths', Uint32Array.from(lengths)),
      out: gpu.buffer('test:out', n * 4),
      dq: gpu.buffer('test:dq', n * 4),
      dk: gpu.buffer('test:dk', n * 4),
      dv: gpu.buffer('test:dv', n * 4),
      query: up('query', query),
      dpooled: up('dpooled', dpooled),
      pooled: gpu.buffer('test:pooled', maxB * D * 4),
      dquery: gpu.buffer('test:dquery', D * 4),
    };
    const shape = { B: maxB, L, D, H };
    const self = await SelfAttentionOp.create(gpu, shape, buf);
    const pool = await AttentionPoolOp.create(gpu, shape, { ...buf, k: buf.out, v: buf.out });
    for (const B of [maxB, 1, 7]) {
      const m = B * L * D;
      const [qB, kB, vB, doB] = [q, k, v, dout].map((a) => a.subarray(0, m));
      const lB = lengths.slice(0, B);
      gpu.run((pass) => {
        self.encodeForward(pass, B);
        pool.encodeForward(pass, B); // pools the self-attention output, as the user tower does
      });
      const out = await gpu.readF32(buf.out, m);
      expect(maxRelError(out, attentionReference(qB, kB, vB, lB, B, L, D, H))).toBeLessThanOrEqual(TOL);
      const pooled = await gpu.readF32(buf.pooled, B * D);
      expect(maxRelError(pooled, attentionPoolReference(query, out, out, lB, B, L, D, H))).toBeLessThanOrEqual(TOL);
      gpu.run((pass) => self.encodeBackward(pass, B));
      const want = attentionBackwardReference(qB, kB, vB, lB, doB, B, L, D, H);
      expect(maxRelError(await gpu.readF32(buf.dq, m), want.dq)).toBeLessThanOrEqual(TOL);
      expect(maxRelError(await gpu.readF32(buf.dk, m), want.dk)).toBeLessThanOrEqual(TOL);
      expect(maxRelError(await gpu.readF32(buf.dv, m), want.dv)).toBeLessThanOrEqual(TOL);
    }
    self.destroy();
    pool.destroy();
    for (const b of Object.values(buf)) b.destroy();
  });
});
