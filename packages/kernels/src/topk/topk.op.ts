// topk on the GPU: retrieval over the whole catalogue. `TopkOp` is the engine's form: created
// once per catalogue (items uploaded once, every buffer, bind group and staging buffer made
// there), then `search` per request — or `setExclusions` + `encode` + `readResults` to share a
// pass with the user tower, which may write its output straight into `queries`. `topk()` and
// `topkInt8()` are the one-shot forms for checks and tools.
//
// A catalogue larger than one storage binding is split into row-chunks (each with its own items
// and keys buffers); the kernels run per chunk and merge through the shared histograms and
// candidate counters (see topk.wgsl).
import {
  TOPK_HIST_STEPS,
  TOPK_ROW_BLOCK,
  TOPK_WG,
  checkExclusions,
  checkInt8Items,
  checkTopk,
  interleaveRows,
  topkCollect,
  topkExclude,
  topkHistogram,
  topkLevels,
  topkQuantizeQueries,
  topkRank,
  topkReset,
  topkRowWords,
  topkScoreF32,
  topkScoreInt8,
  topkScoreWorkgroups,
  topkSelect,
  type Int8Items,
  type TopkExclusions,
  type TopkResult,
} from './topk.ts';
import { check } from '../kernel.ts';
import { GpuOutOfMemoryError, type BoundKernel, type Gpu } from '../gpu/index.ts';

/** A catalogue: float32 rows (N, D), or int8 rows with per-row scales; either whole or in row-chunks. */
export type TopkCatalogue = Float32Array | readonly Float32Array[] | Int8Items | readonly Int8Items[];

export interface BoundTopkOptions {
  /** Items in the catalogue and their dim. */
  N: number;
  D: number;
  /** The most queries one request may hold (default 1). */
  maxBatch?: number;
  /** The largest k a request may ask for (default min(N, 1000)). */
  maxK?: number;
  /** The most exclusions one request may hold, over all its queries (default 65,536). */
  maxExclusions?: number;
  /** Rows per chunk at most (default: as many as the adapter's binding limits allow). */
  maxChunkRows?: number;
}

interface Chunk {
  base: number; // first item id of the chunk
  rows: number;
  score: BoundKernel;
  exclude: BoundKernel;
  histogram: BoundKernel;
  collect: BoundKernel;
}

type Sources =
  | { kind: 'f32'; rows: readonly Float32Array[] }
  | { kind: 'int8'; rows: readonly Int8Array[]; scales: readonly Float32Array[] };

/** Splits a catalogue into its kind and row-chunk lists, checking that the chunks hold N·D values. */
function sourcesOf(items: TopkCatalogue, N: number, D: number): Sources {
  const list = (items instanceof Float32Array || !Array.isArray(items) ? [items] : items) as readonly (
    | Float32Array
    | Int8Items
  )[];
  check(list.length > 0, 'topk: items is an empty list of chunks.');
  if (list[0] instanceof Float32Array) {
    const rows = list as readonly Float32Array[];
    rows.forEach((c, i) =>
      check(
        c instanceof Float32Array && c.length % D === 0,
        `topk: items chunk ${i} has ${c.length} values, not a whole number of rows of D = ${D}.`,
      ),
    );
    const total = rows.reduce((s, c) => s + c.length, 0);
    check(
      total === N * D,
      `topk: items has ${total} values, expected N·D = ${N}·${D} = ${N * D} (is D the queries' dim?).`,
    );
    return { kind: 'f32', rows };
  }
  const chunks = list as readonly Int8Items[];
  if (chunks.length === 1 && chunks[0]?.values instanceof Int8Array && chunks[0].scales instanceof Float32Array)
    checkInt8Items(chunks[0], N, D);
  let n = 0;
  chunks.forEach((c, i) => {
    check(
      c && c.values instanceof Int8Array && c.scales instanceof Float32Array,
      `topk: items chunk ${i} is neither a Float32Array nor { values: Int8Array, scales: Float32Array }.`,
    );
    check(
      c.values.length === c.scales.length * D,
      `topk: items chunk ${i} has ${c.values.length} values ` +
        `for ${c.scales.length} scales, expected scales·D (D = ${D}).`,
    );
    n += c.scales.length;
  });
  check(n === N, `topk: items has ${n} rows (scales), expected N = ${N}.`);
  return { kind: 'int8', rows: chunks.map((c) => c.values), scales: chunks.map((c) => c.scales) };
}

