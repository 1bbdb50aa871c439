// next_item_xent on the GPU: `NextItemXentOp` is bound once over the trainer's buffers (the
// encoder's per-position outputs, the next items' embedding rows) and encoded per step;
// `nextItemXentGrads` is the one-shot form (checks, tools).
import { check } from '../kernel.ts';
import {
  checkNextItemXent,
  nextItemXentBackwardQ,
  nextItemXentBackwardT,
  nextItemXentForward,
  nextItemXentWorkgroups,
} from './next_item_xent.ts';
import type { BindingResource, BoundKernel, Gpu } from '../gpu/index.ts';

/** Buffers of the next-item loss; `dq`, `dt` only for the backward. */
export interface NextItemXentBuffers {
  q: BindingResource; //    (N, W) encoder outputs
  t: BindingResource; //    (N, W) next items' rows
  logq: BindingResource; // (N)
  ids: BindingResource; //  (N) u32, NO_NEXT_ITEM for a row without a next item
  loss: BindingResource; // (N)
  lse: BindingResource; //  (N)
  dq?: BindingResource; //  (N, W)
  dt?: BindingResource; //  (N, W)
}

/** Shape: N rows at most, W width, M rows per block (candidates come from a row's block). */
export interface NextItemXentShape {
  N: number;
  W: number;
  M: number;
}

/**
 * The next-item loss bound once for up to N rows.
 * @example
 * const next = await NextItemXentOp.create(gpu, { N: B * L, W, M: 128 }, { q: h, t, logq, ids, loss, lse, dq, dt });
 * gpu.run((pass) => { next.encodeForward(pass, { tau: 1 }); next.encodeBackward(pass, { tau: 1, scale: 1 / rows }); });
 */
export class NextItemXentOp {
  private constructor(
    readonly shape: NextItemXentShape,
    private readonly forward: BoundKernel,
    private readonly backward: { q: BoundKernel; t: BoundKernel } | null,
  ) {}

  static async create(gpu: Gpu, shape: NextItemXentShape, b: NextItemXentBuffers): Promise<NextItemXentOp> {
    checkNextItemXent(null, null, null, null, shape.N, shape.W, shape.M, 1);
    check((b.dq === undefined) === (b.dt === undefined), 'NextItemXentOp: give both dq and dt, or neither.');
    const inputs = { q: b.q, t: b.t, logq: b.logq, ids: b.ids };
    const forward = await gpu.bind(nextItemXentForward, { ...inputs, loss: b.loss, lse: b.lse });
    const backward = b.dq
      ? {
          q: await gpu.bind(nextItemXentBackwardQ, { ...inputs, lse: b.lse, grad: b.dq }),
          t: await gpu.bind(nextItemXentBackwardT, { ...inputs, lse: b.lse, grad: b.dt! }),
        }
      : null;
    return new NextItemXentOp(shape, forward, backward);
  }

  private params(tau: number, scale: number, accumulate: boolean): Record<string, number> {
    check(tau > 0, `NextItemXentOp: tau must be positive, got ${tau}.`);
    const { N, W, M } = this.shape;
    return { N, W, M, tau, scale, accumulate: accumulate ? 1 : 0 };
  }

  /** Records loss and lse of every row. */
  encodeForward(pass: GPUComputePassEncoder, o: { tau: number }): void {
    this.forward.dispatch(pass, nextItemXentWorkgroups(this.shape.N), this.params(o.tau, 1, false));
  }

  /**
   * Records dq, dt of scale · Σ loss (after encodeForward: it reads lse). `accumulateQ` / `accumulateT` add to what
   * the buffers hold (the encoder output's other gradients) instead of overwriting it.
   */
  encodeBackward(
    pass: GPUComputePassEncoder,
    o: { tau: number; scale: number; accumulateQ?: boolean; accumulateT?: boolean },
  ): void {
    check(this.backward, 'NextItemXentOp: created without dq and dt, so it has no backward.');
    const wg = nextItemXentWorkgroups(this.shape.N);
    this.backward.q.dispatch(pass, wg, this.params(o.tau, o.scale, o.accumulateQ ?? false));
    this.backward.t.dispatch(pass, wg, this.params(o.tau, o.scale, o.accumulateT ?? false));
  }

  destroy(): void {
    this.forward.destroy();
    this.backward?.q.destroy();
    this.backward?.t.destroy();
  }
}

/**
 * The next-item loss and its gradients on the GPU, once: loss, lse (N), and dq, dt (N, W) of scale · Σ loss
 * (dq added to `dqIn` when given).
 * @example const { loss, dq, dt } = await nextItemXentGrads(gpu, q, t, logq, ids, { N, W, M }, 1, 1 / N);
 */
export async function nextItemXentGrads(
  gpu: Gpu,
  q: Float32Array,
  t: Float32Array,
  logq: Float32Array,
  ids: Uint32Array,
  shape: NextItemXentShape,
  tau: number,
  scale: number,
  dqIn?: Float32Array,
): Promise<{ loss: Float32Array; lse: Float32Array; dq: Float32Array; dt: Float32Array }> {
  const { N, W, M } = shape;
  checkNextItemXent(q, t, logq, ids, N, W, M, tau);
  const owned = [
    gpu.upload('next_item_xent:q', q),
    gpu.upload('next_item_xent:t', t),
    gpu.upload('next_item_xent:logq', logq),
    gpu.upload('next_item_xent:ids', ids),
    gpu.buffer('next_item_xent:loss', N * 4),
    gpu.buffer('next_item_xent:lse', N * 4),
    dqIn ? gpu.upload('next_item_xent:dq', dqIn) : gpu.buffer('next_item_xent:dq', N * W * 4),
    gpu.buffer('next_item_xent:dt', N * W * 4),
  ];
  const [qb, tb, logqb, idsb, loss, lse, dq, dt] = owned;
  try {
    const op = await NextItemXentOp.create(gpu, shape, { q: qb, t: tb, logq: logqb, ids: idsb, loss, lse, dq, dt });
    gpu.run((pass) => {
      op.encodeForward(pass, { tau });
      op.encodeBackward(pass, { tau, scale, accumulateQ: dqIn !== undefined });
    });
    const out = {
      loss: await gpu.readF32(loss, N),
      lse: await gpu.readF32(lse, N),
      dq: await gpu.readF32(dq, N * W),
      dt: await gpu.readF32(dt, N * W),
    };
    op.destroy();
    return out;
  } finally {
    for (const b of owned) b.destroy();
  }
}
