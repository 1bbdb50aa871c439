// Kernel checks of the training kernels: backward passes, losses and optimizers, each on the
// GPU against its float64 CPU reference with fresh random inputs. Optimizers run several steps
// through their bound forms (the trainer's path) before the state is compared.
import { adamReference } from './adam/adam.ts';
import { bceBackwardReference, bceReference, type HeadWeights } from './bce/bce.ts';
import { describeMismatch, maxRelError, testRng } from './testing.ts';
import { linearBackwardReference, linearReference, type Activation } from './linear/linear.ts';
import { rowwiseAdagradReference } from './rowwise_adagrad/rowwise_adagrad.ts';
import { inBatchSoftmaxBackwardReference, inBatchSoftmaxReference } from './softmax_xent/softmax_xent.ts';
import { BoundAdamW, type ParamGroup } from './adam/adam.op.ts';
import { bce, bceGrads } from './bce/bce.op.ts';
import { linearGrads } from './linear/linear.op.ts';
import { BoundRowwiseAdagrad } from './rowwise_adagrad/rowwise_adagrad.op.ts';
import { softmaxXentGrads } from './softmax_xent/softmax_xent.op.ts';
import type { CheckResult, KernelCheck } from './check.ts';

/** The worst of several compared outputs, named. */
function worstOf(pairs: Record<string, [ArrayLike<number>, ArrayLike<number>, number?]>): CheckResult {
  let error = -1;
  let detail = '';
  for (const [name, [got, want, atLeastScale]] of Object.entries(pairs)) {
    const e = maxRelError(got, want, atLeastScale);
    if (e > error) {
      error = e;
      detail = `worst output ${name}: ${describeMismatch(got, want)}`;
    }
  }
  return { error, detail };
}

// ----------------------------------------------------------------------------- linear.backward

// float32 tile-ordered sums of ≤ 1024 products against float64: well within 1e-5 of the scale.
const LINEAR_TOL = 1e-5;
const linearCases: [number, number, number, Activation, boolean?][] = [
  [1, 1, 1, 'none'],
  [1, 7, 13, 'relu'],
  [17, 31, 5, 'sigmoid'],
  [33, 64, 48, 'none'],
  [257, 13, 64, 'relu'],
  [1024, 128, 96, 'sigmoid', true],
];

const linearChecks: KernelCheck[] = linearCases.map(([M, K, N, act, large]) => ({
  kernel: 'linear.backward',
  case: `M=${M} K=${K} N=${N} ${act}`,
  tolerance: LINEAR_TOL,
  large,
  async run(gpu, seed) {
    const rng = testRng(seed);
    const x = rng.uniform(M * K);
    const w = rng.uniform(N * K, -0.5, 0.5);
    const b = rng.uniform(N);
    const y = linearReference(x, w, b, M, K, N, act);
    const dy = rng.uniform(M * N);
    const got = await linearGrads(gpu, x, w, y, dy, M, K, N, act);
    const want = linearBackwardReference(x, w, y, dy, M, K, N, act);
    return worstOf({ dx: [got.dx, want.dx], dw: [got.dw, want.dw], db: [got.db, want.db] });
  },
}));

// -------------------------------------------------------------------------------- softmax_xent

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