/** A row-chunked array seen as bytes of consecutive rows. */
class RowBytes {
  private starts: number[] = [];

  constructor(
    private readonly chunks: readonly (Float32Array | Int8Array)[],
    readonly rowBytes: number,
  ) {
    let row = 0;
    for (const c of chunks) {
      this.starts.push(row);
      row += c.byteLength / rowBytes;
    }
    this.starts.push(row);
  }

  /** The bytes of rows a..b−1: a view when they lie in one chunk, else a copy. */
  get(a: number, b: number): Uint8Array {
    let out: Uint8Array | null = null;
    for (let c = 0; c < this.chunks.length; c++) {
      const [s, e] = [this.starts[c], this.starts[c + 1]];
      if (e <= a || s >= b) continue;
      const chunk = this.chunks[c];
      const from = Math.max(a, s);
      const view = new Uint8Array(
        chunk.buffer,
        chunk.byteOffset + (from - s) * this.rowBytes,
        (Math.min(b, e) - from) * this.rowBytes,
      );
      if (s <= a && b <= e) return view;
      out ??= new Uint8Array((b - a) * this.rowBytes);
      out.set(view, (from - a) * this.rowBytes);
    }
    return out ?? new Uint8Array(0);
  }
}

/** TopkOp halves its chunks at most down to this many (1,024 chunks) before it gives up. */
const MAX_CHUNKS = 1024;

/** Rows laid out per upload step (a multiple of TOPK_ROW_BLOCK): bounds the temporary copy. */
const UPLOAD_ROWS = 4096;

/** Writes rows base..base+rows−1 into `buffer` in the score kernels' interleaved layout. */
function uploadItems(gpu: Gpu, buffer: GPUBuffer, src: RowBytes, R: number, base: number, rows: number): void {
  for (let a = 0; a < rows; a += UPLOAD_ROWS) {
    const n = Math.min(UPLOAD_ROWS, rows - a);
    const dst = new Uint32Array(Math.ceil(n / TOPK_ROW_BLOCK) * R * TOPK_ROW_BLOCK * 4);
    interleaveRows(src.get(base + a, base + a + n), n, src.rowBytes, R, dst);
    gpu.write(buffer, dst, (a / TOPK_ROW_BLOCK) * R * TOPK_ROW_BLOCK * 16);
  }
}

/**
 * Top-k retrieval over one catalogue, bound once: float32 or int8 items uploaded at creation,
 * per request the query vectors (B, D) and CSR exclusions in, ids (B, k) and scores (B, k) out,
 * best first, ties → lower id, excluded items never returned (TOPK_NONE / −inf past the last
 * eligible item). No GPU allocation per request. Requests on one TopkOp run one at a time.
 * @example
 * const retrieval = await TopkOp.create(gpu, itemEmbeddings, { N, D: 128, maxK: 1000 });
 * const { ids, scores } = await retrieval.search(userVector, 1000, exclusionsFromLists([seen]));
 */
export class TopkOp {
  /** Queries (maxBatch, queryStride) f32: the user tower may write here and then `encode`. */
  readonly queries: GPUBuffer;
  /** Floats per query row in `queries` (D rounded up to a multiple of 4; padding stays 0). */
  readonly queryStride: number;
  /** Outputs of the last `encode`: ids (batch, k) u32 and scores (batch, k) f32, packed by k. */
  readonly ids: GPUBuffer;
  readonly scores: GPUBuffer;
  readonly N: number;
  readonly D: number;
  readonly kind: 'f32' | 'int8';
  readonly maxBatch: number;
  readonly maxK: number;
  readonly maxExclusions: number;
  readonly chunkRows: number;

