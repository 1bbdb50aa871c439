// topk against its CPU references: float32 items (exact ids), int8 items (exact ids against the
// bit-exact int8 reference, and recall@k against float32 on random unit vectors).
import { TOPK_NONE, quantizeItems, topkInt8Reference, topkRecall, topkReference, type TopkResult } from './topk.ts';
import { describeMismatch, maxRelError, testRng } from '../testing.ts';
import { topk, topkInt8 } from './topk.op.ts';
import type { CheckResult, KernelCheck } from '../check.ts';

// Scores: float32 sums of D products against a float64 reference, relative to the output's
// scale; 1e-5 as every float32 kernel. Ids must match exactly (see the input kinds below).
const TOL = 1e-5;
// int8: 1 − recall@k against the float32 top-k on random unit vectors. The int8 rounding of the
// items moves scores by ~0.6% of their spread, so a few items trade places at the k-th rank.
const RECALL_TOL = 0.01;

type Rng = ReturnType<typeof testRng>;

/**
 * Inputs whose dot products are exact in float32 (multiples of 1/4 in [−1, 1]: every partial sum
 * is a multiple of 1/16 far below 2^24), so the GPU's scores equal the reference's bit for bit
 * whatever its summation order, and ids can be compared exactly; the few score values also make
 * ties common, which exercises the lower-index rule and the index levels of the radix select.
 */
function dyadic(rng: Rng, n: number, levels = 4): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng.int(2 * levels + 1) - levels) / 4;
  return a;
}

/** Random directions (Gaussian rows, normalised). */
function unitRows(rng: Rng, rows: number, D: number): Float32Array {
  const a = new Float32Array(rows * D);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let d = 0; d < D; d++) {
      const g = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
      a[r * D + d] = g;
      s += g * g;
    }
    for (let d = 0; d < D; d++) a[r * D + d] /= Math.sqrt(s) || 1;
  }
  return a;
}

/** Up to `most` random exclusions per query (duplicates allowed, as callers may send them). */
function randomExclusions(rng: Rng, B: number, N: number, most: number): { ids: Uint32Array; offsets: Uint32Array } {
  const offsets = new Uint32Array(B + 1);
  const ids: number[] = [];
  for (let b = 0; b < B; b++) {
    const n = rng.int(most + 1);
    for (let e = 0; e < n; e++) ids.push(rng.int(N));
    offsets[b + 1] = ids.length;
  }
  return { ids: Uint32Array.from(ids), offsets };
}

/** Exact ids (NONE places included), then the scale-relative error of the real places' scores. */
function compareExact(got: TopkResult, want: TopkResult<Float32Array | Float64Array>, k: number): CheckResult {
  for (let j = 0; j < want.ids.length; j++) {
    if (got.ids[j] !== want.ids[j]) {
      const b = Math.floor(j / k);
      return {
        error: 1,
        detail:
          `query ${b} place ${j % k}: id ${got.ids[j]} (score ` +
          `${got.scores[j]}) vs reference ${want.ids[j]} (score ${want.scores[j]})`,
      };
    }
  }
  const real = [...want.ids.keys()].filter((j) => want.ids[j] !== TOPK_NONE);
  const g = real.map((j) => got.scores[j]);
  const w = real.map((j) => want.scores[j]);
  const padded = want.ids.length - real.length;
  const padOk = [...want.ids.keys()].every((j) => want.ids[j] !== TOPK_NONE || got.scores[j] === -Infinity);
  if (!padOk) return { error: 1, detail: 'a padded place (id NONE) has a score other than −inf' };
  return {
    error: maxRelError(g, w),
    detail: `${real.length} ids exact (${padded} padded); scores ${describeMismatch(g, w)}`,
  };
}

interface Case {
  name: string;
  B: number;
  N: number;
  D: number;
  k: number;
  kind: 'f32' | 'int8';
  /** Most exclusions per query (0: none). */
  exclude?: number;
  chunkRows?: number;
  /** Score levels of the dyadic inputs (fewer: more ties). */
  levels?: number;
  large?: boolean;
}

const cases: Case[] = [
  { name: 'B=1 N=1 D=1 k=1', B: 1, N: 1, D: 1, k: 1, kind: 'f32' },
  { name: 'B=2 N=7 D=3 k=N', B: 2, N: 7, D: 3, k: 7, kind: 'f32' },
  { name: 'B=3 N=257 D=16 k=13 excl', B: 3, N: 257, D: 16, k: 13, kind: 'f32', exclude: 40 },
  { name: 'B=2 N=1031 D=3 k=100 excl', B: 2, N: 1031, D: 3, k: 100, kind: 'f32', exclude: 200 },
  { name: 'B=2 N=40 D=8 k=N excl (padded)', B: 2, N: 40, D: 8, k: 40, kind: 'f32', exclude: 12 },
  { name: 'B=2 N=2003 D=2 k=500 ties', B: 2, N: 2003, D: 2, k: 500, kind: 'f32', levels: 1 },
  { name: 'B=2 N=3001 D=64 k=2048 excl', B: 2, N: 3001, D: 64, k: 2048, kind: 'f32', exclude: 300 },
  {
    name: 'B=3 N=5003 D=128 k=100 excl, chunks of 1237',
    B: 3,
    N: 5003,
    D: 128,
    k: 100,
    kind: 'f32',
    exclude: 200,
    chunkRows: 1237,
  },
  {
    name: 'B=2 N=100000 D=128 k=1000 excl',
    B: 2,
    N: 100_000,
    D: 128,
    k: 1000,
    kind: 'f32',
    exclude: 2000,
    large: true,
  },
  { name: 'int8 B=1 N=1 D=1 k=1', B: 1, N: 1, D: 1, k: 1, kind: 'int8' },
  { name: 'int8 B=3 N=1009 D=20 k=50 excl', B: 3, N: 1009, D: 20, k: 50, kind: 'int8', exclude: 100 },
  {
    name: 'int8 B=2 N=3001 D=128 k=300 excl, chunks of 1000',
    B: 2,
    N: 3001,
    D: 128,
    k: 300,
    kind: 'int8',
    exclude: 400,
    chunkRows: 1000,
  },
];

