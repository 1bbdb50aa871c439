// linear on the GPU: shape checks, then the kernel. `linear()` / `linearBackward()` are the
// one-shot forms (checks, tools); models create a `LinearOp` / `LinearBackwardOp` once per
// layer (buffers bound at load time) and `encode` it per step or request.
import {
  ACTIVATIONS,
  checkLinear,
  checkLinearBackward,
  linearBackward as linearBackwardKernel,
  linearBackwardDirect,
  linearBackwardDirectWorkgroups,
  linearBackwardWorkgroups,
  linearDirectWorkgroups,
  linearForward,
  linearForwardDirect,
  linearWorkgroups,
  type Activation,
} from './linear.ts';
import { check } from '../kernel.ts';
import { runOnce, type BindingResource, type BoundKernel, type Gpu } from '../gpu/index.ts';

/**
 * y = act(x · wᵀ + b) on the GPU; x (M,K), w (N,K), b (N) or null → y (M,N).
 * @example const y = await linear(gpu, x, w, b, 32, 64, 16, 'relu');
 */
export async function linear(
  gpu: Gpu,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array | null,
  M: number,
  K: number,
  N: number,
  act: Activation = 'none',
): Promise<Float32Array> {
  checkLinear(x, w, b, M, K, N);
  const { y } = await runOnce(gpu, linearForward, {
    inputs: { x, w, b: b ?? new Float32Array(1) },
    outputs: { y: M * N * 4 },
    params: { M, K, N, act: ACTIVATIONS[act], has_bias: b ? 1 : 0 },
    workgroups: linearWorkgroups(M, N),
  });
  return new Float32Array(y);
}

/**
 * Backward of linear on the GPU, from the forward output `y`: x (M,K), w (N,K), y (M,N),
 * dy (M,N) → dx (M,K), dw (N,K), db (N) (zeros when `hasBias` is false).
 * @example const { dx, dw, db } = await linearGrads(gpu, x, w, y, dy, 32, 64, 16, 'relu');
 */
export async function linearGrads(
  gpu: Gpu,
  x: Float32Array,
  w: Float32Array,
  y: Float32Array,
  dy: Float32Array,
  M: number,
  K: number,
  N: number,
  act: Activation = 'none',
  hasBias = true,
): Promise<{ dx: Float32Array; dw: Float32Array; db: Float32Array }> {
  checkLinearBackward(x, w, y, dy, M, K, N);
  const out = await runOnce(gpu, linearBackwardKernel, {
    inputs: { x, w, y, dy },
    outputs: { dx: M * K * 4, dw: N * K * 4, db: N * 4 },
    params: { M, K, N, act: ACTIVATIONS[act], has_bias: hasBias ? 1 : 0, need_dx: 1, accumulate: 0 },
    workgroups: linearBackwardWorkgroups(M, K, N),
  });
  return { dx: new Float32Array(out.dx), dw: new Float32Array(out.dw), db: new Float32Array(out.db) };
}

/**
 * Which kernels a bound layer runs: 'tiled' (workgroup-memory tiles; GPUs) or 'direct' (a thread
 * per output, no barriers; CPU adapters such as SwiftShader, where barriers cost more than they
 * save — about 10× there). Both sum in the same order.
 */
export type LinearVariant = 'tiled' | 'direct';

/** The variant for this adapter: 'direct' on fallback (CPU) adapters, else 'tiled'. */
export function linearVariant(gpu: Gpu): LinearVariant {
  return gpu.info.isFallbackAdapter ? 'direct' : 'tiled';
}

/** The largest shapes a bound layer accepts (its buffers are sized for them). */
export interface LinearShape {
  M: number;
  K: number;
  N: number;
}

function checkFits(name: string, shape: LinearShape, max: LinearShape): void {
  check(
    shape.M >= 1 && shape.K >= 1 && shape.N >= 1 && shape.M <= max.M && shape.K <= max.K && shape.N <= max.N,
    `${name}: shape M=${shape.M} K=${shape.K} N=${shape.N} is ` +
      `outside the bound shape (1..${max.M}, 1..${max.K}, 1..${max.N}).`,
  );
}

/**
 * A linear layer's forward bound once to its buffers (x, w, b, y: GPUBuffer or region).
 * `encode` once per pass (its params are written at queue time).
 * @example
 * const fc = await LinearOp.create(gpu, { x, w, b, y }, { M: 4096, K: 256, N: 64 });
 * gpu.run((pass) => fc.encode(pass, { M: batch, K: 256, N: 64, act: 'relu' }));
 */
export class LinearOp {
  private constructor(
    private readonly kernel: BoundKernel,
    readonly max: LinearShape,
    readonly variant: LinearVariant,
  ) {}

