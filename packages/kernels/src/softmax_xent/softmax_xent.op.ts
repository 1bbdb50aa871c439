// softmax_xent on the GPU: the in-batch softmax loss of the retrieval trainer, as four
// dispatches — S = U·Vᵀ (linear.forward), loss/lse from S (softmax_xent.forward), G = dL/dS in
// place of S (softmax_xent.backward), dU = G·V and dV = Gᵀ·U (one linear.backward). The matmuls
// are the tiled linear kernel; S is a (B, B) scratch buffer owned by the bound op.
import { check } from '../kernel.ts';
import {
  checkSoftmaxXent,
  softmaxXentBackward as softmaxXentBackwardKernel,
  softmaxXentForward,
  softmaxXentWorkgroups,
} from './softmax_xent.ts';
import type { BindingResource, BoundKernel, Gpu } from '../gpu/index.ts';
import { LinearOp, LinearBackwardOp } from '../linear/linear.op.ts';

/** The trainer's buffers for the loss, bound once (shapes for up to maxB rows). */
export interface SoftmaxXentBuffers {
  u: BindingResource; // (B, D) user vectors
  v: BindingResource; // (B, D) item vectors, row i = user i's positive
  logq: BindingResource; // (B) log sampling probability of each in-batch item
  ids: BindingResource; // (B) u32 item ids (accidental-hit mask)
  loss: BindingResource; // (B) per-row loss
  lse: BindingResource; // (B) per-row log-sum-exp (kept for the backward)
  du: BindingResource; // (B, D)
  dv: BindingResource; // (B, D)
}

/**
 * The in-batch softmax loss bound once; it owns a (maxB, maxB) score buffer. encodeForward
 * then encodeBackward (same or a later submission; backward overwrites the scores), each once
 * per pass (params are written at queue time).
 * @example
 * const xent = await SoftmaxXentOp.create(gpu, buffers, { B: 1024, D: 128 });
 * gpu.run((pass) => { xent.encodeForward(pass, { B, tau: 0.05 }); xent.encodeBackward(pass, { B, tau: 0.05 }); });
 */
export class SoftmaxXentOp {
  private constructor(
    private readonly scoresOp: LinearOp,
    private readonly forward: BoundKernel,
    private readonly backward: BoundKernel,
    private readonly towerGrads: LinearBackwardOp,
    private readonly owned: GPUBuffer[],
    readonly maxB: number,
    readonly D: number,
  ) {}

  static async create(gpu: Gpu, buffers: SoftmaxXentBuffers, shape: { B: number; D: number }): Promise<SoftmaxXentOp> {
    const { B, D } = shape;
    check(
      Number.isInteger(B) && B > 0 && Number.isInteger(D) && D > 0,
      `softmax_xent: B and D must be positive integers, got ${B}, ${D}.`,
    );
    const { u, v, logq, ids, loss, lse, du, dv } = buffers;
    const scores = gpu.buffer('softmax_xent:scores', B * B * 4);
    const noBias = gpu.buffer('softmax_xent:no-bias', 4);
    const scoresOp = await LinearOp.create(gpu, { x: u, w: v, b: noBias, y: scores }, { M: B, K: D, N: B });
    const forward = await gpu.bind(softmaxXentForward, { scores, logq, ids, loss, lse });
    const backward = await gpu.bind(softmaxXentBackwardKernel, { logq, ids, lse, scores });
    const towerGrads = await LinearBackwardOp.create(
      gpu,
      { x: u, w: v, dy: scores, dx: du, dw: dv },
      { M: B, K: D, N: B },
    );
    return new SoftmaxXentOp(scoresOp, forward, backward, towerGrads, [scores, noBias], B, D);
  }

  private checkB(B: number, tau: number): void {
    check(
      Number.isInteger(B) && B >= 1 && B <= this.maxB,
      `softmax_xent: B = ${B} is outside the bound batch 1..${this.maxB}.`,
    );
    check(Number.isFinite(tau) && tau > 0, `softmax_xent: tau must be a positive number, got ${tau}.`);
  }

  /** loss, lse ← the first B rows; also leaves S = U·Vᵀ for the backward. */
  encodeForward(pass: GPUComputePassEncoder, o: { B: number; tau: number }): void {
    this.checkB(o.B, o.tau);
    this.scoresOp.encode(pass, { M: o.B, K: this.D, N: o.B, hasBias: false });
    this.forward.dispatch(pass, softmaxXentWorkgroups.forward(o.B), { B: o.B, tau: o.tau });
  }

