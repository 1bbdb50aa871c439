// attention on the GPU: multi-head self-attention over a padded history and learned-query
// attention pooling, forward and backward.
//
// The bound forms (`SelfAttentionOp`, `AttentionPoolOp`) are what models use: created once per layer
// with fixed max shapes over the model's buffers, they own only their scratch (the saved
// logsumexp/delta stats, and for pooling the per-row d(query) partials) and allocate nothing per
// call. The one-shot functions (`attention`, `attentionBackward`, `attentionPool`,
// `attentionPoolBackward`) check shapes, upload, run and read back: for checks and tools.
import {
  attentionBackwardKV,
  attentionBackwardQ,
  attentionForward,
  attentionParams,
  attentionPoolQuerySum,
  attentionWorkgroups,
  checkAttention,
  checkAttentionPool,
} from './attention.ts';
import { check } from '../kernel.ts';
import type { BindingResource, BoundKernel, Gpu } from '../gpu/index.ts';

/** Max shapes a bound attention op is created for: B batch rows (a call may use fewer), L, D, H. */
export interface AttentionShape {
  B: number;
  L: number;
  D: number;
  H: number;
  /** Self-attention only: query row i sees keys 0..i (positions oldest first). Default false. */
  causal?: boolean;
}

function bytesOf(r: BindingResource): number {
  return 'buffer' in r ? (r.size ?? r.buffer.size - (r.offset ?? 0)) : r.size;
}

function checkShape(op: string, s: AttentionShape): void {
  check(op !== 'AttentionPoolOp' || s.causal !== true, `${op}: pooling has one query row and cannot be causal.`);
  // The same dimension checks as the CPU reference, on empty stand-ins of the right sizes.
  const rows = { length: s.B * s.L * s.D } as ArrayLike<number>;
  const lengths = new Array<number>(s.B).fill(0);
  if (op === 'AttentionPoolOp')
    checkAttentionPool({ length: s.D } as ArrayLike<number>, rows, rows, lengths, s.B, s.L, s.D, s.H);
  else checkAttention(rows, rows, rows, lengths, s.B, s.L, s.D, s.H);
}

function checkBuffer(op: string, name: string, r: BindingResource | undefined, bytes: number, what: string): void {
  check(r !== undefined, `${op}: buffer '${name}' was not given.`);
  check(bytesOf(r) >= bytes, `${op}: buffer '${name}' holds ${bytesOf(r)} bytes, needs ${bytes} for ${what}.`);
}

/** Buffers of a self-attention layer; the gradient ones only when `encodeBackward` is used. */
export interface SelfAttentionBuffers {
  q: BindingResource; // (B, L, D)
  k: BindingResource; // (B, L, D)
  v: BindingResource; // (B, L, D)
  lengths: BindingResource; // (B) u32, each ≤ L
  out: BindingResource; // (B, L, D)
  dout?: BindingResource; // (B, L, D)
  dq?: BindingResource; // (B, L, D), overwritten
  dk?: BindingResource; // (B, L, D), overwritten
  dv?: BindingResource; // (B, L, D), overwritten
}

/**
 * Multi-head self-attention bound once over a layer's buffers: out = softmax(q·kᵀ/√Dh with
 * padded keys masked)·v per head; query rows at or past lengths[b] give zeros.
 * The backward reads q, k, v, out and the saved stats as the forward left them: keep them intact
 * in between. Params are written at queue time: encode each op at most once per submit.
 * @example
 * const attn = await SelfAttentionOp.create(gpu, { B: 256, L: 50, D: 64, H: 4 }, { q, k, v, lengths, out, dout, dq, dk,
 * dv });
 * gpu.run((pass) => attn.encodeForward(pass, batch));
 * gpu.run((pass) => attn.encodeBackward(pass, batch)); // after the forward of the same inputs
 */
export class SelfAttentionOp {
  private constructor(
    readonly shape: AttentionShape,
    /** (B, H, L, 2) f32: per query row the logsumexp of its scores and (after backward) delta. */
    readonly stats: GPUBuffer,
    private readonly forwardKernel: BoundKernel,
    private readonly backwardQ: BoundKernel | null,
    private readonly backwardKV: BoundKernel | null,
  ) {}

