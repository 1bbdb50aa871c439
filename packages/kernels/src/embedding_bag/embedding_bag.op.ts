// embedding_bag on the GPU: shape and index checks, then the kernels. `embeddingBag()` and
// `embeddingBagBackward()` are the one-shot forms (checks, tools); models create an
// `EmbeddingBagOp` (and for training an `EmbeddingBagBackwardOp`) once per table and feature and
// call `set` + `encode` per batch.
import {
  bagCount,
  checkEmbeddingBag,
  embeddingBagBackwardRows,
  embeddingBagBackwardWeights,
  embeddingBagForward,
  embeddingBagPlan,
  embeddingBagWorkgroups,
  type BagMode,
  type EmbeddingBagPlan,
} from './embedding_bag.ts';
import { check, type KernelSpec } from '../kernel.ts';
import { runOnce, type BindingResource, type BoundKernel, type Gpu } from '../gpu/index.ts';

/** A 1-value stand-in for an empty or absent array (WebGPU bindings cannot be empty). */
function orDummy<A extends Uint32Array | Float32Array>(a: A | null, empty: A): A {
  return a && a.length > 0 ? a : empty;
}

/**
 * Pooled embedding lookups on the GPU: table (R, D), indices (nnz), offsets (B+1) or null for a
 * plain lookup (one bag per index), weights (nnz) or null → out (B, D).
 * @example const out = await embeddingBag(gpu, table, new Uint32Array([3, 1, 4]), new Uint32Array([0, 2, 3]), null, R,
 * D, 'mean');
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
  /** The name it runs under: embedding_bag itself, or rowGather / rowSum over activation rows. */
  kernel?: KernelSpec;
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
    private readonly opts: Required<Omit<EmbeddingBagOptions, 'out' | 'kernel'>>,
    private readonly kernel: BoundKernel,
    /** (maxBags, D) f32: the pooled rows of the last encoded batch. */
    readonly out: BindingResource,
    private readonly inputs: { indices: GPUBuffer; offsets: GPUBuffer; weights: GPUBuffer },
    private readonly owned: GPUBuffer[],
  ) {}

  static async create(gpu: Gpu, options: EmbeddingBagOptions): Promise<EmbeddingBagOp> {
    const { R, D, maxBags, maxNnz } = options;
    const mode = options.mode ?? 'sum';
    check(
      Number.isInteger(R) && R > 0 && Number.isInteger(D) && D > 0,
      `EmbeddingBagOp: R, D must be positive integers, got ${R}, ${D}.`,
    );
    check(
      Number.isInteger(maxBags) && maxBags > 0 && Number.isInteger(maxNnz) && maxNnz > 0,
      `EmbeddingBagOp: maxBags, maxNnz must be positive integers, got ${maxBags}, ${maxNnz}.`,
    );
    const indices = gpu.buffer('embedding_bag:indices', maxNnz * 4);
    const offsets = gpu.buffer('embedding_bag:offsets', (maxBags + 1) * 4);
    const weights = gpu.buffer('embedding_bag:weights', maxNnz * 4);
    const owned = [indices, offsets, weights];
    let out = options.out;
    if (!out) owned.push((out = gpu.buffer('embedding_bag:out', maxBags * D * 4)));
    const spec = options.kernel ?? embeddingBagForward;
    const kernel = await gpu.bind(spec, { table: options.table, indices, offsets, weights, out });
    const { kernel: _, out: __, ...opts } = options;
    return new EmbeddingBagOp(gpu, { ...opts, mode }, kernel, out, { indices, offsets, weights }, owned);
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
    this.kernel.setParams({
      B,
      D,
      R,
      mean: mode === 'mean' ? 1 : 0,
      has_offsets: offsets ? 1 : 0,
      has_weights: weights ? 1 : 0,
    });
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

// ------------------------------------------------------------------------------------ backward

function checkBackward(
  table: ArrayLike<number> | null,
  indices: Uint32Array,
  offsets: Uint32Array | null,
  weights: ArrayLike<number> | null,
  dy: ArrayLike<number> | null,
  R: number,
  D: number,
  mode: BagMode,
): number {
  checkEmbeddingBag(table, indices, offsets, weights, R, D, mode);
  const B = bagCount(indices, offsets);
  check(
    dy === null || dy.length === B * D,
    `embedding_bag: dy has ${dy?.length} values, expected B·D = ${B}·${D} = ${B * D}.`,
  );
  return B;
}

/**
 * The backward on the GPU, deterministic (sorted segment sums, no atomics): the rows the batch
 * touched (ascending), the table's gradient for them dRows (U, D) — what row-wise Adagrad
 * updates — and, for weighted bags, dWeights (nnz). `table` is needed only for dWeights.
 * @example const { rows, dRows } = await embeddingBagBackward(gpu, null, indices, offsets, null, dy, R, D, 'mean');
 */
export async function embeddingBagBackward(
  gpu: Gpu,
  table: Float32Array | null,
  indices: Uint32Array,
  offsets: Uint32Array | null,
  weights: Float32Array | null,
  dy: Float32Array,
  R: number,
  D: number,
  mode: BagMode = 'sum',
): Promise<{ rows: Uint32Array; dRows: Float32Array; dWeights: Float32Array | null }> {
  const B = checkBackward(table, indices, offsets, weights, dy, R, D, mode);
  check(weights === null || table !== null, 'embedding_bag: the gradient of weights needs the table: pass it.');
  const plan = embeddingBagPlan(indices, offsets);
  const U = plan.rows.length;
  let dRows = new Float32Array(0);
  if (U > 0) {
    const { grad_rows } = await runOnce(gpu, embeddingBagBackwardRows, {
      inputs: {
        offsets: orDummy(offsets, new Uint32Array(1)),
        weights: orDummy(weights, new Float32Array(1)),
        sorted_pos: plan.sortedPos,
        sorted_bag: plan.sortedBag,
        segments: plan.segments,
        dy,
      },
      outputs: { grad_rows: U * D * 4 },
      params: { U, D, mean: mode === 'mean' ? 1 : 0, has_offsets: offsets ? 1 : 0, has_weights: weights ? 1 : 0 },
      workgroups: embeddingBagWorkgroups(U * D),
    });
    dRows = new Float32Array(grad_rows);
  }
  let dWeights: Float32Array | null = null;
  if (weights) {
    dWeights = new Float32Array(indices.length);
    if (indices.length > 0) {
      const { grad_weights } = await runOnce(gpu, embeddingBagBackwardWeights, {
        inputs: { table: table!, indices, offsets: orDummy(offsets, new Uint32Array(1)), dy },
        outputs: { grad_weights: indices.length * 4 },
        params: { nnz: indices.length, B, D, R, has_offsets: offsets ? 1 : 0 },
        workgroups: embeddingBagWorkgroups(indices.length),
      });
      dWeights = new Float32Array(grad_weights);
    }
  }
  return { rows: plan.rows, dRows, dWeights };
}

export interface EmbeddingBagBackwardOptions {
  /** (maxBags, D) f32: the gradient of the pooled output. */
  dy: BindingResource;
  R: number;
  D: number;
  maxBags: number;
  maxNnz: number;
  mode?: BagMode;
  /** The table (R, D): only for weighted bags, whose weights' gradient reads it. */
  table?: BindingResource;
  /** Per-sample weights: also computes gradWeights (needs `table`). */
  weighted?: boolean;
  /** Where dRows goes ((maxNnz, D) f32); allocated when not given. */
  gradRows?: BindingResource;
}

/**
 * The embedding_bag backward bound once to buffers sized for the largest batch. `set` sorts a
 * batch's indices on the CPU (embeddingBagPlan) and uploads the plan; `encode` records the
 * segment sums. After it, `rows` (U) u32 lists the touched rows ascending and `gradRows` (U, D)
 * their gradient: row-wise Adagrad updates exactly those rows.
 * @example
 * const back = await EmbeddingBagBackwardOp.create(gpu, { dy, R, D, maxBags: 256, maxNnz: 4096, mode: 'mean' });
 * const { rows } = back.set(indices, offsets, null);
 * gpu.run((pass) => back.encode(pass)); // back.gradRows: (rows.length, D)
 */
export class EmbeddingBagBackwardOp {
  /** Unique rows in the batch last `set` (U). */
  uniqueRows = 0;
  private bags = 0;
  private nnz = 0;
  private constructor(
    private readonly gpu: Gpu,
    private readonly opts: { R: number; D: number; maxBags: number; maxNnz: number; mode: BagMode; weighted: boolean },
    private readonly rowsKernel: BoundKernel,
    private readonly weightsKernel: BoundKernel | null,
    /** (maxNnz) u32: the rows the last batch touched, ascending (the first uniqueRows). */
    readonly rows: GPUBuffer,
    /** (maxNnz, D) f32: their gradient (the first uniqueRows rows). */
    readonly gradRows: BindingResource,
    /** (maxNnz) f32: the per-sample weights' gradient, when weighted. */
    readonly gradWeights: GPUBuffer | null,
    private readonly inputs: Record<
      'indices' | 'offsets' | 'weights' | 'sortedPos' | 'sortedBag' | 'segments',
      GPUBuffer
    >,
    private readonly owned: GPUBuffer[],
  ) {}

  static async create(gpu: Gpu, options: EmbeddingBagBackwardOptions): Promise<EmbeddingBagBackwardOp> {
    const { R, D, maxBags, maxNnz } = options;
    const mode = options.mode ?? 'sum';
    const weighted = options.weighted ?? false;
    check(
      Number.isInteger(R) && R > 0 && Number.isInteger(D) && D > 0,
      `EmbeddingBagBackwardOp: R, D must be positive integers, got ${R}, ${D}.`,
    );
    check(
      Number.isInteger(maxBags) && maxBags > 0 && Number.isInteger(maxNnz) && maxNnz > 0,
      `EmbeddingBagBackwardOp: maxBags, maxNnz must be positive integers, got ${maxBags}, ${maxNnz}.`,
    );
    check(
      !weighted || mode === 'sum',
      `EmbeddingBagBackwardOp: per-sample weights need mode 'sum', got mode '${mode}'.`,
    );
    check(!weighted || options.table, "EmbeddingBagBackwardOp: weighted bags need `table` for the weights' gradient.");
    const buf = (label: string, bytes: number) => gpu.buffer(`embedding_bag.backward:${label}`, bytes);
    const inputs = {
      indices: buf('indices', maxNnz * 4),
      offsets: buf('offsets', (maxBags + 1) * 4),
      weights: buf('weights', maxNnz * 4),
      sortedPos: buf('sorted_pos', maxNnz * 4),
      sortedBag: buf('sorted_bag', maxNnz * 4),
      segments: buf('segments', (maxNnz + 1) * 4),
    };
    const rows = buf('rows', maxNnz * 4);
    const owned = [...Object.values(inputs), rows];
    let gradRows = options.gradRows;
    if (!gradRows) owned.push((gradRows = buf('grad_rows', maxNnz * D * 4)));
    const gradWeights = weighted ? buf('grad_weights', maxNnz * 4) : null;
    if (gradWeights) owned.push(gradWeights);
    const rowsKernel = await gpu.bind(embeddingBagBackwardRows, {
      offsets: inputs.offsets,
      weights: inputs.weights,
      sorted_pos: inputs.sortedPos,
      sorted_bag: inputs.sortedBag,
      segments: inputs.segments,
      dy: options.dy,
      grad_rows: gradRows,
    });
    const weightsKernel = gradWeights
      ? await gpu.bind(embeddingBagBackwardWeights, {
          table: options.table!,
          indices: inputs.indices,
          offsets: inputs.offsets,
          dy: options.dy,
          grad_weights: gradWeights,
        })
      : null;
    return new EmbeddingBagBackwardOp(
      gpu,
      { R, D, maxBags, maxNnz, mode, weighted },
      rowsKernel,
      weightsKernel,
      rows,
      gradRows,
      gradWeights,
      inputs,
      owned,
    );
  }

  /** Checks a batch, sorts it into one segment per row and uploads the plan; returns the plan. */
  set(indices: Uint32Array, offsets: Uint32Array | null, weights: Float32Array | null): EmbeddingBagPlan {
    const { R, D, maxBags, maxNnz, mode, weighted } = this.opts;
    const B = checkBackward(null, indices, offsets, weights, null, R, D, mode);
    check(B <= maxBags, `EmbeddingBagBackwardOp: ${B} bags exceed maxBags = ${maxBags}.`);
    check(
      indices.length <= maxNnz,
      `EmbeddingBagBackwardOp: indices has ${indices.length} values, over maxNnz = ${maxNnz}.`,
    );
    check(
      weighted === (weights !== null),
      `EmbeddingBagBackwardOp: created ${weighted ? 'with' : 'without'} ` +
        `per-sample weights, but set() was given ${weights ? 'some' : 'none'}.`,
    );
    const plan = embeddingBagPlan(indices, offsets);
    const U = plan.rows.length;
    const { gpu, inputs } = this;
    if (U > 0) {
      gpu.write(inputs.sortedPos, plan.sortedPos);
      gpu.write(inputs.sortedBag, plan.sortedBag);
      gpu.write(this.rows, plan.rows);
      if (weighted) gpu.write(inputs.indices, indices);
    }
    gpu.write(inputs.segments, plan.segments);
    if (offsets) gpu.write(inputs.offsets, offsets);
    if (weights && weights.length > 0) gpu.write(inputs.weights, weights);
    const flags = { mean: mode === 'mean' ? 1 : 0, has_offsets: offsets ? 1 : 0, has_weights: weights ? 1 : 0 };
    this.rowsKernel.setParams({ U, D, ...flags });
    this.weightsKernel?.setParams({ nnz: indices.length, B, D, R, has_offsets: flags.has_offsets });
    this.uniqueRows = U;
    this.bags = B;
    this.nnz = indices.length;
    return plan;
  }

  /** Records the backward of the batch last `set` into `pass` (nothing when it touched no row). */
  encode(pass: GPUComputePassEncoder): void {
    check(this.bags > 0, 'EmbeddingBagBackwardOp: encode() before set(): no batch.');
    if (this.uniqueRows > 0) this.rowsKernel.dispatch(pass, embeddingBagWorkgroups(this.uniqueRows * this.opts.D));
    if (this.weightsKernel && this.nnz > 0) this.weightsKernel.dispatch(pass, embeddingBagWorkgroups(this.nnz));
  }

  destroy(): void {
    this.rowsKernel.destroy();
    this.weightsKernel?.destroy();
    for (const b of this.owned) b.destroy();
  }
}