  /** du, dv ← gradients of scale · Σ_i loss_i (scale defaults to 1/B: the mean loss). */
  encodeBackward(pass: GPUComputePassEncoder, o: { B: number; tau: number; scale?: number }): void {
    this.checkB(o.B, o.tau);
    this.backward.dispatch(pass, softmaxXentWorkgroups.backward(o.B), {
      B: o.B,
      tau: o.tau,
      scale: o.scale ?? 1 / o.B,
    });
    this.towerGrads.encode(pass, { M: o.B, K: this.D, N: o.B, act: 'none', hasBias: false, needDx: true });
  }

  destroy(): void {
    this.scoresOp.destroy();
    this.forward.destroy();
    this.backward.destroy();
    this.towerGrads.destroy();
    for (const b of this.owned) b.destroy();
  }
}

/** Runs the bound op once on fresh buffers (checks, tools): allocates on every call. */
async function once<R>(
  gpu: Gpu,
  u: Float32Array,
  v: Float32Array,
  logq: Float32Array,
  ids: Uint32Array,
  B: number,
  D: number,
  tau: number,
  work: (xent: SoftmaxXentOp, pass: GPUComputePassEncoder) => void,
  read: (b: Record<keyof SoftmaxXentBuffers, GPUBuffer>) => Promise<R>,
): Promise<R> {
  checkSoftmaxXent(u, v, logq, ids, B, D, tau);
  const buffers = {
    u: gpu.upload('softmax_xent:u', u),
    v: gpu.upload('softmax_xent:v', v),
    logq: gpu.upload('softmax_xent:logq', logq),
    ids: gpu.upload('softmax_xent:ids', ids),
    loss: gpu.buffer('softmax_xent:loss', B * 4),
    lse: gpu.buffer('softmax_xent:lse', B * 4),
    du: gpu.buffer('softmax_xent:du', B * D * 4),
    dv: gpu.buffer('softmax_xent:dv', B * D * 4),
  };
  let xent: SoftmaxXentOp | null = null;
  try {
    const op = (xent = await SoftmaxXentOp.create(gpu, buffers, { B, D }));
    gpu.run((pass) => work(op, pass));
    return await read(buffers);
  } finally {
    xent?.destroy();
    for (const b of Object.values(buffers)) b.destroy();
  }
}

/**
 * Per-row in-batch softmax loss and log-sum-exp: u (B,D), v (B,D), logq (B), ids (B) → loss (B),
 * lse (B). The training loss is the mean of `loss`. One-shot (allocates): for checks and tools.
 * @example const { loss } = await softmaxXent(gpu, u, v, logq, ids, 256, 128, 0.05);
 */
export async function softmaxXent(
  gpu: Gpu,
  u: Float32Array,
  v: Float32Array,
  logq: Float32Array,
  ids: Uint32Array,
  B: number,
  D: number,
  tau: number,
): Promise<{ loss: Float32Array; lse: Float32Array }> {
  return once(
    gpu,
    u,
    v,
    logq,
    ids,
    B,
    D,
    tau,
    (xent, pass) => xent.encodeForward(pass, { B, tau }),
    async (b) => ({
      loss: await gpu.readF32(b.loss, B),
      lse: await gpu.readF32(b.lse, B),
    }),
  );
}

/**
 * Forward and backward at once: per-row loss and lse, and du, dv of scale · Σ_i loss_i (scale = 1/B:
 * the mean). One-shot (allocates): for checks and tools.
 * @example const { du, dv } = await softmaxXentGrads(gpu, u, v, logq, ids, 256, 128, 0.05, 1 / 256);
 */
export async function softmaxXentGrads(
  gpu: Gpu,
  u: Float32Array,
  v: Float32Array,
  logq: Float32Array,
  ids: Uint32Array,
  B: number,
  D: number,
  tau: number,
  scale: number,
): Promise<{ loss: Float32Array; lse: Float32Array; du: Float32Array; dv: Float32Array }> {
  return once(
    gpu,
    u,
    v,
    logq,
    ids,
    B,
    D,
    tau,
    (xent, pass) => {
      xent.encodeForward(pass, { B, tau });
      xent.encodeBackward(pass, { B, tau, scale });
    },
    async (b) => ({
      loss: await gpu.readF32(b.loss, B),
      lse: await gpu.readF32(b.lse, B),
      du: await gpu.readF32(b.du, B * D),
      dv: await gpu.readF32(b.dv, B * D),
    }),
  );
}