  static async create(gpu: Gpu, shape: AttentionShape, buffers: SelfAttentionBuffers): Promise<SelfAttentionOp> {
    const op = 'SelfAttentionOp';
    checkShape(op, shape);
    const { B, L, D, H } = shape;
    const rowBytes = B * L * D * 4;
    const rowShape = `(B, L, D) = (${B}, ${L}, ${D}) f32`;
    for (const name of ['q', 'k', 'v', 'out'] as const) checkBuffer(op, name, buffers[name], rowBytes, rowShape);
    checkBuffer(op, 'lengths', buffers.lengths, B * 4, `(B) = (${B}) u32`);
    const grads = (['dout', 'dq', 'dk', 'dv'] as const).filter((n) => buffers[n] !== undefined);
    check(
      grads.length === 0 || grads.length === 4,
      `${op}: give all of dout, dq, dk, dv for the backward, or none (got ${grads.join(', ')}).`,
    );
    for (const name of grads) checkBuffer(op, name, buffers[name], rowBytes, rowShape);

    const stats = gpu.buffer('attention:stats', B * H * L * 2 * 4);
    const { q, k, v, lengths } = buffers;
    const forward = await gpu.bind(attentionForward, { q, k, v, lengths, out: buffers.out, stats });
    let backwardQ: BoundKernel | null = null;
    let backwardKV: BoundKernel | null = null;
    if (grads.length === 4) {
      const dout = buffers.dout!;
      backwardQ = await gpu.bind(attentionBackwardQ, {
        q,
        k,
        v,
        lengths,
        dout,
        out: buffers.out,
        stats,
        dq: buffers.dq!,
      });
      backwardKV = await gpu.bind(attentionBackwardKV, {
        q,
        k,
        v,
        lengths,
        dout,
        stats,
        dk: buffers.dk!,
        dv: buffers.dv!,
      });
    }
    return new SelfAttentionOp(shape, stats, forward, backwardQ, backwardKV);
  }

  private params(B: number): Record<string, number> {
    check(
      Number.isInteger(B) && B >= 1 && B <= this.shape.B,
      `SelfAttentionOp: batch ${B} is outside 1..${this.shape.B}, the size it was created for.`,
    );
    return attentionParams(B, this.shape.L, this.shape.D, this.shape.H, false, this.shape.causal === true);
  }

  /** Records the forward for the first `B` rows: out and the saved stats. */
  encodeForward(pass: GPUComputePassEncoder, B = this.shape.B): void {
    const { L, H } = this.shape;
    this.forwardKernel.dispatch(pass, attentionWorkgroups(B, L, H, false).rows, this.params(B));
  }

  /** Records the backward (dq, then dk and dv) for the first `B` rows; needs the forward's stats. */
  encodeBackward(pass: GPUComputePassEncoder, B = this.shape.B): void {
    check(
      this.backwardQ && this.backwardKV,
      'SelfAttentionOp: created without dout, dq, dk, dv, so it has no backward.',
    );
    const { L, H } = this.shape;
    const wg = attentionWorkgroups(B, L, H, false);
    const params = this.params(B);
    this.backwardQ.dispatch(pass, wg.rows, params);
    this.backwardKV.dispatch(pass, wg.keys, params);
  }

  destroy(): void {
    for (const k of [this.forwardKernel, this.backwardQ, this.backwardKV]) k?.destroy();
    this.stats.destroy();
  }
}

/** Buffers of an attention-pooling layer; the gradient ones only when `encodeBackward` is used. */
export interface AttentionPoolBuffers {
  query: BindingResource; // (D) = (H, Dh), the learned query
  k: BindingResource; // (B, L, D)
  v: BindingResource; // (B, L, D)
  lengths: BindingResource; // (B) u32, each ≤ L
  pooled: BindingResource; // (B, D)
  dpooled?: BindingResource; // (B, D)
  dquery?: BindingResource; // (D), overwritten with the sum over the batch
  dk?: BindingResource; // (B, L, D), overwritten
  dv?: BindingResource; // (B, L, D), overwritten
}

