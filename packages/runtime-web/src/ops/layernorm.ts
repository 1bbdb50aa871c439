// layernorm on the GPU: shape checks, then the kernel. `layernorm()` is the one-shot form
// (checks, tools); models create a `LayernormOp` once per layer and `encode` it per batch.
import { check, checkLayernorm, layernormForward, LAYERNORM_EPS } from '@vireo/shaders';
import { runOnce, type BindingResource, type BoundKernel, type Gpu } from '../gpu/index.ts';

/**
 * Layer normalisation of the rows of x (M, D) with gamma, beta (D) → y (M, D) and the saved
 * mean, rstd (M) that the backward needs.
 * @example const { y } = await layernorm(gpu, x, gamma, beta, M, D);
 */
export async function layernorm(
  gpu: Gpu,
  x: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  M: number,
  D: number,
  eps = LAYERNORM_EPS,
): Promise<{ y: Float32Array; mean: Float32Array; rstd: Float32Array }> {
  checkLayernorm(x, gamma, beta, M, D, eps);
  const out = await runOnce(gpu, layernormForward, {
    inputs: { x, gamma, beta },
    outputs: { y: M * D * 4, mean: M * 4, rstd: M * 4 },
    params: { M, D, eps },
    workgroups: M,
  });
  return { y: new Float32Array(out.y), mean: new Float32Array(out.mean), rstd: new Float32Array(out.rstd) };
}

export interface LayernormOptions {
  /** (maxRows, D) input, gamma and beta (D): e.g. regions of the activation and parameter buffers. */
  x: BindingResource;
  gamma: BindingResource;
  beta: BindingResource;
  maxRows: number;
  D: number;
  eps?: number;
  /** Outputs (maxRows, D) and (maxRows); allocated when not given. */
  y?: BindingResource;
  mean?: BindingResource;
  rstd?: BindingResource;
}

/**
 * layernorm bound once to its buffers: `encode(pass, M)` normalises the first M rows.
 * @example
 * const ln = await LayernormOp.create(gpu, { x, gamma, beta, maxRows: 1000, D: 64 });
 * gpu.run((pass) => ln.encode(pass, 1000)); // ln.y, ln.mean, ln.rstd
 */
export class LayernormOp {
  private constructor(
    private readonly kernel: BoundKernel,
    private readonly opts: { maxRows: number; D: number; eps: number },
    /** (maxRows, D) f32 */
    readonly y: BindingResource,
    /** (maxRows) f32, saved for the backward */
    readonly mean: BindingResource,
    /** (maxRows) f32, saved for the backward */
    readonly rstd: BindingResource,
    private readonly owned: GPUBuffer[],
  ) {}

  static async create(gpu: Gpu, options: LayernormOptions): Promise<LayernormOp> {
    const { maxRows, D } = options;
    const eps = options.eps ?? LAYERNORM_EPS;
    checkLayernorm(null, null, null, maxRows, D, eps);
    const owned: GPUBuffer[] = [];
    const own = (given: BindingResource | undefined, label: string, bytes: number): BindingResource => {
      if (given) return given;
      const buffer = gpu.buffer(label, bytes);
      owned.push(buffer);
      return buffer;
    };
    const y = own(options.y, 'layernorm:y', maxRows * D * 4);
    const mean = own(options.mean, 'layernorm:mean', maxRows * 4);
    const rstd = own(options.rstd, 'layernorm:rstd', maxRows * 4);
    const kernel = await gpu.bind(layernormForward, { x: options.x, gamma: options.gamma, beta: options.beta, y, mean, rstd });
    return new LayernormOp(kernel, { maxRows, D, eps }, y, mean, rstd, owned);
  }

  /** Records the normalisation of rows 0..M−1 into `pass`. */
  encode(pass: GPUComputePassEncoder, M: number): void {
    const { maxRows, D, eps } = this.opts;
    check(Number.isInteger(M) && M > 0 && M <= maxRows, `LayernormOp: M = ${M} rows, expected 1..${maxRows}.`);
    this.kernel.dispatch(pass, M, { M, D, eps });
  }

  destroy(): void {
    this.kernel.destroy();
    for (const b of this.owned) b.destroy();
  }
}