const xentChecks: KernelCheck[] = xentCases.map(([B, D, large]) => ({
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

// ------------------------------------------------------------------------------------------ bce

// Elementwise with f32 exp/log: a few ulps of values up to ~30 (the largest logits). A loss is
// measured in nats against at least 1 nat: f32 log(1 + e^-|x|) is off by ~1e-7 absolute, which
// is every bit of a 1e-7 loss (seed 827991380 at B=1 had only saturated logits, all losses ≤ 1e-7).
// A gradient is measured against at least its head's weight, the size of σ − y at 1.
const BCE_TOL = 1e-5;
const bceCases: [number, boolean?][] = [[1], [7], [64], [1000], [200_003, true]];

function bceInputs(B: number, seed: number) {
  const rng = testRng(seed);
  const outputs = new Float32Array(B * 3);
  const labels = new Float32Array(B * 3);
  for (let i = 0; i < B; i++) {
    // mostly moderate logits, some extreme ones (±30) to exercise the stable forms
    const spread = rng.next() < 0.1 ? 30 : 4;
    outputs[i * 3] = (rng.next() * 2 - 1) * spread;
    outputs[i * 3 + 1] = (rng.next() * 2 - 1) * spread;
    outputs[i * 3 + 2] = rng.next() * 4;
    const click = rng.next() < 0.3 ? 1 : 0;
    const conversion = click && rng.next() < 0.3 ? 1 : 0;
    labels[i * 3] = click;
    labels[i * 3 + 1] = conversion;
    labels[i * 3 + 2] = conversion ? Math.exp(rng.next() * 5) - 1 : 0;
  }
  const weights: HeadWeights = { ctr: 1 / B, ctcvr: 0.5 / B, revenue: 0.25 / B };
  return { outputs, labels, weights };
}

const bceChecks: KernelCheck[] = bceCases.map(([B, large]) => ({
  kernel: 'bce',
  case: `B=${B} forward+backward`,
  tolerance: BCE_TOL,
  large,
  async run(gpu, seed) {
    const { outputs, labels, weights } = bceInputs(B, seed);
    const loss = await bce(gpu, outputs, labels, B);
    const grad = await bceGrads(gpu, outputs, labels, B, weights);
    return worstOf({
      loss: [loss, bceReference(outputs, labels, B), 1],
      grad: [grad, bceBackwardReference(outputs, labels, B, weights), weights.ctr],
    });
  },
}));

// ----------------------------------------------------------------------------------------- adam

// After STEPS steps: each step's update is lr·m̂/(√v̂+ε) with f32 rounding of ~1e-7 relative,
// so the state drifts from the float64 reference by ≪ 1e-5 of its scale.
const ADAM_TOL = 1e-5;
const STEPS = 5;
const adamCases: [number, ParamGroup[], boolean?][] = [
  [1, [{ offset: 0, count: 1, weightDecay: 0 }]],
  [13, [{ offset: 3, count: 7, weightDecay: 0.1 }]],
  [
    1000,
    [
      { offset: 0, count: 600, weightDecay: 0.01 },
      { offset: 640, count: 333, weightDecay: 0 },
    ],
  ],
  [
    1_000_003,
    [
      { offset: 0, count: 999_000, weightDecay: 0.01 },
      { offset: 999_040, count: 963, weightDecay: 0 },
    ],
    true,
  ],
];

const adamChecks: KernelCheck[] = adamCases.map(([P, groups, large]) => ({
  kernel: 'adam',
  case: `P=${P} groups=${groups.map((g) => `${g.offset}+${g.count}`).join(',')} ${STEPS} steps`,
  tolerance: ADAM_TOL,
  large,
  async run(gpu, seed) {
    const rng = testRng(seed);
    let want: { param: Float32Array; m: Float32Array; v: Float32Array } = {
      param: rng.uniform(P),
      m: new Float32Array(P),
      v: new Float32Array(P),
    };
    const buffers = {
      grad: gpu.buffer('check:adam:grad', P * 4),
      param: gpu.upload('check:adam:param', want.param),
      m: gpu.upload('check:adam:m', want.m),
      v: gpu.upload('check:adam:v', want.v),
    };
    const adam = await BoundAdamW.create(gpu, buffers, P, groups);
    try {
      for (let step = 1; step <= STEPS; step++) {
        const grad = rng.uniform(P, -0.1, 0.1);
        const o = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, step };
        gpu.write(buffers.grad, grad);
        gpu.run((pass) => adam.encode(pass, o));
        for (const g of groups)
          want = adamReference(grad, want.param, want.m, want.v, g.offset, g.count, {
            ...o,
            weightDecay: g.weightDecay,
          });
      }
      // The moments can cancel to near zero (m of alternating gradients): measure them against
      // what one step feeds in, (1−β1)·max|g| and (1−β2)·max g², not against their own size.
      return worstOf({
        param: [await gpu.readF32(buffers.param, P), want.param],
        m: [await gpu.readF32(buffers.m, P), want.m, (1 - 0.9) * 0.1],
        v: [await gpu.readF32(buffers.v, P), want.v, (1 - 0.999) * 0.1 * 0.1],
      });
    } finally {
      adam.destroy();
      for (const b of Object.values(buffers)) b.destroy();
    }
  },
}));

// ------------------------------------------------------------------------------ rowwise_adagrad

// Sums of D ≤ 130 squares and an elementwise update, in f32 over a few steps: ≪ 1e-5.
const ADAGRAD_TOL = 1e-5;
const adagradCases: [number, number, number, boolean?][] = [
  [1, 1, 1],
  [13, 7, 5],
  [100, 64, 37],
  [1000, 130, 500],
  [100_000, 64, 20_000, true],
];

/** `count` distinct row ids out of R (partial Fisher–Yates). */
function uniqueIds(rng: ReturnType<typeof testRng>, R: number, count: number): Uint32Array {
  const pool = Uint32Array.from({ length: R }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(R - i);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, count);
}

const adagradChecks: KernelCheck[] = adagradCases.map(([R, D, U, large]) => ({
  kernel: 'rowwise_adagrad',
  case: `R=${R} D=${D} U=${U} ${STEPS} steps`,
  tolerance: ADAGRAD_TOL,
  large,
  async run(gpu, seed) {
    const rng = testRng(seed);
    let want: { table: Float32Array; acc: Float32Array } = { table: rng.uniform(R * D), acc: rng.uniform(R, 0, 0.01) };
    const buffers = {
      ids: gpu.buffer('check:adagrad:ids', U * 4),
      grad: gpu.buffer('check:adagrad:grad', U * D * 4),
      table: gpu.upload('check:adagrad:table', want.table),
      acc: gpu.upload('check:adagrad:acc', want.acc),
    };
    const opt = await BoundRowwiseAdagrad.create(gpu, buffers, { maxU: U, D, R });
    try {
      for (let step = 1; step <= STEPS; step++) {
        const count = Math.max(1, U - rng.int(Math.ceil(U / 4))); // fewer ids on some steps
        const ids = uniqueIds(rng, R, count);
        const grad = rng.uniform(count * D);
        gpu.write(buffers.ids, ids);
        gpu.write(buffers.grad, grad);
        gpu.run((pass) => opt.encode(pass, { U: count, lr: 0.05, eps: 1e-8 }));
        want = rowwiseAdagradReference(ids, grad, want.table, want.acc, D, { lr: 0.05, eps: 1e-8 });
      }
      return worstOf({
        table: [await gpu.readF32(buffers.table, R * D), want.table],
        acc: [await gpu.readF32(buffers.acc, R), want.acc],
      });
    } finally {
      opt.destroy();
      for (const b of Object.values(buffers)) b.destroy();
    }
  },
}));

/** Every training-kernel check: backward passes, losses, optimizers. */
export const trainingChecks: KernelCheck[] = [
  ...linearChecks,
  ...xentChecks,
  ...bceChecks,
  ...adamChecks,
  ...adagradChecks,
];
