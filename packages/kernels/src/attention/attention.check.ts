import {
  attentionBackwardReference,
  attentionPoolBackwardReference,
  attentionPoolReference,
  attentionReference,
} from './attention.ts';
import { describeMismatch, maxRelError, testRng } from '../testing.ts';
import { attention, attentionBackward, attentionPool, attentionPoolBackward } from './attention.op.ts';
import type { CheckResult, KernelCheck } from '../check.ts';

// float32 on the GPU against a float64 reference. Forward: an online max-subtracted softmax and
// sums of ≤ L·Dh products; backward: P recomputed from the saved logsumexp, dS = P·(dP − delta)
// cancelling. Both stay a few float32 ulps of the largest terms: measured ≤ 1.3e-6 of the
// output's scale over these cases (L = 200 the worst), so the standard 1e-5 holds with margin.
const TOL = 1e-5;

interface Case {
  B: number;
  L: number;
  D: number;
  H: number;
  /** Valid lengths per row; default: random in 0..L. */
  lengths?: (B: number, L: number) => number[];
  large?: boolean;
}

const cases: Case[] = [
  { B: 1, L: 1, D: 1, H: 1 },
  { B: 8, L: 7, D: 6, H: 2, lengths: () => [0, 1, 2, 3, 4, 5, 6, 7] },
  { B: 5, L: 13, D: 12, H: 4 },
  { B: 3, L: 29, D: 65, H: 1 }, // Dh = 65: two passes of the accumulator, 87 threads over 2 workgroups
  { B: 2, L: 200, D: 64, H: 1, lengths: () => [200, 131] }, // the longest history, one full 64-wide head
  { B: 2, L: 19, D: 262, H: 2 }, // Dh = 131: three passes of the 64-wide accumulator
  { B: 512, L: 50, D: 64, H: 4, large: true },
];

function inputs(c: Case, seed: number) {
  const rng = testRng(seed);
  const n = c.B * c.L * c.D;
  const lengths = c.lengths?.(c.B, c.L) ?? Array.from({ length: c.B }, () => rng.int(c.L + 1));
  // scores of O(1)·√Dh spread: softmax rows far from uniform, so masking and max-subtraction matter
  return { rng, lengths, q: rng.uniform(n, -2, 2), k: rng.uniform(n, -2, 2), v: rng.uniform(n) };
}

function worstOf(parts: [string, ArrayLike<number>, ArrayLike<number>, number?][]): CheckResult {
  let error = -1;
  let detail = '';
  for (const [name, got, want, atLeastScale] of parts) {
    const e = maxRelError(got, want, atLeastScale);
    if (!(e <= error)) {
      error = e;
      detail = `${name}: ${describeMismatch(got, want)}`;
    }
  }
  return { error, detail };
}

const size = (c: Case) => `B=${c.B} L=${c.L} D=${c.D} H=${c.H}`;
function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

// The gradients through the softmax, dS = P·(dP − Σ P·dP), cancel when a row's weight sits on one
// key (few valid keys, a peaked softmax): dk and dq (dquery) can then be far smaller than the terms
// they are rounded from (seed 2787068073, pool backward at L=19 Dh=131: max |dk| 0.019, off by
// 3.4e-7). They are measured against one key's full weight instead, |dout|·|v|·|q or k|.
const throughSoftmax = (dout: ArrayLike<number>, v: ArrayLike<number>, other: ArrayLike<number>) =>
  maxAbs(dout) * maxAbs(v) * maxAbs(other);

// Causal self-attention: row i sees keys 0..i, so both backward kernels start or stop at the
// diagonal; the same tolerances (the sums are shorter, not different).
const causalCases: Case[] = [
  { B: 1, L: 1, D: 1, H: 1 },
  { B: 8, L: 7, D: 6, H: 2, lengths: () => [0, 1, 2, 3, 4, 5, 6, 7] },
  { B: 5, L: 13, D: 12, H: 4 },
  { B: 2, L: 19, D: 262, H: 2 }, // three accumulator passes
  { B: 256, L: 50, D: 64, H: 4, large: true },
];

