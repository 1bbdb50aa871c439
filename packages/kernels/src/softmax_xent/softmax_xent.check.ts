import { testRng } from '../testing.ts';
import { inBatchSoftmaxBackwardReference, inBatchSoftmaxReference } from '../softmax_xent/softmax_xent.ts';
import { softmaxXentGrads } from '../softmax_xent/softmax_xent.op.ts';
import type { KernelCheck } from '../check.ts';
import { worstOf } from '../check.ts';

// Logits reach |u·v|/τ + |logq| ≈ 30 with τ = 0.05; a float32 dot of D = 128 terms is off by
// ~1e-6·|u||v|/τ there, a few 1e-6 of the loss's scale (≈ log B): within 1e-5.
const XENT_TOL = 1e-5;
const xentCases: [number, number, boolean?][] = [
  [1, 1],
  [2, 3],
  [7, 5],
  [64, 16],
  [97, 33],
  [130, 128],
  [512, 64, true],
];

/** Unit rows (the towers end in l2norm), logQ of random sampling probabilities, ids with some repeats. */
function xentInputs(B: number, D: number, seed: number) {
  const rng = testRng(seed);
  const unitRows = (a: Float32Array) => {
    for (let i = 0; i < B; i++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += a[i * D + d] ** 2;
      for (let d = 0; d < D; d++) a[i * D + d] /= Math.sqrt(s) || 1;
    }
    return a;
  };
  const u = unitRows(rng.uniform(B * D));
  const v = unitRows(rng.uniform(B * D));
  const logq = Float32Array.from(rng.uniform(B, 1e-4, 1e-2), Math.log);
  const ids = Uint32Array.from({ length: B }, () => rng.int(Math.max(2, B)));
  return { u, v, logq, ids, tau: 0.05 + 0.15 * rng.next() };
}

export const softmaxXentChecks: KernelCheck[] = xentCases.map(([B, D, large]) => ({
  kernel: 'softmax_xent',
  case: `B=${B} D=${D} forward+backward`,
  tolerance: XENT_TOL,
  large,
  async run(gpu, seed) {
    const { u, v, logq, ids, tau } = xentInputs(B, D, seed);
    const got = await softmaxXentGrads(gpu, u, v, logq, ids, B, D, tau, 1 / B);
    const want = inBatchSoftmaxReference(u, v, logq, ids, B, D, tau);
    const wantGrad = inBatchSoftmaxBackwardReference(u, v, logq, ids, B, D, tau, 1 / B);
    // lse and loss = lse − target logit are computed from logits u·v/τ − logq of size up to
    // 1/τ + max|logq| (unit rows), and either can cancel to near 0 (seed 56502658 at B=1 D=1: u·v/τ
    // and logq nearly equal gave lse 0.019, off by 2.6e-7), so both are measured against that size.
    const logitScale = 1 / tau + Math.max(...Array.from(logq, Math.abs));
    // du = (1/B)·Σ_j (p_ij − y_ij)·v_j / τ (dv likewise with u): the terms, of size
    // max|v|/(B·τ), cancel when the probabilities are near their targets (small B, a peaked
    // softmax), so the gradients' rounding is measured against that size.
    const maxAbs = (a: Float32Array) => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    const duScale = maxAbs(v) / (B * tau);
    const dvScale = maxAbs(u) / (B * tau);
    return worstOf({
      loss: [got.loss, want.loss, logitScale],
      lse: [got.lse, want.lse, logitScale],
      du: [got.du, wantGrad.du, duScale],
      dv: [got.dv, wantGrad.dv, dvScale],
    });
  },
}));
