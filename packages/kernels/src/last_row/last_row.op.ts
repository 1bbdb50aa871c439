// last_row on the GPU: `LastRowOp` is bound once over a layer's buffers (the user tower's
// encoder outputs and history lengths) and encoded per batch; `lastRow` and `lastRowBackward`
// are the one-shot forms (checks, tools).
import { check } from '../kernel.ts';
import {
  checkLastRow,
  lastRowBackwardKernel as backwardKernel,
  lastRowForwardKernel,
  lastRowWorkgroups,
} from './last_row.ts';
import { runOnce, type BindingResource, type BoundKernel, type Gpu } from '../gpu/index.ts';

/** Buffers of a last_row layer; `dy`, `dx` only for the backward. */
export interface LastRowBuffers {
  x: BindingResource; // (B, L, W)
  lengths: BindingResource; // (B) u32
  y: BindingResource; // (B, W)
  dy?: BindingResource; // (B, W)
  dx?: BindingResource; // (B, L, W), accumulated into
}

/**
 * The most recent valid position of each row, bound once for up to B rows.
 * @example
 * const last = await LastRowOp.create(gpu, { B: 128, L: 20, W: 16 }, { x: h, lengths, y: z, dy: dz, dx: dh });
 * gpu.run((pass) => last.encodeForward(pass, batch));
 */
export class LastRowOp {
  private constructor(
    readonly shape: { B: number; L: number; W: number },
    private readonly forwardKernel: BoundKernel,
    private readonly backwardKernel: BoundKernel | null,
  ) {}

  static async create(
    gpu: Gpu,
    shape: { B: number; L: number; W: number },
    buffers: LastRowBuffers,
  ): Promise<LastRowOp> {
    checkLastRow(null, null, shape.B, shape.L, shape.W);
    check(
      (buffers.dy === undefined) === (buffers.dx === undefined),
      'LastRowOp: give both dy and dx for the backward, or neither.',
    );
    const forward = await gpu.bind(lastRowForwardKernel, { x: buffers.x, lengths: buffers.lengths, y: buffers.y });
    const backward = buffers.dy
      ? await gpu.bind(backwardKernel, { dy: buffers.dy, lengths: buffers.lengths, dx: buffers.dx! })
      : null;
    return new LastRowOp(shape, forward, backward);
  }

  private params(B: number): Record<string, number> {
    check(
      Number.isInteger(B) && B >= 1 && B <= this.shape.B,
      `LastRowOp: batch ${B} is outside 1..${this.shape.B}, the size it was created for.`,
    );
    return { B, L: this.shape.L, W: this.shape.W };
  }

  /** Records y = each row's most recent valid position, for the first B rows. */
  encodeForward(pass: GPUComputePassEncoder, B = this.shape.B): void {
    this.forwardKernel.dispatch(pass, lastRowWorkgroups(B, this.shape.W), this.params(B));
  }

  /** Records dx += dy at each row's most recent valid position, for the first B rows. */
  encodeBackward(pass: GPUComputePassEncoder, B = this.shape.B): void {
    check(this.backwardKernel, 'LastRowOp: created without dy and dx, so it has no backward.');
    this.backwardKernel.dispatch(pass, lastRowWorkgroups(B, this.shape.W), this.params(B));
  }

  destroy(): void {
    this.forwardKernel.destroy();
    this.backwardKernel?.destroy();
  }
}

/**
 * last_row on the GPU, once: x (B, L, W), lengths (B) → y (B, W).
 * @example const y = await lastRow(gpu, x, lengths, B, L, W);
 */
export async function lastRow(
  gpu: Gpu,
  x: Float32Array,
  lengths: ArrayLike<number>,
  B: number,
  L: number,
  W: number,
): Promise<Float32Array> {
  checkLastRow(x, lengths, B, L, W);
  const out = await runOnce(gpu, lastRowForwardKernel, {
    inputs: { x, lengths: Uint32Array.from(lengths) },
    outputs: { y: B * W * 4 },
    params: { B, L, W },
    workgroups: lastRowWorkgroups(B, W),
  });
  return new Float32Array(out.y);
}

/**
 * last_row's backward on the GPU, once: dx (B, L, W) = dxIn + dy at each row's last valid position.
 * @example const dx = await lastRowBackward(gpu, dy, lengths, dxIn, B, L, W);
 */
export async function lastRowBackward(
  gpu: Gpu,
  dy: Float32Array,
  lengths: ArrayLike<number>,
  dxIn: Float32Array,
  B: number,
  L: number,
  W: number,
): Promise<Float32Array> {
  checkLastRow(dxIn, lengths, B, L, W);
  check(dy.length === B * W, `lastRow: dy has ${dy.length} values, expected B·W = ${B}·${W} = ${B * W}.`);
  const out = await runOnce(gpu, backwardKernel, {
    inputs: { dy, lengths: Uint32Array.from(lengths), dx: dxIn },
    params: { B, L, W },
    workgroups: lastRowWorkgroups(B, W),
  });
  return new Float32Array(out.dx);
}
