import { testRng } from '../testing.ts';
import { nextItemXentBackwardReference, nextItemXentReference, NO_NEXT_ITEM } from './next_item_xent.ts';
import { nextItemXentGrads } from './next_item_xent.op.ts';
import { worstOf, type KernelCheck } from '../check.ts';

// Logits reach |q·t|/tau + |logq| ≈ 15 here (rows of norm ≈ √(W/3), tau ≥ 0.5); a float32 dot of W ≤ 64 terms is
// off by ~1e-6 of that, and the backward's sums of M ≤ 200 terms by ~M·1e-7 of their scale: within 2e-5.
const TOL = 2e-5;

// [N, W, M, large]: one block, partial last blocks, M = 1 (only the positive), a trainer-sized case
const cases: [number, number, number, boolean?][] = [
  [1, 1, 1],
  [5, 3, 5],
  [13, 7, 4],
  [40, 16, 1],
  [160, 16, 48],
  [2560, 16, 200, true],
];

/** Rows, logQ of sampling probabilities, ids with repeats and about a quarter of rows without a next item. */
function inputs(N: number, W: number, seed: number) {
  const rng = testRng(seed);
  const q = rng.uniform(N * W);
  const t = rng.uniform(N * W);
  const logq = Float32Array.from(rng.uniform(N, 1e-4, 1e-2), Math.log);
  const ids = Uint32Array.from({ length: N }, (_, i) =>
    i > 0 && rng.next() < 0.25 ? NO_NEXT_ITEM : rng.int(Math.max(2, N >> 1)),
  );
  const dqIn = rng.uniform(N * W);
  return { q, t, logq, ids, dqIn, tau: 0.5 + rng.next() };
}

export const nextItemXentChecks: KernelCheck[] = cases.map(([N, W, M, large]) => ({
  kernel: 'next_item_xent',
  case: `N=${N} W=${W} M=${M} forward+backward (dq accumulating)`,
  tolerance: TOL,
  large,
  async run(gpu, seed) {
    const { q, t, logq, ids, dqIn, tau } = inputs(N, W, seed);
    const scale = 1 / N;
    const got = await nextItemXentGrads(gpu, q, t, logq, ids, { N, W, M }, tau, scale, dqIn);
    const want = nextItemXentReference(q, t, logq, ids, N, W, M, tau);
    const ones = new Float32Array(N).fill(1);
    const back = nextItemXentBackwardReference(q, t, logq, ids, ones, N, W, M, tau, scale);
    for (let i = 0; i < back.dq.length; i++) back.dq[i] += dqIn[i];
    return worstOf({
      loss: [got.loss, want.loss],
      lse: [got.lse, want.lse],
      dq: [got.dq, back.dq],
      dt: [got.dt, back.dt, scale],
    });
  },
}));
