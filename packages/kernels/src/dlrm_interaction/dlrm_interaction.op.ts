// dlrm_interaction on the GPU: shape checks, then the kernels. `dlrmInteraction()` and
// `dlrmInteractionBackward()` are the one-shot forms (checks, tools); the ranker creates a
// `DlrmInteractionOp` (and the trainer a `DlrmInteractionBackwardOp`) once and `encode`s it per
// batch.
import { check } from '../kernel.ts';
import {
  checkDlrmInteraction,
  dlrmInteractionBackwardKernel,
  dlrmInteractionBackwardWorkgroups,
  dlrmInteractionForward,
  dlrmInteractionWidth,
  dlrmInteractionWorkgroups,
  INTERACTION_MODES,
  type InteractionMode,
} from './dlrm_interaction.ts';
import { runOnce, type BindingResource, type BoundKernel, type Gpu } from '../gpu/index.ts';

/**
 * DLRM's interaction of dense (B, D) with the F embeddings emb (B, F, D) → out (B, W):
 * `dot` W = D + (F+1)F/2 (pairwise dots, lower triangle), `cat` W = D + F·D.
 * @example const out = await dlrmInteraction(gpu, bottomOut, pooled, 1000, 26, 64, 'dot');
 */
export async function dlrmInteraction(
  gpu: Gpu,
  dense: Float32Array,
  emb: Float32Array,
  B: number,
  F: number,
  D: number,
  mode: InteractionMode = 'dot',
): Promise<Float32Array> {
  checkDlrmInteraction(dense, emb, B, F, D, mode);
  const { out } = await runOnce(gpu, dlrmInteractionForward, {
    inputs: { dense, emb },
    outputs: { out: B * dlrmInteractionWidth(F, D, mode) * 4 },
    params: { B, F, D, mode: INTERACTION_MODES[mode] },
    workgroups: dlrmInteractionWorkgroups(B, F, D, mode),
  });
  return new Float32Array(out);
}

export interface DlrmInteractionOptions {
  /** (maxBatch, D) bottom-MLP output and (maxBatch, F, D) pooled embeddings. */
  dense: BindingResource;
  emb: BindingResource;
  maxBatch: number;
  F: number;
  D: number;
  mode?: InteractionMode;
  /** (maxBatch, W) output; allocated when not given. */
  out?: BindingResource;
}

/**
 * dlrm_interaction bound once to its buffers: `encode(pass, B)` interacts the first B samples.
 * @example
 * const inter = await DlrmInteractionOp.create(gpu, { dense, emb, maxBatch: 1000, F: 26, D: 64 });
 * gpu.run((pass) => inter.encode(pass, 1000)); // inter.out: (B, inter.width)
 */
export class DlrmInteractionOp {
  private constructor(
    private readonly kernel: BoundKernel,
    private readonly opts: { maxBatch: number; F: number; D: number; mode: InteractionMode },
    /** (maxBatch, width) f32 */
    readonly out: BindingResource,
    /** Values per output row. */
    readonly width: number,
    private readonly owned: GPUBuffer[],
  ) {}

  static async create(gpu: Gpu, options: DlrmInteractionOptions): Promise<DlrmInteractionOp> {
    const { maxBatch, F, D } = options;
    const mode = options.mode ?? 'dot';
    checkDlrmInteraction(null, null, maxBatch, F, D, mode);
    const width = dlrmInteractionWidth(F, D, mode);
    const owned: GPUBuffer[] = [];
    let out = options.out;
    if (!out) owned.push((out = gpu.buffer('dlrm_interaction:out', maxBatch * width * 4)));
    const kernel = await gpu.bind(dlrmInteractionForward, { dense: options.dense, emb: options.emb, out });
    return new DlrmInteractionOp(kernel, { maxBatch, F, D, mode }, out, width, owned);
  }

  /** Records the interaction of samples 0..B−1 into `pass`. */
  encode(pass: GPUComputePassEncoder, B: number): void {
    const { maxBatch, F, D, mode } = this.opts;
    check(
      Number.isInteger(B) && B > 0 && B <= maxBatch,
      `DlrmInteractionOp: B = ${B} samples, expected 1..${maxBatch}.`,
    );
    this.kernel.dispatch(pass, dlrmInteractionWorkgroups(B, F, D, mode), { B, F, D, mode: INTERACTION_MODES[mode] });
  }

  destroy(): void {
    this.kernel.destroy();
    for (const b of this.owned) b.destroy();
  }
}

// ------------------------------------------------------------------------------------ backward