  static async create(
    gpu: Gpu,
    buffers: { x: BindingResource; w: BindingResource; b: BindingResource; y: BindingResource },
    max: LinearShape,
    variant = linearVariant(gpu),
  ): Promise<LinearOp> {
    return new LinearOp(
      await gpu.bind(variant === 'direct' ? linearForwardDirect : linearForward, buffers),
      { ...max },
      variant,
    );
  }

  encode(pass: GPUComputePassEncoder, shape: LinearShape & { act?: Activation; hasBias?: boolean }): void {
    checkFits('linear', shape, this.max);
    const { M, K, N } = shape;
    const workgroups = this.variant === 'direct' ? linearDirectWorkgroups(M, N) : linearWorkgroups(M, N);
    this.kernel.dispatch(pass, workgroups, {
      M,
      K,
      N,
      act: ACTIVATIONS[shape.act ?? 'none'],
      has_bias: shape.hasBias === false ? 0 : 1,
    });
  }

  destroy(): void {
    this.kernel.destroy();
  }
}

/**
 * A linear layer's backward bound once: reads x, w, dy and y (the forward output; may be left
 * out when act is 'none'); writes dw, and db and dx when given (leave dx out for a first layer,
 * db for a layer without bias). Encode once per pass.
 * @example
 * const fcGrad = await LinearBackwardOp.create(gpu, { x, w, y, dy, dx, dw, db }, { M: 4096, K: 256, N: 64 });
 * fcGrad.encode(pass, { M: batch, K: 256, N: 64, act: 'relu' });
 */
export class LinearBackwardOp {
  private constructor(
    private readonly kernel: BoundKernel,
    readonly max: LinearShape,
    private readonly bound: { y: boolean; dx: boolean; db: boolean },
    private readonly dummies: GPUBuffer[],
    readonly variant: LinearVariant,
  ) {}

  static async create(
    gpu: Gpu,
    buffers: {
      x: BindingResource;
      w: BindingResource;
      dy: BindingResource;
      dw: BindingResource;
      y?: BindingResource;
      dx?: BindingResource;
      db?: BindingResource;
    },
    max: LinearShape,
    variant = linearVariant(gpu),
  ): Promise<LinearBackwardOp> {
    // Stand-ins for bindings that are not used: one for the read side and one for the write
    // side (a buffer bound read-only and writable in one dispatch fails validation).
    const unusedIn = buffers.y ? null : gpu.buffer('linear.backward:unused-in', 4);
    const unusedOut = buffers.dx && buffers.db ? null : gpu.buffer('linear.backward:unused-out', 4);
    const spec = variant === 'direct' ? linearBackwardDirect : linearBackwardKernel;
    const kernel = await gpu.bind(spec, {
      ...buffers,
      y: buffers.y ?? unusedIn!,
      dx: buffers.dx ?? unusedOut!,
      db: buffers.db ?? unusedOut!,
    });
    const dummies = [unusedIn, unusedOut].filter((b): b is GPUBuffer => b !== null);
    return new LinearBackwardOp(
      kernel,
      { ...max },
      { y: Boolean(buffers.y), dx: Boolean(buffers.dx), db: Boolean(buffers.db) },
      dummies,
      variant,
    );
  }

  /** `needDx` / `hasBias` default to whether dx / db were bound; `accumulate` adds into dx/dw/db. */
  encode(
    pass: GPUComputePassEncoder,
    shape: LinearShape & { act?: Activation; hasBias?: boolean; needDx?: boolean; accumulate?: boolean },
  ): void {
    checkFits('linear.backward', shape, this.max);
    const act = shape.act ?? 'none';
    const needDx = shape.needDx ?? this.bound.dx;
    const hasBias = shape.hasBias ?? this.bound.db;
    check(
      act === 'none' || this.bound.y,
      `linear.backward: act '${act}' needs the forward output y, which was not bound.`,
    );
    check(!needDx || this.bound.dx, 'linear.backward: needDx is set but no dx buffer was bound.');
    check(!hasBias || this.bound.db, 'linear.backward: hasBias is set but no db buffer was bound.');
    const { M, K, N } = shape;
    const workgroups =
      this.variant === 'direct'
        ? linearBackwardDirectWorkgroups(M, K, N, needDx, hasBias)
        : linearBackwardWorkgroups(M, K, N, needDx);
    this.kernel.dispatch(pass, workgroups, {
      M,
      K,
      N,
      act: ACTIVATIONS[act],
      has_bias: hasBias ? 1 : 0,
      need_dx: needDx ? 1 : 0,
      accumulate: shape.accumulate ? 1 : 0,
    });
  }

  destroy(): void {
    this.kernel.destroy();
    for (const b of this.dummies) b.destroy();
  }
}