/**
 * Learned-query attention pooling bound once: pooled[b] = per head softmax(query_h·k_hᵀ/√Dh over
 * row b's valid keys)·v_h; a row with no valid key gives zeros. The backward sums d(query) over
 * the batch in a fixed order (per-row partials, then a reduction kernel): deterministic. The
 * backward reads query, k, v, pooled and the saved stats as the forward left them.
 * @example
 * const pool = await AttentionPoolOp.create(gpu, { B: 256, L: 50, D: 64, H: 4 }, { query, k: x, v: x, lengths, pooled,
 * dpooled, dquery, dk, dv });
 * gpu.run((pass) => pool.encodeForward(pass, batch));
 */
export class AttentionPoolOp {
  private constructor(
    readonly shape: AttentionShape,
    /** (B, H, 1, 2) f32: per row and head the logsumexp and (after backward) delta. */
    readonly stats: GPUBuffer,
    /** (B, D) f32: per-row d(query), summed into dquery by the last backward step. */
    readonly dqueryRows: GPUBuffer | null,
    private readonly forwardKernel: BoundKernel,
    private readonly backwardQ: BoundKernel | null,
    private readonly backwardKV: BoundKernel | null,
    private readonly querySum: BoundKernel | null,
  ) {}

  static async create(gpu: Gpu, shape: AttentionShape, buffers: AttentionPoolBuffers): Promise<AttentionPoolOp> {
    const op = 'AttentionPoolOp';
    checkShape(op, shape);
    const { B, L, D, H } = shape;
    const rowBytes = B * L * D * 4;
    const rowShape = `(B, L, D) = (${B}, ${L}, ${D}) f32`;
    checkBuffer(op, 'query', buffers.query, D * 4, `(D) = (${D}) f32`);
    checkBuffer(op, 'k', buffers.k, rowBytes, rowShape);
    checkBuffer(op, 'v', buffers.v, rowBytes, rowShape);
    checkBuffer(op, 'lengths', buffers.lengths, B * 4, `(B) = (${B}) u32`);
    checkBuffer(op, 'pooled', buffers.pooled, B * D * 4, `(B, D) = (${B}, ${D}) f32`);
    const grads = (['dpooled', 'dquery', 'dk', 'dv'] as const).filter((n) => buffers[n] !== undefined);
    check(
      grads.length === 0 || grads.length === 4,
      `${op}: give all of dpooled, dquery, dk, dv for the backward, or none (got ${grads.join(', ')}).`,
    );
    if (grads.length === 4) {
      checkBuffer(op, 'dpooled', buffers.dpooled, B * D * 4, `(B, D) = (${B}, ${D}) f32`);
      checkBuffer(op, 'dquery', buffers.dquery, D * 4, `(D) = (${D}) f32`);
      checkBuffer(op, 'dk', buffers.dk, rowBytes, rowShape);
      checkBuffer(op, 'dv', buffers.dv, rowBytes, rowShape);
    }

    const stats = gpu.buffer('attention_pool:stats', B * H * 2 * 4);
    const { query: q, k, v, lengths } = buffers;
    const forward = await gpu.bind(attentionForward, { q, k, v, lengths, out: buffers.pooled, stats });
    if (grads.length === 0) return new AttentionPoolOp(shape, stats, null, forward, null, null, null);
    const dout = buffers.dpooled!;
    const dqueryRows = gpu.buffer('attention_pool:dquery_rows', B * D * 4);
    const backwardQ = await gpu.bind(attentionBackwardQ, {
      q,
      k,
      v,
      lengths,
      dout,
      out: buffers.pooled,
      stats,
      dq: dqueryRows,
    });
    const backwardKV = await gpu.bind(attentionBackwardKV, {
      q,
      k,
      v,
      lengths,
      dout,
      stats,
      dk: buffers.dk!,
      dv: buffers.dv!,
    });
    const querySum = await gpu.bind(attentionPoolQuerySum, { dq_rows: dqueryRows, dquery: buffers.dquery! });
    return new AttentionPoolOp(shape, stats, dqueryRows, forward, backwardQ, backwardKV, querySum);
  }

