// next_item_xent: the next-item objective at every history position (SASRec-style), in-batch
// softmax over blocks of positions with logQ correction. The kernels' declarations and their CPU
// references (same argument order). Legend: N rows (positions), W row width, M rows per block.
import source from './next_item_xent.wgsl?raw';
import { check, defineKernel, NO_ROW } from '../kernel.ts';
import { like, type FloatArray } from '../testing.ts';

/** The id of a row without a next item (padding, or no later event): loss 0, never a candidate. */
export const NO_NEXT_ITEM = NO_ROW;

const PARAMS = [
  ['N', 'u32'],
  ['W', 'u32'],
  ['M', 'u32'],
  ['tau', 'f32'],
  ['scale', 'f32'],
  ['accumulate', 'u32'],
] as const;
const OVERRIDES = { WG: 64 };
const INPUTS = [
  { name: 'q', kind: 'read' },
  { name: 't', kind: 'read' },
  { name: 'logq', kind: 'read' },
  { name: 'ids', kind: 'read' },
] as const;

/** Forward: q, t (N, W), logq (N), ids (N) u32 → loss (N), lse (N). One thread per row. */
export const nextItemXentForward = defineKernel({
  name: 'next_item_xent.forward',
  source,
  entryPoint: 'forward',
  bindings: [...INPUTS, { name: 'loss', kind: 'write' }, { name: 'lse', kind: 'write' }],
  params: PARAMS,
  overrides: OVERRIDES,
});

/** Backward to q: grad (N, W) (+)= d(scale · Σ loss)/dq. One thread per row. */
export const nextItemXentBackwardQ = defineKernel({
  name: 'next_item_xent.backward_q',
  source,
  entryPoint: 'backward_q',
  bindings: [...INPUTS, { name: 'lse', kind: 'read' }, { name: 'grad', kind: 'write' }],
  params: PARAMS,
  overrides: OVERRIDES,
});

/** Backward to t: grad (N, W) (+)= d(scale · Σ loss)/dt. One thread per row. */
export const nextItemXentBackwardT = defineKernel({
  name: 'next_item_xent.backward_t',
  source,
  entryPoint: 'backward_t',
  bindings: [...INPUTS, { name: 'lse', kind: 'read' }, { name: 'grad', kind: 'write' }],
  params: PARAMS,
  overrides: OVERRIDES,
});

/** Workgroups of every entry point: a thread per row. */
export function nextItemXentWorkgroups(N: number, wg = OVERRIDES.WG): number {
  return Math.ceil(N / wg);
}

/** The widest row a thread keeps in registers (the WGSL's private array). */
export const NEXT_ITEM_MAX_WIDTH = 256;

/** Checks a next_item_xent call's shapes; throws a ShapeError naming the argument. */
export function checkNextItemXent(
  q: ArrayLike<number> | null,
  t: ArrayLike<number> | null,
  logq: ArrayLike<number> | null,
  ids: ArrayLike<number> | null,
  N: number,
  W: number,
  M: number,
  tau: number,
): void {
  for (const [name, n] of [
    ['N', N],
    ['W', W],
    ['M', M],
  ] as const)
    check(Number.isInteger(n) && n > 0, `nextItemXent: ${name} must be a positive integer, got ${n}.`);
  check(W <= NEXT_ITEM_MAX_WIDTH, `nextItemXent: W = ${W} is over ${NEXT_ITEM_MAX_WIDTH}.`);
  check(tau > 0, `nextItemXent: tau must be positive, got ${tau}.`);
  for (const [name, a, n] of [
    ['q', q, N * W],
    ['t', t, N * W],
    ['logq', logq, N],
    ['ids', ids, N],
  ] as const)
    check(a === null || a.length === n, `nextItemXent: ${name} has ${a?.length} values, expected ${n}.`);
}

/** Whether column j is a candidate of row i (both valid, same block, j = i or another item). */
function candidate(ids: ArrayLike<number>, i: number, j: number): boolean {
  return ids[i] !== NO_NEXT_ITEM && ids[j] !== NO_NEXT_ITEM && (j === i || ids[j] !== ids[i]);
}

function logit<T extends FloatArray>(
  q: T,
  t: T,
  logq: ArrayLike<number>,
  i: number,
  j: number,
  W: number,
  tau: number,
) {
  let s = 0;
  for (let d = 0; d < W; d++) s += q[i * W + d] * t[j * W + d];
  return s / tau - logq[j];
}

/**
 * CPU reference of the forward: loss (N) and lse (N); loss_i = logsumexp over i's candidates of
 * logit(i, j) = q_i·t_j/tau − logq_j, minus logit(i, i); 0 (and lse 0) for a row without a next item.
 * @example const { loss } = nextItemXentReference(q, t, logq, ids, N, W, M, 1);
 */
export function nextItemXentReference<T extends FloatArray>(
  q: T,
  t: T,
  logq: ArrayLike<number>,
  ids: ArrayLike<number>,
  N: number,
  W: number,
  M: number,
  tau: number,
): { loss: T; lse: T } {
  checkNextItemXent(q, t, logq, ids, N, W, M, tau);
  const loss = like(q, N) as T;
  const lse = like(q, N) as T;
  for (let i = 0; i < N; i++) {
    if (ids[i] === NO_NEXT_ITEM) continue;
    const start = Math.floor(i / M) * M;
    const end = Math.min(start + M, N);
    const ls: number[] = [];
    for (let j = start; j < end; j++) if (candidate(ids, i, j)) ls.push(logit(q, t, logq, i, j, W, tau));
    const m = Math.max(...ls);
    const l = m + Math.log(ls.reduce((s, x) => s + Math.exp(x - m), 0));
    lse[i] = l;
    loss[i] = l - logit(q, t, logq, i, i, W, tau);
  }
  return { loss, lse };
}

/**
 * CPU reference of the backward: dq, dt (N, W) of scale · Σ_i loss_i · dloss_i (dloss (N), the
 * loss's upstream gradient; the kernels take dloss = 1 for every row).
 * @example const { dq, dt } = nextItemXentBackwardReference(q, t, logq, ids, ones, N, W, M, 1, 1 / count);
 */
export function nextItemXentBackwardReference<T extends FloatArray>(
  q: T,
  t: T,
  logq: ArrayLike<number>,
  ids: ArrayLike<number>,
  dloss: ArrayLike<number>,
  N: number,
  W: number,
  M: number,
  tau: number,
  scale: number,
): { dq: T; dt: T } {
  const { lse } = nextItemXentReference(q, t, logq, ids, N, W, M, tau);
  const dq = like(q, N * W) as T;
  const dt = like(q, N * W) as T;
  for (let i = 0; i < N; i++) {
    if (ids[i] === NO_NEXT_ITEM) continue;
    const start = Math.floor(i / M) * M;
    const end = Math.min(start + M, N);
    for (let j = start; j < end; j++) {
      if (!candidate(ids, i, j)) continue;
      const g = ((Math.exp(logit(q, t, logq, i, j, W, tau) - lse[i]) - (i === j ? 1 : 0)) * scale * dloss[i]) / tau;
      for (let d = 0; d < W; d++) {
        dq[i * W + d] += g * t[j * W + d];
        dt[j * W + d] += g * q[i * W + d];
      }
    }
  }
  return { dq, dt };
}
