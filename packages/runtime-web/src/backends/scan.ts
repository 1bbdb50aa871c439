// The CPU backend's exact catalogue search (docs/ARCHITECTURE.md, "The CPU path"):
// every item's inner product with the user vector, kept in a bounded min-heap of the k best, so a
// request costs N·D multiply-adds and about k·ln(N/k) heap updates instead of sorting N scores.
// The products run in WebAssembly SIMD (dot.wasm.ts: four float32 lanes, the catalogue copied
// once into its memory, rows padded to a multiple of 4) where the engine has it; else in
// JavaScript, accumulating in doubles in the order d = 0 … D-1 exactly as topkReference
// (@vireo/kernels) does. Ties go to the lower row. No allocation per request past the result.
import { TOPK_NONE } from '@vireo/kernels';
import { DOT_WASM } from './dot.wasm.ts';

/** Exact top-k over one catalogue, with its scratch buffers made once. */
export class ExactScan {
  /** 'wasm-simd' (float32 lanes) or 'js' (doubles, the reference's arithmetic). */
  readonly kind: 'wasm-simd' | 'js';
  /** (k) heap of the best rows so far, worst at the root. */
  private readonly heapIds: Uint32Array;
  private readonly heapScores: Float64Array;
  /** (N) 1 for a row the current request excludes; cleared after each search. */
  private readonly excluded: Uint8Array;
  private readonly simd: ReturnType<typeof instantiateDot>;
  /** Views into the wasm memory: the query (D4), the scores (N); the rows (N, D4) follow them. */
  private readonly query: Float32Array | null = null;
  private readonly scores: Float32Array | null = null;
  private readonly D4: number;

  /**
   * @param items (N, D) row-major float32 item embeddings
   * @param maxK the largest k a request asks for
   * @param options.simd false keeps the scan in JavaScript (the reference's arithmetic)
   */
  constructor(
    private readonly items: Float32Array,
    readonly N: number,
    readonly D: number,
    maxK: number,
    options: { simd?: boolean } = {},
  ) {
    if (items.length !== N * D)
      throw new Error(`ExactScan: items has ${items.length} values, expected N·D = ${N}·${D} = ${N * D}.`);
    const K = Math.max(1, Math.min(maxK, N));
    this.heapIds = new Uint32Array(K);
    this.heapScores = new Float64Array(K);
    this.excluded = new Uint8Array(N);
    this.D4 = Math.ceil(D / 4) * 4;
    this.simd = options.simd === false ? null : instantiateDot(4 * (this.D4 + N + N * this.D4));
    if (this.simd) {
      const buffer = this.simd.memory.buffer;
      this.query = new Float32Array(buffer, 0, this.D4);
      this.scores = new Float32Array(buffer, 4 * this.D4, N);
      const rows = new Float32Array(buffer, 4 * (this.D4 + N), N * this.D4);
      if (this.D4 === D) rows.set(items);
      else for (let i = 0; i < N; i++) rows.set(items.subarray(i * D, (i + 1) * D), i * this.D4);
    }
    this.kind = this.simd ? 'wasm-simd' : 'js';
  }

  /**
   * The k rows with the largest inner product with `u` (D), best first, leaving out `exclude`
   * (rows). Slots past the eligible rows hold TOPK_NONE and -Infinity, as topkReference's do.
   */
  search(u: Float32Array, k: number, exclude: ArrayLike<number>): { ids: Uint32Array; scores: Float32Array } {
    const { N, excluded, heapIds, heapScores } = this;
    if (k > heapIds.length && k <= N)
      throw new Error(`ExactScan: k = ${k} is over the ${heapIds.length} this scan was made for.`);
    const K = Math.min(k, N);
    for (let j = 0; j < exclude.length; j++) if (exclude[j] < N) excluded[exclude[j]] = 1;
    const size = this.simd ? this.selectSimd(u, K) : this.selectJs(u, K);
    for (let j = 0; j < exclude.length; j++) if (exclude[j] < N) excluded[exclude[j]] = 0;
    // Pop worst-first into the back of the result.
    const ids = new Uint32Array(k).fill(TOPK_NONE);
    const scores = new Float32Array(k).fill(-Infinity);
    for (let n = size; n > 0; n--) {
      ids[n - 1] = heapIds[0];
      scores[n - 1] = heapScores[0];
      const lastId = heapIds[n - 1];
      const lastScore = heapScores[n - 1];
      if (n > 1) siftDown(heapIds, heapScores, n - 1, lastId, lastScore);
    }
    return { ids, scores };
  }

