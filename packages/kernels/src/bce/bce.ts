// bce / heads: the ranking losses (CTR BCE, ESMM CTCVR BCE, revenue squared error on log1p)
// and their gradients w.r.t. the three head outputs; kernels and CPU references.
import source from './bce.wgsl?raw';
import { check, defineKernel } from '../kernel.ts';
import { like, type FloatArray } from '../testing.ts';

/** Per-task loss weights (fold the 1/B or 1/#conversions of a mean in here). */
export interface HeadWeights {
  ctr: number;
  ctcvr: number;
  revenue: number;
  /** A direct cvr BCE on the clicked rows beside ESMM's (absent: 0). */
  cvr?: number;
}

/**
 * Per-row, per-task unweighted losses: outputs (B,3) = [ctr logit, cvr logit, revenue
 * prediction], labels (B,3) = [click, conversion, revenue] → loss (B,3) =
 * [BCE(ctr), BCE(σ(ctr)·σ(cvr); conversion), conversion ? (pred − log1p(revenue))² : 0].
 */
export const bceForward = defineKernel({
  name: 'bce.forward',
  source,
  entryPoint: 'forward',
  bindings: [
    { name: 'outputs', kind: 'read' },
    { name: 'labels', kind: 'read' },
    { name: 'loss', kind: 'write' },
  ],
  params: [['B', 'u32']],
  overrides: { WG: 64 },
});

/** grad (B,3) = d(Σ_i Σ_t w_t · loss_it)/d outputs; same inputs as bce.forward. */
export const bceBackward = defineKernel({
  name: 'bce.backward',
  source,
  entryPoint: 'backward',
  bindings: [
    { name: 'outputs', kind: 'read' },
    { name: 'labels', kind: 'read' },
    { name: 'grad', kind: 'write' },
  ],
  params: [
    ['B', 'u32'],
    ['w_ctr', 'f32'],
    ['w_ctcvr', 'f32'],
    ['w_rev', 'f32'],
    ['w_cvr', 'f32'],
  ],
  overrides: { WG: 64 },
});

/** Workgroups of bce.forward / bce.backward (one thread per row). */
export function bceWorkgroups(B: number, wg = 64): number {
  return Math.ceil(B / wg);
}

/** Checks the shapes of a bce call; throws a ShapeError naming the argument. */
export function checkBce(outputs: ArrayLike<number>, labels: ArrayLike<number>, B: number): void {
  check(Number.isInteger(B) && B > 0, `bce: B must be a positive integer, got ${B}.`);
  check(outputs.length === B * 3, `bce: outputs has ${outputs.length} values, expected B·3 = ${B * 3}.`);
  check(labels.length === B * 3, `bce: labels has ${labels.length} values, expected B·3 = ${B * 3}.`);
}

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const logSigmoid = (x: number) => -softplus(-x);
const logAddExp = (x: number, y: number) => Math.max(x, y) + Math.log1p(Math.exp(-Math.abs(x - y)));

/** CPU reference of bce.forward, in float64. */
export function bceReference<T extends FloatArray>(outputs: T, labels: FloatArray, B: number): T {
  checkBce(outputs, labels, B);
  const loss = like(outputs, B * 3) as T;
  for (let i = 0; i < B; i++) {
    const [a, c, r] = [outputs[i * 3], outputs[i * 3 + 1], outputs[i * 3 + 2]];
    const [yc, yv, rev] = [labels[i * 3], labels[i * 3 + 1], labels[i * 3 + 2]];
    const lp = logSigmoid(a) + logSigmoid(c); // log p, p = σ(a)σ(c)
    const l1p = logAddExp(logSigmoid(-a), logSigmoid(a) + logSigmoid(-c)); // log(1 − p)
    const e = r - Math.log1p(rev);
    loss[i * 3] = softplus(a) - a * yc;
    loss[i * 3 + 1] = -(yv * lp + (1 - yv) * l1p);
    loss[i * 3 + 2] = yv > 0.5 ? e * e : 0;
  }
  return loss;
}

/** CPU reference of bce.backward, in float64. */
export function bceBackwardReference<T extends FloatArray>(
  outputs: T,
  labels: FloatArray,
  B: number,
  weights: HeadWeights,
): T {
  checkBce(outputs, labels, B);
  const grad = like(outputs, B * 3) as T;
  for (let i = 0; i < B; i++) {
    const [a, c, r] = [outputs[i * 3], outputs[i * 3 + 1], outputs[i * 3 + 2]];
    const [yc, yv, rev] = [labels[i * 3], labels[i * 3 + 1], labels[i * 3 + 2]];
    const lp = logSigmoid(a) + logSigmoid(c);
    const l1p = logAddExp(logSigmoid(-a), logSigmoid(a) + logSigmoid(-c));
    const da = (1 - yv) * Math.exp(logSigmoid(-a) + lp - l1p) - yv * Math.exp(logSigmoid(-a));
    const dc = (1 - yv) * Math.exp(logSigmoid(-c) + lp - l1p) - yv * Math.exp(logSigmoid(-c));
    const e = r - Math.log1p(rev);
    grad[i * 3] = weights.ctr * (1 / (1 + Math.exp(-a)) - yc) + weights.ctcvr * da;
    grad[i * 3 + 1] = weights.ctcvr * dc + (weights.cvr ?? 0) * yc * (1 / (1 + Math.exp(-c)) - yv);
    grad[i * 3 + 2] = yv > 0.5 ? weights.revenue * 2 * e : 0;
  }
  return grad;
}