const exactChecks: KernelCheck[] = cases.map((c) => ({
  kernel: 'topk',
  case: c.name,
  tolerance: TOL,
  large: c.large,
  async run(gpu, seed): Promise<CheckResult> {
    const rng = testRng(seed);
    const { B, N, D, k } = c;
    const exclude = c.exclude ? randomExclusions(rng, B, N, c.exclude) : null;
    if (c.kind === 'f32') {
      const queries = dyadic(rng, B * D, c.levels);
      const items = dyadic(rng, N * D, c.levels);
      const got = await topk(gpu, queries, items, B, N, D, k, exclude, c.chunkRows);
      return compareExact(got, topkReference(queries, items, B, N, D, k, exclude), k);
    }
    // int8: the reference reproduces the GPU's integer arithmetic and final float32 product.
    const queries = rng.uniform(B * D);
    const items = quantizeItems(rng.uniform(N * D), N, D);
    const got = await topkInt8(gpu, queries, items, B, N, D, k, exclude, c.chunkRows);
    return compareExact(got, topkInt8Reference(queries, items, B, N, D, k, exclude), k);
  },
}));

/**
 * Continuous random inputs: the GPU's float32 sums may order two items whose exact scores differ
 * by less than its rounding differently from the float64 reference, so at each place the id must
 * be the reference's or one whose exact score is within TOL (scale-relative) of the reference's
 * score at that place; ids distinct, scores within TOL.
 */
const nearTieCheck: KernelCheck = {
  kernel: 'topk',
  case: 'B=4 N=4099 D=128 k=500 unit vectors excl (near-ties allowed)',
  tolerance: TOL,
  async run(gpu, seed) {
    const rng = testRng(seed);
    const [B, N, D, k] = [4, 4099, 128, 500];
    const queries = unitRows(rng, B, D);
    const items = unitRows(rng, N, D);
    const exclude = randomExclusions(rng, B, N, 300);
    const got = await topk(gpu, queries, items, B, N, D, k, exclude);
    const want = topkReference(queries, items, B, N, D, k, exclude);
    const exact = (b: number, i: number) => {
      let s = 0;
      for (let d = 0; d < D; d++) s += queries[b * D + d] * items[i * D + d];
      return s;
    };
    let scale = 0;
    for (const s of want.scores) scale = Math.max(scale, Math.abs(s));
    let swaps = 0;
    let worst = 0;
    for (let b = 0; b < B; b++) {
      const excluded = new Set(Array.from(exclude.ids.subarray(exclude.offsets[b], exclude.offsets[b + 1])));
      const seen = new Set<number>();
      for (let j = 0; j < k; j++) {
        const id = got.ids[b * k + j];
        if (id >= N || excluded.has(id) || seen.has(id))
          return { error: 1, detail: `query ${b} place ${j}: id ${id} is outside, excluded or repeated` };
        seen.add(id);
        const s = exact(b, id);
        worst = Math.max(worst, Math.abs(got.scores[b * k + j] - s) / scale);
        if (id !== want.ids[b * k + j]) {
          swaps++;
          const gap = Math.abs(s - want.scores[b * k + j]) / scale;
          if (gap > TOL)
            return {
              error: 1,
              detail:
                `query ${b} place ${j}: id ${id} (exact score ${s}) vs reference ` +
                `${want.ids[b * k + j]} (${want.scores[b * k + j]}): not a near-tie`,
            };
        }
      }
    }
    return {
      error: worst,
      detail:
        `${B * k - swaps} of ${B * k} ids exact, ${swaps} ` +
        `near-tie swaps; max score error ${worst.toExponential(2)}`,
    };
  },
};

/**
 * int8 items against the float32 top-k on random unit vectors: recall@k (in the detail; the
 * ops test prints it — a check itself writes nothing, as `vireo doctor --json` owns stdout).
 */
export const topkRecallCheck: KernelCheck = {
  kernel: 'topk',
  case: 'int8 recall@1000 vs float32, B=4 N=20000 D=128 unit vectors',
  tolerance: RECALL_TOL,
  async run(gpu, seed) {
    const rng = testRng(seed);
    const [B, N, D, k] = [4, 20_000, 128, 1000];
    const queries = unitRows(rng, B, D);
    const items = unitRows(rng, N, D);
    const int8 = quantizeItems(items, N, D);
    const got = await topkInt8(gpu, queries, int8, B, N, D, k);
    const exact = compareExact(got, topkInt8Reference(queries, int8, B, N, D, k), k);
    if (exact.error > TOL) return { error: 1, detail: `int8 GPU vs int8 reference: ${exact.detail}` };
    const recall = topkRecall(got.ids, topkReference(queries, items, B, N, D, k).ids, B, k);
    return { error: 1 - recall, detail: `recall@${k} = ${recall.toFixed(4)}; ids match the int8 reference exactly` };
  },
};

export const topkChecks: KernelCheck[] = [...exactChecks, nearTieCheck, topkRecallCheck];