const causalChecks: KernelCheck[] = causalCases.flatMap((c): KernelCheck[] => [
  {
    kernel: 'attention',
    case: `causal forward ${size(c)}`,
    tolerance: TOL,
    large: c.large,
    async run(gpu, seed) {
      const { q, k, v, lengths } = inputs(c, seed);
      const got = await attention(gpu, q, k, v, lengths, c.B, c.L, c.D, c.H, true);
      return worstOf([['out', got, attentionReference(q, k, v, lengths, c.B, c.L, c.D, c.H, true)]]);
    },
  },
  {
    kernel: 'attention',
    case: `causal backward ${size(c)}`,
    tolerance: TOL,
    large: c.large,
    async run(gpu, seed) {
      const { rng, q, k, v, lengths } = inputs(c, seed);
      const dout = rng.uniform(c.B * c.L * c.D);
      const got = await attentionBackward(gpu, q, k, v, lengths, dout, c.B, c.L, c.D, c.H, true);
      const want = attentionBackwardReference(q, k, v, lengths, dout, c.B, c.L, c.D, c.H, true);
      return worstOf([
        ['dq', got.dq, want.dq, throughSoftmax(dout, v, k)],
        ['dk', got.dk, want.dk, throughSoftmax(dout, v, q)],
        ['dv', got.dv, want.dv],
      ]);
    },
  },
]);

const bidirectionalChecks: KernelCheck[] = cases.flatMap((c): KernelCheck[] => [
  {
    kernel: 'attention',
    case: `self forward ${size(c)}`,
    tolerance: TOL,
    large: c.large,
    async run(gpu, seed) {
      const { q, k, v, lengths } = inputs(c, seed);
      const got = await attention(gpu, q, k, v, lengths, c.B, c.L, c.D, c.H);
      return worstOf([['out', got, attentionReference(q, k, v, lengths, c.B, c.L, c.D, c.H)]]);
    },
  },
  {
    kernel: 'attention',
    case: `self backward ${size(c)}`,
    tolerance: TOL,
    large: c.large,
    async run(gpu, seed) {
      const { rng, q, k, v, lengths } = inputs(c, seed);
      const dout = rng.uniform(c.B * c.L * c.D);
      const got = await attentionBackward(gpu, q, k, v, lengths, dout, c.B, c.L, c.D, c.H);
      const want = attentionBackwardReference(q, k, v, lengths, dout, c.B, c.L, c.D, c.H);
      return worstOf([
        ['dq', got.dq, want.dq, throughSoftmax(dout, v, k)],
        ['dk', got.dk, want.dk, throughSoftmax(dout, v, q)],
        ['dv', got.dv, want.dv],
      ]);
    },
  },
  {
    kernel: 'attention',
    case: `pool forward ${size(c)}`,
    tolerance: TOL,
    large: c.large,
    async run(gpu, seed) {
      const { rng, k, v, lengths } = inputs(c, seed);
      const query = rng.uniform(c.D, -2, 2);
      const got = await attentionPool(gpu, query, k, v, lengths, c.B, c.L, c.D, c.H);
      return worstOf([['pooled', got, attentionPoolReference(query, k, v, lengths, c.B, c.L, c.D, c.H)]]);
    },
  },
  {
    kernel: 'attention',
    case: `pool backward ${size(c)}`,
    tolerance: TOL,
    large: c.large,
    async run(gpu, seed) {
      const { rng, k, v, lengths } = inputs(c, seed);
      const query = rng.uniform(c.D, -2, 2);
      const dpooled = rng.uniform(c.B * c.D);
      const got = await attentionPoolBackward(gpu, query, k, v, lengths, dpooled, c.B, c.L, c.D, c.H);
      const want = attentionPoolBackwardReference(query, k, v, lengths, dpooled, c.B, c.L, c.D, c.H);
      return worstOf([
        ['dquery', got.dquery, want.dquery, throughSoftmax(dpooled, v, k)],
        ['dk', got.dk, want.dk, throughSoftmax(dpooled, v, query)],
        ['dv', got.dv, want.dv],
      ]);
    },
  },
]);

export const attentionChecks: KernelCheck[] = [...bidirectionalChecks, ...causalChecks];