  private params(B: number): Record<string, number> {
    check(
      Number.isInteger(B) && B >= 1 && B <= this.shape.B,
      `AttentionPoolOp: batch ${B} is outside 1..${this.shape.B}, the size it was created for.`,
    );
    return attentionParams(B, this.shape.L, this.shape.D, this.shape.H, true);
  }

  /** Records the forward for the first `B` rows: pooled and the saved stats. */
  encodeForward(pass: GPUComputePassEncoder, B = this.shape.B): void {
    this.forwardKernel.dispatch(pass, attentionWorkgroups(B, this.shape.L, this.shape.H, true).rows, this.params(B));
  }

  /** Records the backward for the first `B` rows: dk, dv and dquery (summed over those rows). */
  encodeBackward(pass: GPUComputePassEncoder, B = this.shape.B): void {
    check(
      this.backwardQ && this.backwardKV && this.querySum,
      'AttentionPoolOp: created without dpooled, dquery, dk, dv, so it has no backward.',
    );
    const { L, D, H } = this.shape;
    const wg = attentionWorkgroups(B, L, H, true);
    const params = this.params(B);
    this.backwardQ.dispatch(pass, wg.rows, params);
    this.backwardKV.dispatch(pass, wg.keys, params);
    this.querySum.dispatch(pass, D, { B, D });
  }

  destroy(): void {
    for (const k of [this.forwardKernel, this.backwardQ, this.backwardKV, this.querySum]) k?.destroy();
    this.stats.destroy();
    this.dqueryRows?.destroy();
  }
}

// ------------------------------------------------------------------------------ one-shot forms

async function withBuffers<R>(
  gpu: Gpu,
  arrays: Record<string, ArrayBufferView | number>,
  use: (b: Record<string, GPUBuffer>) => Promise<R>,
): Promise<R> {
  const buffers: Record<string, GPUBuffer> = {};
  try {
    for (const [name, a] of Object.entries(arrays)) {
      buffers[name] = typeof a === 'number' ? gpu.buffer(`attention:${name}`, a) : gpu.upload(`attention:${name}`, a);
    }
    return await use(buffers);
  } finally {
    for (const b of Object.values(buffers)) b.destroy();
  }
}

const u32 = (lengths: ArrayLike<number>) => Uint32Array.from(lengths);

/**
 * Self-attention on the GPU, once: q, k, v (B,L,D), lengths (B) → out (B,L,D); `causal` as SelfAttentionOp's.
 * @example const out = await attention(gpu, q, k, v, lengths, B, L, D, H);
 */
export async function attention(
  gpu: Gpu,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  lengths: ArrayLike<number>,
  B: number,
  L: number,
  D: number,
  H: number,
  causal = false,
): Promise<Float32Array> {
  checkAttention(q, k, v, lengths, B, L, D, H);
  const bytes = B * L * D * 4;
  return withBuffers(gpu, { q, k, v, lengths: u32(lengths), out: bytes }, async (b) => {
    const op = await SelfAttentionOp.create(
      gpu,
      { B, L, D, H, causal },
      { q: b.q, k: b.k, v: b.v, lengths: b.lengths, out: b.out },
    );
    try {
      gpu.run((pass) => op.encodeForward(pass));
      return await gpu.readF32(b.out, B * L * D);
    } finally {
      op.destroy();
    }
  });
}

/**
 * Self-attention's backward on the GPU, once (runs the forward first for its stats).
 * @example const { dq, dk, dv } = await attentionBackward(gpu, q, k, v, lengths, dout, B, L, D, H);
 */
