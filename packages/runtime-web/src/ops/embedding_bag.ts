// embedding_bag on the GPU: shape and index checks, then the kernel. `embeddingBag()` is the
// one-shot form (checks, tools); models create an `EmbeddingBagOp` once per table and feature
// and call `set` + `encode` per batch.
import {
  bagCount,
  check,
  checkEmbeddingBag,
  embeddingBagForward,
  embeddingBagWorkgroups,
  type BagMode,
} from '@vireo/shaders';
import { runOnce, type BindingResource, type BoundKernel, type Gpu } from '../gpu/index.ts';

/** A 1-value stand-in for an empty or absent array (WebGPU bindings cannot be empty). */
function orDummy<A extends Uint32Array | Float32Array>(a: A | null, empty: A): A {
  return a && a.length > 0 ? a : empty;
}

/**
 * Pooled embedding lookups on the GPU: table (R, D), indices (nnz), offsets (B+1) or null for a
 * plain lookup (one bag per index), weights (nnz) or null → out (B, D).
 * @example const out = await embeddingBag(gpu, table, new Uint32Array([3, 1, 4]), new Uint32Array([0, 2, 3]), null, R, D, 'mean');
 */
export async function embeddingBag(
  gpu: Gpu,
  table: Float32Array,
  indices: Uint32Array,
  offsets: Uint32Array | null,
  weights: Float32Array | null,
  R: number,
  D: number,
  mode: BagMode = 'sum',
): Promise<Float32Array> {
  checkEmbeddingBag(table, indices, offsets, weights, R, D, mode);
  const B = bagCount(indices, offsets);
  const { out } = await runOnce(gpu, embeddingBagForward, {
    inputs: {
      table,
      indices: orDummy(indices, new Uint32Array(1)),
      offsets: orDummy(offsets, new Uint32Array(1)),
      weights: orDummy(weights, new Float32Array(1)),
    },
    outputs: { out: B * D * 4 },
    params: { B, D, R, mean: mode === 'mean' ? 1 : 0, has_offsets: offsets ? 1 : 0, has_weights: weights ? 1 : 0 },
    workgroups: embeddingBagWorkgroups(B * D),
  });
  return new Float32Array(out);
}

export interface EmbeddingBagOptions {
  /** The table (R, D) f32, e.g. a region of the model's parameter buffer. */
  table: BindingResource;
  R: number;
  D: number;
  /** Capacity: the most bags and indices one batch may hold. */
  maxBags: number;
  maxNnz: number;
  mode?: BagMode;
  /** Where the pooled rows go ((maxBags, D) f32); allocated when not given. */
  out?: BindingResource;
}

/**
 * embedding_bag bound once to its table and to buffers sized for the largest batch: `set`
 * checks and uploads a batch (no allocation), `encode` records the kernel into a pass.
 * @example
 * const bag = await EmbeddingBagOp.create(gpu, { table, R, D, maxBags: 256, maxNnz: 4096, mode: 'mean' });
 * bag.set(indices, offsets, null);
 * gpu.run((pass) => bag.encode(pass)); // bag.out now holds (B, D)
 */
export class EmbeddingBagOp {
  /** Bags in the batch last `set`. */
  bags = 0;
  private constructor(
    private readonly gpu: Gpu,
    private readonly opts: Required<Omit<EmbeddingBagOptions, 'out'>>,
    private readonly kernel: BoundKernel,
    /** (maxBags, D) f32: the pooled rows of the last encoded batch. */
    readonly out: BindingResource,
    private readonly inputs: { indices: GPUBuffer; offsets: GPUBuffer; weights: GPUBuffer },
    private readonly owned: GPUBuffer[],
  ) {}

  static async create(gpu: Gpu, options: EmbeddingBagOptions): Promise<EmbeddingBagOp> {
    const { R, D, maxBags, maxNnz } = options;
    const mode = options.mode ?? 'sum';
    check(Number.isInteger(R) && R > 0 && Number.isInteger(D) && D > 0, `EmbeddingBagOp: R, D must be positive integers, got ${R}, ${D}.`);
    check(Number.isInteger(maxBags) && maxBags > 0 && Number.isInteger(maxNnz) && maxNnz > 0, `EmbeddingBagOp: maxBags, maxNnz must be positive integers, got ${maxBags}, ${maxNnz}.`);
    const indices = gpu.buffer('embedding_bag:indices', maxNnz * 4);
    const offsets = gpu.buffer('embedding_bag:offsets', (maxBags + 1) * 4);
    const weights = gpu.buffer('embedding_bag:weights', maxNnz * 4);
    const owned = [indices, offsets, weights];
    let out = options.out;
    if (!out) owned.push((out = gpu.buffer('embedding_bag:out', maxBags * D * 4)));
    const kernel = await gpu.bind(embeddingBagForward, { table: options.table, indices, offsets, weights, out });
    return new EmbeddingBagOp(gpu, { ...options, mode }, kernel, out, { indices, offsets, weights }, owned);
  }

  /** Checks a batch (indices inside the table, offsets well formed) and uploads it. */
  set(indices: Uint32Array, offsets: Uint32Array | null, weights: Float32Array | null): void {
    const { R, D, maxBags, maxNnz, mode } = this.opts;
    checkEmbeddingBag(null, indices, offsets, weights, R, D, mode);
    const B = bagCount(indices, offsets);
    check(B <= maxBags, `EmbeddingBagOp: ${B} bags exceed maxBags = ${maxBags}.`);
    check(indices.length <= maxNnz, `EmbeddingBagOp: indices has ${indices.length} values, over maxNnz = ${maxNnz}.`);
    if (indices.length > 0) this.gpu.write(this.inputs.indices, indices);
    if (offsets) this.gpu.write(this.inputs.offsets, offsets);
    if (weights && weights.length > 0) this.gpu.write(this.inputs.weights, weights);
    this.kernel.setParams({ B, D, R, mean: mode === 'mean' ? 1 : 0, has_offsets: offsets ? 1 : 0, has_weights: weights ? 1 : 0 });
    this.bags = B;
  }

  /** Records the lookup of the batch last `set` into `pass`. */
  encode(pass: GPUComputePassEncoder): void {
    check(this.bags > 0, 'EmbeddingBagOp: encode() before set(): no batch to look up.');
    this.kernel.dispatch(pass, embeddingBagWorkgroups(this.bags * this.opts.D));
  }

  destroy(): void {
    this.kernel.destroy();
    for (const b of this.owned) b.destroy();
  }
}