/**
 * The backward on the GPU: from dense (B, D), emb (B, F, D) and dy (B, W) → dDense (B, D) and
 * dEmb (B, F, D).
 * @example const { dDense, dEmb } = await dlrmInteractionBackward(gpu, dense, emb, dy, B, F, D, 'dot');
 */
export async function dlrmInteractionBackward(
  gpu: Gpu,
  dense: Float32Array,
  emb: Float32Array,
  dy: Float32Array,
  B: number,
  F: number,
  D: number,
  mode: InteractionMode = 'dot',
): Promise<{ dDense: Float32Array; dEmb: Float32Array }> {
  checkDlrmInteraction(dense, emb, B, F, D, mode);
  const W = dlrmInteractionWidth(F, D, mode);
  check(dy.length === B * W, `dlrm_interaction: dy has ${dy.length} values, expected B·W = ${B}·${W} = ${B * W}.`);
  const out = await runOnce(gpu, dlrmInteractionBackwardKernel, {
    inputs: { dense, emb, dy },
    outputs: { d_dense: B * D * 4, d_emb: B * F * D * 4 },
    params: { B, F, D, mode: INTERACTION_MODES[mode], accumulate: 0 },
    workgroups: dlrmInteractionBackwardWorkgroups(B, F, D),
  });
  return { dDense: new Float32Array(out.d_dense), dEmb: new Float32Array(out.d_emb) };
}

export interface DlrmInteractionBackwardOptions {
  /** The forward's inputs (maxBatch, D), (maxBatch, F, D) and dy (maxBatch, W). */
  dense: BindingResource;
  emb: BindingResource;
  dy: BindingResource;
  maxBatch: number;
  F: number;
  D: number;
  mode?: InteractionMode;
  /** Outputs (maxBatch, D) and (maxBatch, F, D); allocated when not given. */
  dDense?: BindingResource;
  dEmb?: BindingResource;
}

/**
 * The dlrm_interaction backward bound once to its buffers: `encode(pass, B, accumulate)` records
 * dDense and dEmb for the first B samples (added to them with `accumulate`).
 * @example
 * const back = await DlrmInteractionBackwardOp.create(gpu, { dense, emb, dy, maxBatch: 2048, F: 26, D: 64 });
 * gpu.run((pass) => back.encode(pass, 2048)); // back.dDense, back.dEmb
 */
export class DlrmInteractionBackwardOp {
  private constructor(
    private readonly kernel: BoundKernel,
    private readonly opts: { maxBatch: number; F: number; D: number; mode: InteractionMode },
    /** (maxBatch, D) f32 */
    readonly dDense: BindingResource,
    /** (maxBatch, F, D) f32 */
    readonly dEmb: BindingResource,
    private readonly owned: GPUBuffer[],
  ) {}

  static async create(gpu: Gpu, options: DlrmInteractionBackwardOptions): Promise<DlrmInteractionBackwardOp> {
    const { maxBatch, F, D } = options;
    const mode = options.mode ?? 'dot';
    checkDlrmInteraction(null, null, maxBatch, F, D, mode);
    const owned: GPUBuffer[] = [];
    const own = (given: BindingResource | undefined, label: string, bytes: number): BindingResource => {
      if (given) return given;
      const buffer = gpu.buffer(label, bytes);
      owned.push(buffer);
      return buffer;
    };
    const dDense = own(options.dDense, 'dlrm_interaction:d_dense', maxBatch * D * 4);
    const dEmb = own(options.dEmb, 'dlrm_interaction:d_emb', maxBatch * F * D * 4);
    const kernel = await gpu.bind(dlrmInteractionBackwardKernel, {
      dense: options.dense,
      emb: options.emb,
      dy: options.dy,
      d_dense: dDense,
      d_emb: dEmb,
    });
    return new DlrmInteractionBackwardOp(kernel, { maxBatch, F, D, mode }, dDense, dEmb, owned);
  }

  /** Records the backward of samples 0..B−1 into `pass`. */
  encode(pass: GPUComputePassEncoder, B: number, accumulate = false): void {
    const { maxBatch, F, D, mode } = this.opts;
    check(
      Number.isInteger(B) && B > 0 && B <= maxBatch,
      `DlrmInteractionBackwardOp: B = ${B} samples, expected 1..${maxBatch}.`,
    );
    this.kernel.dispatch(pass, dlrmInteractionBackwardWorkgroups(B, F, D), {
      B,
      F,
      D,
      mode: INTERACTION_MODES[mode],
      accumulate: accumulate ? 1 : 0,
    });
  }

  destroy(): void {
    this.kernel.destroy();
    for (const b of this.owned) b.destroy();
  }
}