export async function attentionBackward(
  gpu: Gpu,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  lengths: ArrayLike<number>,
  dout: Float32Array,
  B: number,
  L: number,
  D: number,
  H: number,
  causal = false,
): Promise<{ dq: Float32Array; dk: Float32Array; dv: Float32Array }> {
  checkAttention(q, k, v, lengths, B, L, D, H);
  check(dout.length === B * L * D, `attention: dout has ${dout.length} values, expected B·L·D = ${B * L * D}.`);
  const bytes = B * L * D * 4;
  return withBuffers(
    gpu,
    { q, k, v, lengths: u32(lengths), dout, out: bytes, dq: bytes, dk: bytes, dv: bytes },
    async (b) => {
      const op = await SelfAttentionOp.create(
        gpu,
        { B, L, D, H, causal },
        { q: b.q, k: b.k, v: b.v, lengths: b.lengths, out: b.out, dout: b.dout, dq: b.dq, dk: b.dk, dv: b.dv },
      );
      try {
        gpu.run((pass) => {
          op.encodeForward(pass);
          op.encodeBackward(pass);
        });
        const n = B * L * D;
        return { dq: await gpu.readF32(b.dq, n), dk: await gpu.readF32(b.dk, n), dv: await gpu.readF32(b.dv, n) };
      } finally {
        op.destroy();
      }
    },
  );
}

/**
 * Learned-query attention pooling on the GPU, once: query (D), k, v (B,L,D), lengths (B) → (B,D).
 * @example const pooled = await attentionPool(gpu, query, k, v, lengths, B, L, D, H);
 */
export async function attentionPool(
  gpu: Gpu,
  query: Float32Array,
  k: Float32Array,
  v: Float32Array,
  lengths: ArrayLike<number>,
  B: number,
  L: number,
  D: number,
  H: number,
): Promise<Float32Array> {
  checkAttentionPool(query, k, v, lengths, B, L, D, H);
  return withBuffers(gpu, { query, k, v, lengths: u32(lengths), pooled: B * D * 4 }, async (b) => {
    const op = await AttentionPoolOp.create(
      gpu,
      { B, L, D, H },
      { query: b.query, k: b.k, v: b.v, lengths: b.lengths, pooled: b.pooled },
    );
    try {
      gpu.run((pass) => op.encodeForward(pass));
      return await gpu.readF32(b.pooled, B * D);
    } finally {
      op.destroy();
    }
  });
}

/**
 * Pooling's backward on the GPU, once (runs the forward first): dquery (D) summed over the
 * batch, dk, dv (B,L,D).
 * @example const { dquery, dk, dv } = await attentionPoolBackward(gpu, query, k, v, lengths, dpooled, B, L, D, H);
 */
export async function attentionPoolBackward(
  gpu: Gpu,
  query: Float32Array,
  k: Float32Array,
  v: Float32Array,
  lengths: ArrayLike<number>,
  dpooled: Float32Array,
  B: number,
  L: number,
  D: number,
  H: number,
): Promise<{ dquery: Float32Array; dk: Float32Array; dv: Float32Array }> {
  checkAttentionPool(query, k, v, lengths, B, L, D, H);
  check(dpooled.length === B * D, `attentionPool: dpooled has ${dpooled.length} values, expected B·D = ${B * D}.`);
  const bytes = B * L * D * 4;
  return withBuffers(
    gpu,
    { query, k, v, lengths: u32(lengths), dpooled, pooled: B * D * 4, dquery: D * 4, dk: bytes, dv: bytes },
    async (b) => {
      const op = await AttentionPoolOp.create(
        gpu,
        { B, L, D, H },
        {
          query: b.query,
          k: b.k,
          v: b.v,
          lengths: b.lengths,
          pooled: b.pooled,
          dpooled: b.dpooled,
          dquery: b.dquery,
          dk: b.dk,
          dv: b.dv,
        },
      );
      try {
        gpu.run((pass) => {
          op.encodeForward(pass);
          op.encodeBackward(pass);
        });
        const n = B * L * D;
        return {
          dquery: await gpu.readF32(b.dquery, D),
          dk: await gpu.readF32(b.dk, n),
          dv: await gpu.readF32(b.dv, n),
        };
      } finally {
        op.destroy();
      }
    },
  );
}
