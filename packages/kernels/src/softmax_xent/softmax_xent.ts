// softmax_xent: in-batch-negative softmax cross-entropy for two-tower retrieval. The kernels
// work on the score matrix S = U·Vᵀ (linear.forward computes it; linear.backward turns
// G = dL/dS into dU and dV), with CPU references at both levels: the score level (same argument
// order as the kernels) and the tower level (U, V → loss; → dU, dV), which is what the
// trainer's loss means and what the gradient checks differentiate.
import source from './softmax_xent.wgsl?raw';
import { check, defineKernel } from '../kernel.ts';
import { like, type FloatArray } from '../testing.ts';

/**
 * Per-row loss_i = logsumexp_j(logit(i, j)) − logit(i, i) over the unmasked columns, with
 * logit(i, j) = S[i, j]/tau − logq[j]; column j ≠ i is masked when ids[j] == ids[i].
 * scores (B,B), logq (B), ids (B) u32 → loss (B), lse (B). One thread per row.
 */
export const softmaxXentForward = defineKernel({
  name: 'softmax_xent.forward',
  source,
  entryPoint: 'forward',
  bindings: [
    { name: 'scores', kind: 'read' },
    { name: 'logq', kind: 'read' },
    { name: 'ids', kind: 'read' },
    { name: 'loss', kind: 'write' },
    { name: 'lse', kind: 'write' },
  ],
  params: [
    ['B', 'u32'],
    ['tau', 'f32'],
  ],
  overrides: { WG: 64 },
});

/**
 * G = d(scale · Σ_i loss_i)/dS, written over `scores` in place: logq, ids, lse (from the
 * forward) → scores (B,B) ← (P − I)·scale/tau, 0 where masked. One thread per element.
 */
export const softmaxXentBackward = defineKernel({
  name: 'softmax_xent.backward',
  source,
  entryPoint: 'backward',
  bindings: [
    { name: 'logq', kind: 'read' },
    { name: 'ids', kind: 'read' },
    { name: 'lse', kind: 'read' },
    { name: 'scores', kind: 'write' },
  ],
  params: [
    ['B', 'u32'],
    ['tau', 'f32'],
    ['scale', 'f32'],
  ],
  overrides: { WG: 64 },
});

/** Workgroups of softmax_xent.forward (a thread per row) and .backward (a thread per score). */
export const softmaxXentWorkgroups = {
  forward: (B: number, wg = 64) => Math.ceil(B / wg),
  backward: (B: number, wg = 64) => Math.ceil((B * B) / wg),
};

/** Checks the shapes of a tower-level softmax_xent call; throws a ShapeError naming the argument. */
export function checkSoftmaxXent(
  u: ArrayLike<number>,
  v: ArrayLike<number>,
  logq: ArrayLike<number>,
  ids: ArrayLike<number>,
  B: number,
  D: number,
  tau: number,
): void {
  check(Number.isInteger(D) && D > 0, `softmax_xent: D must be a positive integer, got ${D}.`);
  check(u.length === B * D, `softmax_xent: u has ${u.length} values, expected B·D = ${B}·${D} = ${B * D}.`);
  check(v.length === B * D, `softmax_xent: v has ${v.length} values, expected B·D = ${B}·${D} = ${B * D}.`);
  checkSoftmaxXentScores(null, logq, ids, B, tau);
}

/** Checks the shapes of a score-level call (scores may be null: not given yet). */
export function checkSoftmaxXentScores(
  scores: ArrayLike<number> | null,
  logq: ArrayLike<number>,
  ids: ArrayLike<number>,
  B: number,
  tau: number,
): void {
  check(Number.isInteger(B) && B > 0, `softmax_xent: B must be a positive integer, got ${B}.`);
  check(
    scores === null || scores.length === B * B,
    `softmax_xent: scores has ${scores?.length} values, expected B·B = ${B * B}.`,
  );
  check(logq.length === B, `softmax_xent: logq has ${logq.length} values, expected B = ${B}.`);
  check(ids.length === B, `softmax_xent: ids has ${ids.length} values, expected B = ${B}.`);
  check(Number.isFinite(tau) && tau > 0, `softmax_xent: tau must be a positive number, got ${tau}.`);
}

/** Row i's float64 logits into `out` (−Infinity where masked). */
function logitsRow(
  scores: FloatArray,
  logq: FloatArray,
  ids: ArrayLike<number>,
  B: number,
  tau: number,
  i: number,
  out: Float64Array,
): void {
  for (let j = 0; j < B; j++) out[j] = j !== i && ids[j] === ids[i] ? -Infinity : scores[i * B + j] / tau - logq[j];
}

