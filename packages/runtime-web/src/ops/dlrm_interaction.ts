// dlrm_interaction on the GPU: shape checks, then the kernel. `dlrmInteraction()` is the
// one-shot form (checks, tools); the ranker creates a `DlrmInteractionOp` once and `encode`s it
// per batch of candidates.
import {
  check,
  checkDlrmInteraction,
  dlrmInteractionForward,
  dlrmInteractionWidth,
  dlrmInteractionWorkgroups,
  INTERACTION_MODES,
  type InteractionMode,
} from '@vireo/shaders';
import { runOnce, type BindingResource, type BoundKernel, type Gpu } from '../gpu/index.ts';

/**
 * DLRM's interaction of dense (B, D) with the F embeddings emb (B, F, D) → out (B, W):
 * `dot` W = D + (F+1)F/2 (pairwise dots, lower triangle), `cat` W = D + F·D.
 * @example const out = await dlrmInteraction(gpu, bottomOut, pooled, 1000, 26, 64, 'dot');
 */
export async function dlrmInteraction(gpu: Gpu, dense: Float32Array, emb: Float32Array, B: number, F: number, D: number, mode: InteractionMode = 'dot'): Promise<Float32Array> {
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
    check(Number.isInteger(B) && B > 0 && B <= maxBatch, `DlrmInteractionOp: B = ${B} samples, expected 1..${maxBatch}.`);
    this.kernel.dispatch(pass, dlrmInteractionWorkgroups(B, F, D, mode), { B, F, D, mode: INTERACTION_MODES[mode] });
  }

  destroy(): void {
    this.kernel.destroy();
    for (const b of this.owned) b.destroy();
  }
}