  /** Scores every row in wasm, then keeps the K best eligible ones; returns the heap's size. */
  private selectSimd(u: Float32Array, K: number): number {
    const { N, D, D4, excluded, heapIds, heapScores } = this;
    const query = this.query!;
    const all = this.scores!;
    query.set(u.subarray(0, D));
    this.simd!.dot(0, 4 * (D4 + N), N, D4, 4 * D4);
    let size = 0;
    let worst = -Infinity;
    for (let i = 0; i < N; i++) {
      const s = all[i];
      if (size === K && !(s > worst)) continue; // also drops NaN
      if (excluded[i] === 1 || Number.isNaN(s)) continue;
      if (size < K) {
        siftUp(heapIds, heapScores, size++, i, s);
        if (size === K) worst = heapScores[0];
      } else {
        siftDown(heapIds, heapScores, K, i, s);
        worst = heapScores[0];
      }
    }
    return size;
  }

  /** The same in JavaScript, with the reference's double accumulation. */
  private selectJs(q: Float32Array, K: number): number {
    const { items, N, D, excluded, heapIds, heapScores } = this;
    let size = 0;
    let worst = -Infinity; // the root's score once the heap is full
    for (let i = 0, at = 0; i < N; i++, at += D) {
      // Unrolled by 4; `acc + a + b + c + e` adds left to right, the reference's order.
      let acc = 0;
      let d = 0;
      for (; d + 3 < D; d += 4)
        acc =
          acc +
          q[d] * items[at + d] +
          q[d + 1] * items[at + d + 1] +
          q[d + 2] * items[at + d + 2] +
          q[d + 3] * items[at + d + 3];
      for (; d < D; d++) acc += q[d] * items[at + d];
      if (size === K && !(acc > worst)) continue; // also drops NaN
      if (excluded[i] === 1 || Number.isNaN(acc)) continue;
      if (size < K) {
        siftUp(heapIds, heapScores, size++, i, acc);
        if (size === K) worst = heapScores[0];
      } else {
        siftDown(heapIds, heapScores, K, i, acc);
        worst = heapScores[0];
      }
    }
    return size;
  }
}

/** The SIMD kernel over a fresh memory of at least `bytes`; null where wasm SIMD is missing. */
function instantiateDot(
  bytes: number,
): { memory: WebAssembly.Memory; dot: (q: number, items: number, n: number, d: number, out: number) => void } | null {
  const W = (globalThis as { WebAssembly?: typeof WebAssembly }).WebAssembly;
  if (!W?.validate(DOT_WASM)) return null;
  const pages = Math.ceil(bytes / 65_536);
  if (pages > 65_536) return null; // over wasm32's 4 GiB
  try {
    const memory = new W.Memory({ initial: pages });
    // Small enough (a few hundred bytes) to compile synchronously on a page's main thread.
    const instance = new W.Instance(new W.Module(DOT_WASM), { m: { mem: memory } });
    return { memory, dot: instance.exports.dot as (q: number, i: number, n: number, d: number, o: number) => void };
  } catch {
    return null; // memory refused (a 32-bit browser, a low limit): the JavaScript scan
  }
}

/** True when (sa, ia) ranks below (sb, ib): a lower score, or the same score and a higher row. */
function worse(sa: number, ia: number, sb: number, ib: number): boolean {
  return sa < sb || (sa === sb && ia > ib);
}

function siftUp(ids: Uint32Array, scores: Float64Array, at: number, id: number, score: number): void {
  while (at > 0) {
    const parent = (at - 1) >> 1;
    if (!worse(score, id, scores[parent], ids[parent])) break;
    ids[at] = ids[parent];
    scores[at] = scores[parent];
    at = parent;
  }
  ids[at] = id;
  scores[at] = score;
}

/** Replaces the root with (id, score) and restores the heap over its first `size` slots. */
function siftDown(ids: Uint32Array, scores: Float64Array, size: number, id: number, score: number): void {
  let at = 0;
  for (;;) {
    let child = 2 * at + 1;
    if (child >= size) break;
    if (child + 1 < size && worse(scores[child + 1], ids[child + 1], scores[child], ids[child])) child++;
    if (!worse(scores[child], ids[child], score, id)) break;
    ids[at] = ids[child];
    scores[at] = scores[child];
    at = child;
  }
  ids[at] = id;
  scores[at] = score;
}