function logSumExp(row: Float64Array): number {
  let m = -Infinity;
  for (const l of row) m = Math.max(m, l);
  let s = 0;
  for (const l of row) s += Math.exp(l - m);
  return m + Math.log(s);
}

/** CPU reference of softmax_xent.forward (score level): per-row loss and lse, in float64. */
export function softmaxXentReference<T extends FloatArray>(
  scores: T,
  logq: FloatArray,
  ids: ArrayLike<number>,
  B: number,
  tau: number,
): { loss: T; lse: T } {
  checkSoftmaxXentScores(scores, logq, ids, B, tau);
  const loss = like(scores, B) as T;
  const lse = like(scores, B) as T;
  const row = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    logitsRow(scores, logq, ids, B, tau, i, row);
    const l = logSumExp(row);
    lse[i] = l;
    loss[i] = l - row[i];
  }
  return { loss, lse };
}

/**
 * CPU reference of softmax_xent.backward (score level): G = d(scale · Σ_i loss_i)/dS, in
 * float64. `lse` from the forward, or null to recompute it in float64.
 */
export function softmaxXentBackwardReference<T extends FloatArray>(
  logq: FloatArray,
  ids: ArrayLike<number>,
  lse: FloatArray | null,
  scores: T,
  B: number,
  tau: number,
  scale: number,
): T {
  checkSoftmaxXentScores(scores, logq, ids, B, tau);
  check(lse === null || lse.length === B, `softmax_xent.backward: lse has ${lse?.length} values, expected B = ${B}.`);
  const grad = like(scores, B * B) as T;
  const row = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    logitsRow(scores, logq, ids, B, tau, i, row);
    const l = lse ? lse[i] : logSumExp(row);
    for (let j = 0; j < B; j++) grad[i * B + j] = (Math.exp(row[j] - l) - (i === j ? 1 : 0)) * (scale / tau);
  }
  return grad;
}

/** S = U·Vᵀ in float64: u (B,D), v (B,D) → (B,B). */
export function inBatchScores<T extends FloatArray>(u: T, v: FloatArray, B: number, D: number): T {
  const s = like(u, B * B) as T;
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < B; j++) {
      let acc = 0;
      for (let d = 0; d < D; d++) acc += u[i * D + d] * v[j * D + d];
      s[i * B + j] = acc;
    }
  }
  return s;
}

/**
 * Tower-level reference: per-row in-batch softmax loss of users u (B,D) against items v (B,D)
 * with temperature tau, logQ correction and the accidental-hit mask; float64.
 * @example const { loss } = inBatchSoftmaxReference(u, v, logq, ids, B, D, 0.05); // mean(loss) is the training loss
 */
export function inBatchSoftmaxReference<T extends FloatArray>(
  u: T,
  v: FloatArray,
  logq: FloatArray,
  ids: ArrayLike<number>,
  B: number,
  D: number,
  tau: number,
): { loss: T; lse: T } {
  checkSoftmaxXent(u, v, logq, ids, B, D, tau);
  const { loss, lse } = softmaxXentReference(inBatchScores(Float64Array.from(u), v, B, D), logq, ids, B, tau);
  const out = { loss: like(u, B) as T, lse: like(u, B) as T };
  out.loss.set(loss);
  out.lse.set(lse);
  return out;
}

/** Tower-level backward reference: du (B,D), dv (B,D) of scale · Σ_i loss_i, float64. */
export function inBatchSoftmaxBackwardReference<T extends FloatArray>(
  u: T,
  v: FloatArray,
  logq: FloatArray,
  ids: ArrayLike<number>,
  B: number,
  D: number,
  tau: number,
  scale: number,
): { du: T; dv: T } {
  checkSoftmaxXent(u, v, logq, ids, B, D, tau);
  const g = softmaxXentBackwardReference(logq, ids, null, inBatchScores(Float64Array.from(u), v, B, D), B, tau, scale);
  const du = new Float64Array(B * D);
  const dv = new Float64Array(B * D);
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < B; j++) {
      const c = g[i * B + j];
      if (c === 0) continue;
      for (let d = 0; d < D; d++) {
        du[i * D + d] += c * v[j * D + d];
        dv[j * D + d] += c * u[i * D + d];
      }
    }
  }
  const outU = like(u, B * D) as T;
  const outV = like(u, B * D) as T;
  outU.set(du);
  outV.set(dv);
  return { du: outU, dv: outV };
}
