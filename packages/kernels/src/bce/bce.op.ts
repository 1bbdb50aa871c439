// The ranking heads' losses on the GPU (CTR BCE, ESMM CTCVR, revenue on log1p). One-shot forms
// for checks and tools; `HeadsLossOp` for the trainer.
import { bceBackward as bceBackwardKernel, bceForward, bceWorkgroups, checkBce, type HeadWeights } from './bce.ts';
import { check } from '../kernel.ts';
import { runOnce, type BindingResource, type BoundKernel, type Gpu } from '../gpu/index.ts';

/**
 * Per-row, per-task losses (B,3) from head outputs (B,3) = [ctr logit, cvr logit, revenue
 * prediction] and labels (B,3) = [click, conversion, revenue].
 * @example const loss = await bce(gpu, outputs, labels, 512);
 */
export async function bce(gpu: Gpu, outputs: Float32Array, labels: Float32Array, B: number): Promise<Float32Array> {
  checkBce(outputs, labels, B);
  const { loss } = await runOnce(gpu, bceForward, {
    inputs: { outputs, labels },
    outputs: { loss: B * 12 },
    params: { B },
    workgroups: bceWorkgroups(B),
  });
  return new Float32Array(loss);
}

/**
 * Gradient (B,3) of Σ_i Σ_t w_t · loss_it w.r.t. the head outputs.
 * @example const grad = await bceGrads(gpu, outputs, labels, 512, { ctr: 1 / 512, ctcvr: 1 / 512, revenue: 0.1 /
 * conversions });
 */
export async function bceGrads(
  gpu: Gpu,
  outputs: Float32Array,
  labels: Float32Array,
  B: number,
  weights: HeadWeights,
): Promise<Float32Array> {
  checkBce(outputs, labels, B);
  const { grad } = await runOnce(gpu, bceBackwardKernel, {
    inputs: { outputs, labels },
    outputs: { grad: B * 12 },
    params: { B, w_ctr: weights.ctr, w_ctcvr: weights.ctcvr, w_rev: weights.revenue, w_cvr: weights.cvr ?? 0 },
    workgroups: bceWorkgroups(B),
  });
  return new Float32Array(grad);
}

/**
 * The heads' loss and gradient bound once to the trainer's buffers (outputs, labels, loss, grad:
 * each (maxB, 3)); encode each once per pass.
 * @example
 * const heads = await HeadsLossOp.create(gpu, { outputs, labels, loss, grad }, 4096);
 * heads.encodeBackward(pass, B, { ctr: 1 / B, ctcvr: 1 / B, revenue: 1 / B });
 */
export class HeadsLossOp {
  private constructor(
    private readonly forward: BoundKernel,
    private readonly backward: BoundKernel,
    readonly maxB: number,
  ) {}

  static async create(
    gpu: Gpu,
    buffers: { outputs: BindingResource; labels: BindingResource; loss: BindingResource; grad: BindingResource },
    maxB: number,
  ): Promise<HeadsLossOp> {
    const { outputs, labels, loss, grad } = buffers;
    return new HeadsLossOp(
      await gpu.bind(bceForward, { outputs, labels, loss }),
      await gpu.bind(bceBackwardKernel, { outputs, labels, grad }),
      maxB,
    );
  }

  private checkB(B: number): void {
    check(Number.isInteger(B) && B >= 1 && B <= this.maxB, `bce: B = ${B} is outside the bound batch 1..${this.maxB}.`);
  }

  encodeForward(pass: GPUComputePassEncoder, B: number): void {
    this.checkB(B);
    this.forward.dispatch(pass, bceWorkgroups(B), { B });
  }

  encodeBackward(pass: GPUComputePassEncoder, B: number, weights: HeadWeights): void {
    this.checkB(B);
    this.backward.dispatch(pass, bceWorkgroups(B), {
      B,
      w_ctr: weights.ctr,
      w_ctcvr: weights.ctcvr,
      w_rev: weights.revenue,
      w_cvr: weights.cvr ?? 0,
    });
  }

  destroy(): void {
    this.forward.destroy();
    this.backward.destroy();
  }
}