  private chunks: Chunk[] = [];
  private owned: GPUBuffer[] = [];
  private kernels: BoundKernel[] = [];
  private reset!: BoundKernel;
  private quantize: BoundKernel | null = null;
  private select!: BoundKernel;
  private rank!: BoundKernel;
  private exIds!: GPUBuffer;
  private exOffsets!: GPUBuffer;
  private readIds!: GPUBuffer;
  private readScores!: GPUBuffer;
  private readonly levels: number;
  private readonly indexBits: number;
  private readonly R: number;
  private hostQueries: Float32Array;
  private hostOffsets: Uint32Array;
  private hostIds: Uint32Array | null = null;
  private shape = { batch: 0, k: 0 };
  private excluding = false;
  private pending: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly gpu: Gpu,
    kind: 'f32' | 'int8',
    options: Required<BoundTopkOptions>,
  ) {
    const { N, D } = options;
    this.N = N;
    this.D = D;
    this.kind = kind;
    this.maxBatch = options.maxBatch;
    this.maxK = options.maxK;
    this.maxExclusions = options.maxExclusions;
    ({ levels: this.levels, indexBits: this.indexBits } = topkLevels(N));
    this.R = topkRowWords(D, kind);
    this.queryStride = Math.ceil(D / 4) * 4;
    const cap = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
    // Whole row blocks per chunk, within the binding limit for its items and its keys.
    const blocks = Math.floor(cap / (this.R * 16 * TOPK_ROW_BLOCK)) * TOPK_ROW_BLOCK;
    this.chunkRows = Math.max(1, Math.min(blocks, Math.floor(cap / (4 * this.maxBatch)), options.maxChunkRows, N));
    check(
      this.maxBatch * this.maxK * 8 <= cap,
      `topk: maxBatch·maxK = ${this.maxBatch}·${this.maxK} candidates need ` +
        `${this.maxBatch * this.maxK * 8} bytes, over this adapter's binding limit ${cap}: use smaller batches.`,
    );
    const buf = (label: string, bytes: number) => {
      const b = gpu.buffer(`topk:${label}`, bytes);
      this.owned.push(b);
      return b;
    };
    this.queries = buf('queries', this.maxBatch * this.queryStride * 4);
    this.ids = buf('ids', this.maxBatch * this.maxK * 4);
    this.scores = buf('scores', this.maxBatch * this.maxK * 4);
    this.hostQueries = new Float32Array(this.maxBatch * this.queryStride);
    this.hostOffsets = new Uint32Array(this.maxBatch + 1);
  }

  /** Uploads the catalogue and binds every kernel; the one place where this op allocates. */
  static async create(gpu: Gpu, items: TopkCatalogue, options: BoundTopkOptions): Promise<TopkOp> {
    const { N, D } = options;
    check(
      Number.isInteger(N) && N > 0 && Number.isInteger(D) && D > 0,
      `topk: N, D must be positive integers, got ${N}, ${D}.`,
    );
    const opts: Required<BoundTopkOptions> = {
      maxBatch: 1,
      maxK: Math.min(N, 1000),
      maxExclusions: 1 << 16,
      maxChunkRows: Infinity,
      ...options,
    };
    for (const name of ['maxBatch', 'maxK'] as const) {
      check(
        Number.isInteger(opts[name]) && opts[name] >= 1,
        `topk: ${name} must be a positive integer, got ${opts[name]}.`,
      );
    }
    check(
      Number.isInteger(opts.maxExclusions) && opts.maxExclusions >= 0,
      `topk: maxExclusions must be a whole number ≥ 0, got ${opts.maxExclusions}.`,
    );
    check(opts.maxChunkRows >= 1, `topk: maxChunkRows must be at least 1, got ${opts.maxChunkRows}.`);
    const sources = sourcesOf(items, N, D);
    // Chunks as large as the binding limit, halved while the driver cannot allocate them (some
    // refuse single allocations below maxBufferSize); one clear sentence when even small ones fail.
    for (let maxChunkRows = opts.maxChunkRows; ; ) {
      const op = new TopkOp(gpu, sources.kind, { ...opts, maxChunkRows });
      try {
        await op.build(sources);
        return op;
      } catch (err) {
        op.destroy();
        if (!(err instanceof GpuOutOfMemoryError)) throw err;
        const minRows = Math.max(TOPK_ROW_BLOCK, Math.ceil(N / MAX_CHUNKS));
        if (op.chunkRows <= minRows) {
          const gib = (N * (sources.kind === 'f32' ? D * 4 : D + 4)) / 2 ** 30;
          throw new GpuOutOfMemoryError(
            `topk: the catalogue of ${N} × ${D} ${sources.kind} items (${gib.toFixed(2)} GiB) does not fit this ` +
              `adapter's memory, even in chunks of ${op.chunkRows} rows ` +
              `(${err.message}): use int8 item embeddings, a smaller catalogue or a GPU with more memory.`,
          );
        }
        maxChunkRows = Math.max(minRows, Math.floor(op.chunkRows / 2 / TOPK_ROW_BLOCK) * TOPK_ROW_BLOCK);
      }
    }
  }

  private async build(sources: Sources): Promise<void> {
    const { gpu, maxBatch: B, maxK: K } = this;
    const buf = (label: string, bytes: number) => {
      const b = gpu.buffer(`topk:${label}`, bytes);
      this.owned.push(b);
      return b;
    };
    const bind = async (...args: Parameters<Gpu['bind']>) => {
      const k = await gpu.bind(...args);
      this.kernels.push(k);
      return k;
    };
    const state = buf('state', B * 32);
    const hist = buf('hist', B * this.levels * 256 * 4);
    const counts = buf('counts', B * 4);
    const cand = buf('cand', B * K * 8);
    this.exIds = buf('exclude.ids', Math.max(1, this.maxExclusions) * 4);
    this.exOffsets = buf('exclude.offsets', (B + 1) * 4);
    const staging = (label: string) => {
      const b = gpu.device.createBuffer({
        label: `topk:${label}`,
        size: B * K * 4,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      this.owned.push(b);
      return b;
    };
    this.readIds = staging('ids:read');
    this.readScores = staging('scores:read');

    this.reset = await bind(topkReset, { state, hist, counts });
    this.select = await bind(topkSelect, { hist, state });
    this.rank = await bind(topkRank, { cand, counts, ids: this.ids, scores: this.scores });
    let codes: GPUBuffer | null = null;
    let qscale: GPUBuffer | null = null;
    if (sources.kind === 'int8') {
      codes = buf('query.codes', B * 2 * this.R * 16);
      qscale = buf('query.scale', B * 4);
      this.quantize = await bind(topkQuantizeQueries, { queries: this.queries, codes, qscale });
    }
    const rowBytes = new RowBytes(sources.rows, sources.kind === 'f32' ? this.D * 4 : this.D);
    const scaleBytes = sources.kind === 'int8' ? new RowBytes(sources.scales, 4) : null;
    for (let base = 0; base < this.N; base += this.chunkRows) {
      const rows = Math.min(this.chunkRows, this.N - base);
      const c = base / this.chunkRows;
      const { keys, items, scales } = await gpu.allocate(() => ({
        keys: buf(`keys[${c}]`, B * rows * 4),
        items: buf(`items[${c}]`, Math.ceil(rows / TOPK_ROW_BLOCK) * TOPK_ROW_BLOCK * this.R * 16),
        scales: sources.kind === 'int8' ? buf(`scales[${c}]`, rows * 4) : null,
      }));
      uploadItems(gpu, items, rowBytes, this.R, base, rows);
      let score: BoundKernel;
      if (sources.kind === 'f32') {
        score = await bind(topkScoreF32, { items, queries: this.queries, keys });
      } else {
        gpu.write(scales!, scaleBytes!.get(base, base + rows));
        score = await bind(topkScoreInt8, { items, scales: scales!, codes: codes!, qscale: qscale!, keys });
      }
      this.chunks.push({
        base,
        rows,
        score,
        exclude: await bind(topkExclude, { ids: this.exIds, offsets: this.exOffsets, keys }),
        histogram: await bind(topkHistogram, { keys, state, hist }),
        collect: await bind(topkCollect, { keys, state, cand, counts }),
      });
    }
  }

  private checkShape(batch: number, k: number): void {
    check(
      Number.isInteger(batch) && batch >= 1 && batch <= this.maxBatch,
      `topk: a batch of ${batch} queries is outside this TopkOp's 1..${this.maxBatch} (maxBatch).`,
    );
    check(Number.isInteger(k) && k >= 1, `topk: k must be a positive integer, got ${k}.`);
    check(k <= this.N, `topk: k = ${k} is larger than N = ${this.N}, the number of items in the catalogue.`);
    check(k <= this.maxK, `topk: k = ${k} is larger than this TopkOp's maxK = ${this.maxK}.`);
  }

  /** Writes the params of every kernel when the request's shape changed since the last one. */
  private setShape(batch: number, k: number): void {
    if (this.shape.batch === batch && this.shape.k === k) return;
    this.shape = { batch, k };
    const { levels, indexBits: index_bits, R } = this;
    const B = batch;
    this.reset.setParams({ B, levels, K: k });
    this.quantize?.setParams({ B, D: this.D, stride: this.queryStride, R });
    this.select.setParams({ B, levels, index_bits });
    this.rank.setParams({ B, K: k });
    for (const c of this.chunks) {
      const N = c.rows;
      c.score.setParams({ B, N, R });
      c.exclude.setParams({ B, N, base: c.base });
      c.histogram.setParams({ B, N, base: c.base, index_bits, levels });
      c.collect.setParams({ B, N, base: c.base, index_bits, K: k });
    }
  }

  /** Writes query vectors (batch, D) into `queries`; returns the batch size. */
  setQueries(queries: Float32Array): number {
    const batch = queries.length / this.D;
    check(
      Number.isInteger(batch) && batch >= 1,
      `topk: queries has ${queries.length} values, not a whole number of rows of D = ${this.D} (is D the items' dim?).`,
    );
    check(
      batch <= this.maxBatch,
      `topk: a batch of ${batch} queries is more than this TopkOp's maxBatch = ${this.maxBatch}.`,
    );
    if (this.queryStride === this.D) {
      this.gpu.write(this.queries, queries);
    } else {
      const rows = this.hostQueries.subarray(0, batch * this.queryStride);
      for (let b = 0; b < batch; b++) rows.set(queries.subarray(b * this.D, (b + 1) * this.D), b * this.queryStride);
      this.gpu.write(this.queries, rows);
    }
    return batch;
  }

  /** Writes (or with none, clears) the exclusions of the next request of `batch` queries. */
  setExclusions(batch: number, exclude?: TopkExclusions | null): void {
    const E = exclude ? exclude.ids.length : 0;
    if (exclude) checkExclusions(exclude, batch, this.N);
    check(
      E <= this.maxExclusions,
      `topk: exclude.ids has ${E} values, more than this TopkOp's ` +
        `maxExclusions = ${this.maxExclusions}: create it with a larger maxExclusions.`,
    );
    this.excluding = E > 0;
    if (!exclude || E === 0) return;
    let ids: Uint32Array;
    if (exclude.ids instanceof Uint32Array) ids = exclude.ids;
    else {
      this.hostIds ??= new Uint32Array(this.maxExclusions);
      ids = this.hostIds.subarray(0, E);
      for (let e = 0; e < E; e++) ids[e] = exclude.ids[e];
    }
    const offsets = this.hostOffsets.subarray(0, batch + 1);
    for (let b = 0; b <= batch; b++) offsets[b] = exclude.offsets[b];
    this.gpu.write(this.exIds, ids);
    this.gpu.write(this.exOffsets, offsets);
  }

  /**
   * Records the whole search for `batch` queries already in `queries` (and the exclusions last
   * set) into `pass`; results land in `ids` / `scores`. One encode per submit: params are
   * written at queue time.
   */
  encode(pass: GPUComputePassEncoder, batch: number, k: number): void {
    this.checkShape(batch, k);
    this.setShape(batch, k);
    this.reset.dispatch(pass, batch * this.levels);
    this.quantize?.dispatch(pass, batch);
    for (const c of this.chunks) c.score.dispatch(pass, topkScoreWorkgroups(c.rows));
    if (this.excluding) for (const c of this.chunks) c.exclude.dispatch(pass, batch);
    for (let level = 0; level < this.levels; level++) {
      for (const c of this.chunks) c.histogram.dispatch(pass, batch * Math.ceil(c.rows / (TOPK_WG * TOPK_HIST_STEPS)));
      this.select.dispatch(pass, batch);
    }
    for (const c of this.chunks) c.collect.dispatch(pass, batch * Math.ceil(c.rows / TOPK_WG));
    this.rank.dispatch(pass, batch * Math.ceil(k / TOPK_WG));
  }

  /** Copies the results of the last submitted `encode` back: ids and scores (batch, k). */
  async readResults(batch: number, k: number): Promise<TopkResult> {
    const bytes = batch * k * 4;
    const encoder = this.gpu.device.createCommandEncoder();
    encoder.copyBufferToBuffer(this.ids, 0, this.readIds, 0, bytes);
    encoder.copyBufferToBuffer(this.scores, 0, this.readScores, 0, bytes);
    this.gpu.device.queue.submit([encoder.finish()]);
    await Promise.all([
      this.readIds.mapAsync(GPUMapMode.READ, 0, bytes),
      this.readScores.mapAsync(GPUMapMode.READ, 0, bytes),
    ]);
    const ids = new Uint32Array(this.readIds.getMappedRange(0, bytes).slice(0));
    const scores = new Float32Array(this.readScores.getMappedRange(0, bytes).slice(0));
    this.readIds.unmap();
    this.readScores.unmap();
    return { ids, scores };
  }

  /**
   * The k best items for each query (batch, D), minus its exclusions; one request at a time.
   * @example const { ids, scores } = await retrieval.search(userVectors, 100, { ids: seen, offsets: [0, seen.length]
   * });
   */
  search(
    queries: Float32Array,
    k: number,
    exclude?: TopkExclusions | null,
    timestampWrites?: GPUComputePassTimestampWrites,
  ): Promise<TopkResult> {
    const run = async () => {
      const batch = this.setQueries(queries);
      this.checkShape(batch, k);
      this.setExclusions(batch, exclude);
      this.gpu.run((pass) => this.encode(pass, batch, k), timestampWrites);
      return this.readResults(batch, k);
    };
    const result = this.pending.then(run, run);
    this.pending = result.catch(() => undefined);
    return result;
  }

  destroy(): void {
    for (const k of this.kernels) k.destroy();
    for (const b of this.owned) b.destroy();
    this.kernels = [];
    this.owned = [];
    this.chunks = [];
  }
}

/** Queries per batch in the one-shot forms (each batch's keys take batch·N·4 bytes). */
const ONE_SHOT_BATCH = 32;

async function searchAll(
  gpu: Gpu,
  queries: Float32Array,
  items: TopkCatalogue,
  B: number,
  N: number,
  D: number,
  k: number,
  exclude?: TopkExclusions | null,
  maxChunkRows?: number,
): Promise<TopkResult> {
  const maxBatch = Math.min(B, ONE_SHOT_BATCH);
  let maxExclusions = 0;
  for (let b0 = 0; exclude && b0 < B; b0 += maxBatch) {
    maxExclusions = Math.max(maxExclusions, exclude.offsets[Math.min(B, b0 + maxBatch)] - exclude.offsets[b0]);
  }
  const op = await TopkOp.create(gpu, items, {
    N,
    D,
    maxBatch,
    maxK: k,
    maxExclusions,
    ...(maxChunkRows ? { maxChunkRows } : {}),
  });
  try {
    const ids = new Uint32Array(B * k);
    const scores = new Float32Array(B * k);
    for (let b0 = 0; b0 < B; b0 += maxBatch) {
      const b1 = Math.min(B, b0 + maxBatch);
      let part: TopkExclusions | null = null;
      if (exclude) {
        const from = exclude.offsets[b0];
        const offsets = Uint32Array.from({ length: b1 - b0 + 1 }, (_, j) => exclude.offsets[b0 + j] - from);
        const ids = Uint32Array.from({ length: offsets[b1 - b0] }, (_, e) => exclude.ids[from + e]);
        part = { ids, offsets };
      }
      const r = await op.search(queries.subarray(b0 * D, b1 * D), k, part);
      ids.set(r.ids, b0 * k);
      scores.set(r.scores, b0 * k);
    }
    return { ids, scores };
  } finally {
    op.destroy();
  }
}

function valueCount(items: Float32Array | readonly Float32Array[]): number {
  return items instanceof Float32Array ? items.length : items.reduce((s, c) => s + c.length, 0);
}

/**
 * Top-k by dot product on the GPU: queries (B, D), float32 items (N, D) (or a list of row-chunks)
 * → ids (B, k) best first (ties → lower id) and their scores; exclusions in CSR never returned.
 * `maxChunkRows` forces smaller chunks (tests of the chunked path).
 * @example const { ids, scores } = await topk(gpu, queries, items, B, N, D, 100, { ids: seen, offsets });
 */
export async function topk(
  gpu: Gpu,
  queries: Float32Array,
  items: Float32Array | readonly Float32Array[],
  B: number,
  N: number,
  D: number,
  k: number,
  exclude?: TopkExclusions | null,
  maxChunkRows?: number,
): Promise<TopkResult> {
  checkTopk(queries, valueCount(items), B, N, D, k, exclude);
  return searchAll(gpu, queries, items, B, N, D, k, exclude, maxChunkRows);
}

/**
 * The same over int8 items with per-row scales (see quantizeItems); each query is quantized on
 * the GPU to int8 codes (exactly as quantizeQuery) and scored with packed 4×8 dot products.
 * @example const { ids } = await topkInt8(gpu, queries, quantizeItems(items, N, D), B, N, D, 100);
 */
export async function topkInt8(
  gpu: Gpu,
  queries: Float32Array,
  items: Int8Items | readonly Int8Items[],
  B: number,
  N: number,
  D: number,
  k: number,
  exclude?: TopkExclusions | null,
  maxChunkRows?: number,
): Promise<TopkResult> {
  checkTopk(queries, null, B, N, D, k, exclude);
  return searchAll(gpu, queries, items, B, N, D, k, exclude, maxChunkRows);
}
