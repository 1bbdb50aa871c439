// l2norm on the GPU: shape checks, then the kernels. `l2norm()` and `l2normBackward()` are the
// one-shot forms (checks, tools); models create an `L2normOp` (and for training an
// `L2normBackwardOp`) once per layer and `encode` it per batch.
import { check } from '../kernel.ts';
import { checkL2norm, l2normForward, L2NORM_EPS, l2normBackwardKernel } from './l2norm.ts';
import { runOnce, type BindingResource, type BoundKernel, type Gpu } from '../gpu/index.ts';

/**
 * Scales the rows of x (M, D) to unit length → y (M, D) and the row norms (M) that the
 * backward needs.
 * @example const { y } = await l2norm(gpu, userEmbeddings, B, 128);
 */
export async function l2norm(
  gpu: Gpu,
  x: Float32Array,
  M: number,
  D: number,
  eps = L2NORM_EPS,
): Promise<{ y: Float32Array; norm: Float32Array }> {
  checkL2norm(x, M, D, eps);
  const out = await runOnce(gpu, l2normForward, {
    inputs: { x },
    outputs: { y: M * D * 4, norm: M * 4 },
    params: { M, D, eps },
    workgroups: M,
  });
  return { y: new Float32Array(out.y), norm: new Float32Array(out.norm) };
}

export interface L2normOptions {
  /** (maxRows, D) input, e.g. a region of the activation buffer. */
  x: BindingResource;
  maxRows: number;
  D: number;
  eps?: number;
  /** Outputs (maxRows, D) and (maxRows); allocated when not given. */
  y?: BindingResource;
  norm?: BindingResource;
}

/**
 * l2norm bound once to its buffers: `encode(pass, M)` normalises the first M rows.
 * @example
 * const norm = await L2normOp.create(gpu, { x: towerOut, maxRows: 1, D: 128 });
 * gpu.run((pass) => norm.encode(pass, 1)); // norm.y
 */
export class L2normOp {
  private constructor(
    private readonly kernel: BoundKernel,
    private readonly opts: { maxRows: number; D: number; eps: number },
    /** (maxRows, D) f32 */
    readonly y: BindingResource,
    /** (maxRows) f32, ‖x‖ saved for the backward */
    readonly norm: BindingResource,
    private readonly owned: GPUBuffer[],
  ) {}

  static async create(gpu: Gpu, options: L2normOptions): Promise<L2normOp> {
    const { maxRows, D } = options;
    const eps = options.eps ?? L2NORM_EPS;
    checkL2norm(null, maxRows, D, eps);
    const owned: GPUBuffer[] = [];
    const own = (given: BindingResource | undefined, label: string, bytes: number): BindingResource => {
      if (given) return given;
      const buffer = gpu.buffer(label, bytes);
      owned.push(buffer);
      return buffer;
    };
    const y = own(options.y, 'l2norm:y', maxRows * D * 4);
    const norm = own(options.norm, 'l2norm:norm', maxRows * 4);
    const kernel = await gpu.bind(l2normForward, { x: options.x, y, norm });
    return new L2normOp(kernel, { maxRows, D, eps }, y, norm, owned);
  }

  /** Records the normalisation of rows 0..M−1 into `pass`. */
  encode(pass: GPUComputePassEncoder, M: number): void {
    const { maxRows, D, eps } = this.opts;
    check(Number.isInteger(M) && M > 0 && M <= maxRows, `L2normOp: M = ${M} rows, expected 1..${maxRows}.`);
    this.kernel.dispatch(pass, M, { M, D, eps });
  }

  destroy(): void {
    this.kernel.destroy();
    for (const b of this.owned) b.destroy();
  }
}

// ------------------------------------------------------------------------------------ backward

/**
 * The backward on the GPU: from x, the forward's saved norm and dy (M, D) → dx (M, D).
 * @example const dx = await l2normBackward(gpu, x, norm, dy, M, D);
 */
export async function l2normBackward(
  gpu: Gpu,
  x: Float32Array,
  norm: Float32Array,
  dy: Float32Array,
  M: number,
  D: number,
  eps = L2NORM_EPS,
): Promise<Float32Array> {
  checkL2norm(x, M, D, eps);
  check(norm.length === M, `l2norm: norm has ${norm.length} values, expected M = ${M}.`);
  check(dy.length === M * D, `l2norm: dy has ${dy.length} values, expected M·D = ${M}·${D} = ${M * D}.`);
  const { dx } = await runOnce(gpu, l2normBackwardKernel, {
    inputs: { x, norm, dy },
    outputs: { dx: M * D * 4 },
    params: { M, D, eps, accumulate: 0 },
    workgroups: M,
  });
  return new Float32Array(dx);
}

export interface L2normBackwardOptions {
  /** The forward's input (maxRows, D) and saved norm (maxRows). */
  x: BindingResource;
  norm: BindingResource;
  /** (maxRows, D): the gradient of y. */
  dy: BindingResource;
  maxRows: number;
  D: number;
  eps?: number;
  /** (maxRows, D) output; allocated when not given. */
  dx?: BindingResource;
}

/**
 * The l2norm backward bound once to its buffers: `encode(pass, M, accumulate)` records dx for
 * the first M rows (added to dx with `accumulate`).
 * @example
 * const back = await L2normBackwardOp.create(gpu, { x: towerOut, norm: l2.norm, dy, maxRows: 512, D: 128 });
 * gpu.run((pass) => back.encode(pass, 512)); // back.dx
 */
export class L2normBackwardOp {
  private constructor(
    private readonly kernel: BoundKernel,
    private readonly opts: { maxRows: number; D: number; eps: number },
    /** (maxRows, D) f32 */
    readonly dx: BindingResource,
    private readonly owned: GPUBuffer[],
  ) {}

  static async create(gpu: Gpu, options: L2normBackwardOptions): Promise<L2normBackwardOp> {
    const { maxRows, D } = options;
    const eps = options.eps ?? L2NORM_EPS;
    checkL2norm(null, maxRows, D, eps);
    const owned: GPUBuffer[] = [];
    let dx = options.dx;
    if (!dx) owned.push((dx = gpu.buffer('l2norm:dx', maxRows * D * 4)));
    const kernel = await gpu.bind(l2normBackwardKernel, { x: options.x, norm: options.norm, dy: options.dy, dx });
    return new L2normBackwardOp(kernel, { maxRows, D, eps }, dx, owned);
  }

  /** Records the backward of rows 0..M−1 into `pass`. */
  encode(pass: GPUComputePassEncoder, M: number, accumulate = false): void {
    const { maxRows, D, eps } = this.opts;
    check(Number.isInteger(M) && M > 0 && M <= maxRows, `L2normBackwardOp: M = ${M} rows, expected 1..${maxRows}.`);
    this.kernel.dispatch(pass, M, { M, D, eps, accumulate: accumulate ? 1 : 0 });
  }

  destroy(): void {
    this.kernel.destroy();
    for (const b of this.owned) b.destroy();
  }
}
