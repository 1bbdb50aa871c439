// layernorm on the GPU: shape checks, then the kernels. `layernorm()` and `layernormBackward()`
// are the one-shot forms (checks, tools); models create a `LayernormOp` (and for training a
// `LayernormBackwardOp`) once per layer and `encode` it per batch.
import { check } from '../kernel.ts';
import {
  checkLayernorm,
  layernormBackwardInput,
  layernormBackwardParams,
  layernormForward,
  layernormParamsWorkgroups,
  LAYERNORM_EPS,
} from './layernorm.ts';
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
    const kernel = await gpu.bind(layernormForward, {
      x: options.x,
      gamma: options.gamma,
      beta: options.beta,
      y,
      mean,
      rstd,
    });
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

// ------------------------------------------------------------------------------------ backward

/**
 * The backward on the GPU: from x, gamma, the forward's saved mean and rstd, and dy (M, D) →
 * dx (M, D), dgamma and dbeta (D) (summed over rows in a fixed order: no atomics).
 * @example const { dx, dgamma, dbeta } = await layernormBackward(gpu, x, gamma, mean, rstd, dy, M, D);
 */
export async function layernormBackward(
  gpu: Gpu,
  x: Float32Array,
  gamma: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  dy: Float32Array,
  M: number,
  D: number,
): Promise<{ dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array }> {
  checkLayernorm(x, gamma, null, M, D, LAYERNORM_EPS);
  check(mean.length === M, `layernorm: mean has ${mean.length} values, expected M = ${M}.`);
  check(rstd.length === M, `layernorm: rstd has ${rstd.length} values, expected M = ${M}.`);
  check(dy.length === M * D, `layernorm: dy has ${dy.length} values, expected M·D = ${M}·${D} = ${M * D}.`);
  const args = {
    inputs: { x, gamma, mean, rstd, dy },
    outputs: { dx: M * D * 4, dgamma: D * 4, dbeta: D * 4 },
    params: { M, D, accumulate: 0 },
  };
  const input = await runOnce(gpu, layernormBackwardInput, { ...args, workgroups: M });
  const params = await runOnce(gpu, layernormBackwardParams, { ...args, workgroups: layernormParamsWorkgroups(D) });
  return {
    dx: new Float32Array(input.dx),
    dgamma: new Float32Array(params.dgamma),
    dbeta: new Float32Array(params.dbeta),
  };
}

export interface LayernormBackwardOptions {
  /** The forward's input (maxRows, D), gamma (D), saved mean and rstd (maxRows). */
  x: BindingResource;
  gamma: BindingResource;
  mean: BindingResource;
  rstd: BindingResource;
  /** (maxRows, D): the gradient of y. */
  dy: BindingResource;
  maxRows: number;
  D: number;
  /** Outputs (maxRows, D), (D), (D); allocated when not given (e.g. regions of the gradient buffer). */
  dx?: BindingResource;
  dgamma?: BindingResource;
  dbeta?: BindingResource;
}

/**
 * The layernorm backward bound once to its buffers: `encode(pass, M, accumulate)` records dx and
 * dgamma/dbeta for the first M rows; with `accumulate` it adds to them (a residual stream, a
 * parameter used twice) instead of writing.
 * @example
 * const lnBack = await LayernormBackwardOp.create(gpu, { x, gamma, mean: ln.mean, rstd: ln.rstd, dy, maxRows: 1000, D:
 * 64 });
 * gpu.run((pass) => lnBack.encode(pass, 1000)); // lnBack.dx, lnBack.dgamma, lnBack.dbeta
 */
export class LayernormBackwardOp {
  private constructor(
    private readonly inputKernel: BoundKernel,
    private readonly paramsKernel: BoundKernel,
    private readonly opts: { maxRows: number; D: number },
    /** (maxRows, D) f32 */
    readonly dx: BindingResource,
    /** (D) f32 */
    readonly dgamma: BindingResource,
    /** (D) f32 */
    readonly dbeta: BindingResource,
    private readonly owned: GPUBuffer[],
  ) {}

  static async create(gpu: Gpu, options: LayernormBackwardOptions): Promise<LayernormBackwardOp> {
    const { maxRows, D } = options;
    checkLayernorm(null, null, null, maxRows, D, LAYERNORM_EPS);
    const owned: GPUBuffer[] = [];
    const own = (given: BindingResource | undefined, label: string, bytes: number): BindingResource => {
      if (given) return given;
      const buffer = gpu.buffer(label, bytes);
      owned.push(buffer);
      return buffer;
    };
    const dx = own(options.dx, 'layernorm:dx', maxRows * D * 4);
    const dgamma = own(options.dgamma, 'layernorm:dgamma', D * 4);
    const dbeta = own(options.dbeta, 'layernorm:dbeta', D * 4);
    const resources = {
      x: options.x,
      gamma: options.gamma,
      mean: options.mean,
      rstd: options.rstd,
      dy: options.dy,
      dx,
      dgamma,
      dbeta,
    };
    const inputKernel = await gpu.bind(layernormBackwardInput, resources);
    const paramsKernel = await gpu.bind(layernormBackwardParams, resources);
    return new LayernormBackwardOp(inputKernel, paramsKernel, { maxRows, D }, dx, dgamma, dbeta, owned);
  }

  /** Records the backward of rows 0..M−1 into `pass`. */
  encode(pass: GPUComputePassEncoder, M: number, accumulate = false): void {
    const { maxRows, D } = this.opts;
    check(Number.isInteger(M) && M > 0 && M <= maxRows, `LayernormBackwardOp: M = ${M} rows, expected 1..${maxRows}.`);
    const params = { M, D, accumulate: accumulate ? 1 : 0 };
    this.inputKernel.dispatch(pass, M, params);
    this.paramsKernel.dispatch(pass, layernormParamsWorkgroups(D), params);
  }

  destroy(): void {
    this.inputKernel.destroy();
    this.paramsKernel.destroy();
    for (const b of this.owned) b.destroy();
  }
}
