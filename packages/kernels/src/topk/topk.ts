// topk: the kernels' declarations, the host-side int8 quantizers and the CPU references (same
// argument order as the GPU op). Legend: B queries, N catalogue items, D embedding dim, k best
// items per query, E excluded (query, item) pairs, L radix levels.
import source from './topk.wgsl?raw';
import { check, defineKernel, NO_ROW } from '../kernel.ts';
import { like, type FloatArray } from '../testing.ts';

/** The id of an empty place in a result (a query whose exclusions leave fewer than k items). */
export const TOPK_NONE = NO_ROW;

/** Threads per workgroup in every topk entry point (fixed in the WGSL). */
export const TOPK_WG = 256;

/** Keys each histogram thread reads (the `HIST_STEPS` override). */
export const TOPK_HIST_STEPS = 16;

/** Threads per workgroup of the score kernels (the `SCORE_WG` override). */
export const TOPK_SCORE_WG = 256;

/** Rows per block of the interleaved item layout the score kernels read (`ROW_BLOCK`). */
export const TOPK_ROW_BLOCK = 64;

/** Per query, the items it must never get back: query b excludes ids[offsets[b] .. offsets[b+1]). */
export interface TopkExclusions {
  ids: ArrayLike<number>; // (E) item indices < N
  offsets: ArrayLike<number>; // (B + 1), offsets[0] = 0, offsets[B] = E
}

/**
 * An int8 catalogue (or one row-chunk of it): item ≈ scales[i] · values[i, :].
 * `values` is (rows, D) row-major, exactly the bytes of an I8 safetensors tensor.
 */
export interface Int8Items {
  values: Int8Array; // (rows, D)
  scales: Float32Array; // (rows)
}

/** The k best items of each query: ids (B, k) best first, NONE past the last; scores (B, k). */
export interface TopkResult<S extends FloatArray = Float32Array> {
  ids: Uint32Array;
  scores: S;
}

// ------------------------------------------------------------------------------------ kernels

const state = { name: 'state', kind: 'write' } as const;

/** Clears histograms (B, L, 256), state (B) and counts (B) for a new request; B·L workgroups. */
export const topkReset = defineKernel({
  name: 'topk.reset',
  source,
  entryPoint: 'reset',
  bindings: [state, { name: 'hist', kind: 'write' }, { name: 'counts', kind: 'write' }],
  params: [
    ['B', 'u32'],
    ['levels', 'u32'],
    ['K', 'u32'],
  ],
});

/** keys (B, N) = order-preserving bits of items (N, R·4, interleaved) · queries (B, R·4), one chunk. */
export const topkScoreF32 = defineKernel({
  name: 'topk.score_f32',
  source,
  entryPoint: 'score_f32',
  bindings: [
    { name: 'items', kind: 'read' },
    { name: 'queries', kind: 'read' },
    { name: 'keys', kind: 'write' },
  ],
  params: [
    ['B', 'u32'],
    ['N', 'u32'],
    ['R', 'u32'],
  ],
  overrides: { SCORE_WG: TOPK_SCORE_WG },
});

/** queries (B, stride) f32 → codes (B, 2, R·4) packed int8 (hi, lo) and scale (B) = 2^(e−7). */
export const topkQuantizeQueries = defineKernel({
  name: 'topk.quantize_queries',
  source,
  entryPoint: 'quantize_queries',
  bindings: [
    { name: 'queries', kind: 'read' },
    { name: 'codes', kind: 'write' },
    { name: 'qscale', kind: 'write' },
  ],
  params: [
    ['B', 'u32'],
    ['D', 'u32'],
    ['stride', 'u32'],
    ['R', 'u32'],
  ],
});

/** keys (B, N) from int8 items (N, R·16 bytes, interleaved), scales (N) and the quantized queries. */
export const topkScoreInt8 = defineKernel({
  name: 'topk.score_int8',
  source,
  entryPoint: 'score_int8',
  bindings: [
    { name: 'items', kind: 'read' },
    { name: 'scales', kind: 'read' },
    { name: 'codes', kind: 'read' },
    { name: 'qscale', kind: 'read' },
    { name: 'keys', kind: 'write' },
  ],
  params: [
    ['B', 'u32'],
    ['N', 'u32'],
    ['R', 'u32'],
  ],
  overrides: { SCORE_WG: TOPK_SCORE_WG },
});

/** Sets the key of each excluded (query, item) of one chunk to 0; B workgroups. */
export const topkExclude = defineKernel({
  name: 'topk.exclude',
  source,
  entryPoint: 'exclude',
  bindings: [
    { name: 'ids', kind: 'read' },
    { name: 'offsets', kind: 'read' },
    { name: 'keys', kind: 'write' },
  ],
  params: [
    ['B', 'u32'],
    ['N', 'u32'],
    ['base', 'u32'],
  ],
});

/** One radix level's histogram (B, 256) of one chunk's keys under the query's prefix. */
export const topkHistogram = defineKernel({
  name: 'topk.histogram',
  source,
  entryPoint: 'histogram',
  bindings: [
    { name: 'keys', kind: 'read' },
    { name: 'state', kind: 'read' },
    { name: 'hist', kind: 'write' },
  ],
  params: [
    ['B', 'u32'],
    ['N', 'u32'],
    ['base', 'u32'],
    ['index_bits', 'u32'],
    ['levels', 'u32'],
  ],
  overrides: { HIST_STEPS: TOPK_HIST_STEPS },
});

/** Picks each query's next 8 bits of the threshold from the level's histogram; B workgroups. */
export const topkSelect = defineKernel({
  name: 'topk.select',
  source,
  entryPoint: 'select_digit',
  bindings: [{ name: 'hist', kind: 'read' }, state],
  params: [
    ['B', 'u32'],
    ['levels', 'u32'],
    ['index_bits', 'u32'],
  ],
});

/** Appends one chunk's items at or above the threshold to the candidates (B, K) (key, id). */
export const topkCollect = defineKernel({
  name: 'topk.collect',
  source,
  entryPoint: 'collect',
  bindings: [
    { name: 'keys', kind: 'read' },
    { name: 'state', kind: 'read' },
    { name: 'cand', kind: 'write' },
    { name: 'counts', kind: 'write' },
  ],
  params: [
    ['B', 'u32'],
    ['N', 'u32'],
    ['base', 'u32'],
    ['index_bits', 'u32'],
    ['K', 'u32'],
  ],
});

/** Sorts the candidates by exact rank: ids (B, K) and scores (B, K), best first. */
export const topkRank = defineKernel({
  name: 'topk.rank',
  source,
  entryPoint: 'rank',
  bindings: [
    { name: 'cand', kind: 'read' },
    { name: 'counts', kind: 'read' },
    { name: 'ids', kind: 'write' },
    { name: 'scores', kind: 'write' },
  ],
  params: [
    ['B', 'u32'],
    ['K', 'u32'],
  ],
});

/**
 * The radix plan for a catalogue of N items: index bits (a multiple of 8, ≥ 8) and levels
 * (4 for the 32-bit score key, then one per 8 index bits).
 */
export function topkLevels(N: number): { indexBits: number; levels: number } {
  let bits = 0;
  while (bits < 32 && 2 ** bits < N) bits++;
  const indexBits = Math.max(8, Math.ceil(bits / 8) * 8);
  return { indexBits, levels: 4 + indexBits / 8 };
}

/** Workgroups of score_f32 / score_int8 over `rows` rows (one thread per row). */
export function topkScoreWorkgroups(rows: number): number {
  return Math.ceil(rows / TOPK_SCORE_WG);
}

/** 16-byte words per item row: 4 floats (f32) or 16 int8 values (int8), rows zero-padded. */
export function topkRowWords(D: number, kind: 'f32' | 'int8'): number {
  return Math.ceil(D / (kind === 'f32' ? 4 : 16));
}

/**
 * Lays item rows out as the score kernels read them: each row (`rowBytes` bytes of `src`, rows
 * back to back) zero-padded to R 16-byte words, in blocks of TOPK_ROW_BLOCK rows with word j of
 * row i at word ((i / 64)·R + j)·64 + i % 64. `dst` (zeroed) holds ⌈rows/64⌉·R·64 words of 4 u32.
 * @example interleaveRows(new Uint8Array(items.buffer), N, D * 4, Math.ceil(D / 4), dst);
 */
export function interleaveRows(src: Uint8Array, rows: number, rowBytes: number, R: number, dst: Uint32Array): void {
  check(
    rowBytes <= R * 16 && src.length >= rows * rowBytes,
    `interleaveRows: ${rows} rows of ${rowBytes} bytes do not fit R = ${R} words or the ${src.length}-byte source.`,
  );
  check(
    dst.length >= Math.ceil(rows / TOPK_ROW_BLOCK) * R * TOPK_ROW_BLOCK * 4,
    `interleaveRows: dst has ${dst.length} u32, too few for ${rows} rows of R = ${R} words.`,
  );
  const aligned = rowBytes % 4 === 0 && src.byteOffset % 4 === 0;
  const words = Math.ceil(rowBytes / 4);
  const pad = aligned ? null : new Uint8Array(R * 16);
  const padWords = pad ? new Uint32Array(pad.buffer) : null;
  const src32 = aligned ? new Uint32Array(src.buffer, src.byteOffset, (rows * rowBytes) / 4) : null;
  for (let r = 0; r < rows; r++) {
    let row: Uint32Array;
    let at = 0;
    if (src32) {
      row = src32;
      at = r * words;
    } else {
      pad!.fill(0);
      pad!.set(src.subarray(r * rowBytes, (r + 1) * rowBytes));
      row = padWords!;
    }
    const base = Math.floor(r / TOPK_ROW_BLOCK) * R * TOPK_ROW_BLOCK + (r % TOPK_ROW_BLOCK);
    for (let u = 0; u < words; u++) dst[(base + (u >> 2) * TOPK_ROW_BLOCK) * 4 + (u & 3)] = row[at + u];
  }
}

// ------------------------------------------------------------------------------------- checks

function isCount(n: number): boolean {
  return Number.isInteger(n) && n > 0;
}

/**
 * Checks the sizes, k and the exclusions of a topk call; throws a ShapeError naming the argument.
 * `items` is the catalogue's value count (N·D) or null when the caller checks it.
 */
export function checkTopk(
  queries: ArrayLike<number>,
  itemValues: number | null,
  B: number,
  N: number,
  D: number,
  k: number,
  exclude?: TopkExclusions | null,
): void {
  check(isCount(B) && isCount(N) && isCount(D), `topk: B, N, D must be positive integers, got ${B}, ${N}, ${D}.`);
  check(N <= 0xffffffff, `topk: N = ${N} items is more than 32-bit ids can address.`);
  check(
    queries.length === B * D,
    `topk: queries has ${queries.length} values, expected B·D = ${B}·${D} = ${B * D} (is D the items' dim?).`,
  );
  check(
    itemValues === null || itemValues === N * D,
    `topk: items has ${itemValues} values, expected N·D = ${N}·${D} = ${N * D} (is D the queries' dim?).`,
  );
  check(Number.isInteger(k) && k >= 1, `topk: k must be a positive integer, got ${k}.`);
  check(k <= N, `topk: k = ${k} is larger than N = ${N}, the number of items in the catalogue.`);
  if (exclude) checkExclusions(exclude, B, N);
}

/** Checks CSR exclusions for B queries over N items; throws a ShapeError naming the argument. */
export function checkExclusions(exclude: TopkExclusions, B: number, N: number): void {
  const { ids, offsets } = exclude;
  check(offsets.length === B + 1, `topk: exclude.offsets has ${offsets.length} values, expected B+1 = ${B + 1}.`);
  check(offsets[0] === 0, `topk: exclude.offsets[0] is ${offsets[0]}, expected 0.`);
  for (let b = 1; b <= B; b++) {
    if (!(Number.isInteger(offsets[b]) && offsets[b] >= offsets[b - 1])) {
      check(
        false,
        `topk: exclude.offsets[${b}] = ${offsets[b]} is less than ` +
          `exclude.offsets[${b - 1}] = ${offsets[b - 1]}: offsets must not decrease.`,
      );
    }
  }
  check(
    offsets[B] === ids.length,
    `topk: exclude.offsets[B] is ${offsets[B]}, expected exclude.ids.length = ${ids.length}.`,
  );
  for (let e = 0; e < ids.length; e++) {
    const id = ids[e];
    if (!(Number.isInteger(id) && id >= 0 && id < N))
      check(false, `topk: exclude.ids[${e}] = ${id} is not an item of the catalogue (ids are 0..N−1, N = ${N}).`);
  }
}

/**
 * CSR exclusions from one list per query.
 * @example exclusionsFromLists([[3, 7], [], [1]]) // { ids: [3, 7, 1], offsets: [0, 2, 2, 3] }
 */
export function exclusionsFromLists(lists: readonly ArrayLike<number>[]): { ids: Uint32Array; offsets: Uint32Array } {
  const offsets = new Uint32Array(lists.length + 1);
  lists.forEach((l, b) => (offsets[b + 1] = offsets[b] + l.length));
  const ids = new Uint32Array(offsets[lists.length]);
  lists.forEach((l, b) => ids.set(Array.from(l), offsets[b]));
  return { ids, offsets };
}

// -------------------------------------------------------------------------------- quantizers

/** WGSL's round(): to the nearest integer, halfway cases to the even one. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Host-side quantizer of a float32 catalogue: per row, scale = max|x| / 127 and
 * values = round(x / scale) ∈ [−127, 127] (an all-zero row gets scale 0).
 * @example const int8 = quantizeItems(itemEmbeddings, N, D); // { values (N·D) Int8Array, scales (N) }
 */
export function quantizeItems(items: FloatArray, N: number, D: number): Int8Items {
  check(isCount(N) && isCount(D), `quantizeItems: N, D must be positive integers, got ${N}, ${D}.`);
  check(
    items.length === N * D,
    `quantizeItems: items has ${items.length} values, expected N·D = ${N}·${D} = ${N * D}.`,
  );
  const values = new Int8Array(N * D);
  const scales = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    let m = 0;
    for (let d = 0; d < D; d++) m = Math.max(m, Math.abs(items[i * D + d]));
    const scale = Math.fround(m / 127);
    scales[i] = scale;
    if (scale === 0) continue;
    for (let d = 0; d < D; d++) values[i * D + d] = Math.max(-127, Math.min(127, Math.round(items[i * D + d] / scale)));
  }
  return { values, scales };
}

const f32bits = new Uint32Array(1);
const f32view = new Float32Array(f32bits.buffer);

/**
 * The GPU's query quantizer (quantize_queries), bit for bit: with 2^e the smallest power of two
 * such that max|q| ≤ 127·2^e, hi = round(q / 2^e) ∈ [−127, 127], lo = round((q − hi·2^e) / 2^(e−7))
 * ∈ [−64, 64], scale = 2^(e−7), so q ≈ scale · (128·hi + lo). Every step is exact in float32.
 */
export function quantizeQuery(q: ArrayLike<number>, D: number): { hi: Int8Array; lo: Int8Array; scale: number } {
  let m = 0;
  for (let d = 0; d < D; d++) m = Math.max(m, Math.abs(Math.fround(q[d])));
  f32view[0] = m;
  const big = Math.max((f32bits[0] >>> 23) & 0xff, 1) - 127;
  const e = m <= Math.fround(127 * 2 ** (big - 6)) ? big - 6 : big - 5;
  const hi = new Int8Array(D);
  const lo = new Int8Array(D);
  for (let d = 0; d < D; d++) {
    const x = Math.fround(q[d]);
    const h = roundHalfEven(x * 2 ** -e);
    const r = Math.fround(x - h * 2 ** e);
    hi[d] = h;
    lo[d] = roundHalfEven(r * 2 ** (7 - e));
  }
  return { hi, lo, scale: m === 0 ? 0 : 2 ** (e - 7) };
}

// --------------------------------------------------------------------------------- references

/**
 * The k best of N scores (highest first, ties → lower index, NaN below every number), skipping
 * `excluded` items; places past the last eligible item get TOPK_NONE and −inf.
 */
function selectTopk(
  scores: Float64Array,
  excluded: Uint8Array | null,
  k: number,
  ids: Uint32Array,
  out: FloatArray,
  at: number,
): void {
  const N = scores.length;
  // The k-th largest eligible number is a threshold; only items at or above it need sorting.
  const eligible: number[] = [];
  const numbers: number[] = [];
  for (let i = 0; i < N; i++) {
    if (excluded?.[i]) continue;
    eligible.push(i);
    if (!Number.isNaN(scores[i])) numbers.push(scores[i]);
  }
  let picked: number[];
  if (numbers.length >= k) {
    const sorted = Float64Array.from(numbers).sort();
    const t = sorted[sorted.length - k];
    picked = eligible.filter((i) => scores[i] >= t);
  } else {
    picked = eligible;
  }
  picked.sort((a, b) => {
    const sa = scores[a];
    const sb = scores[b];
    const na = Number.isNaN(sa);
    const nb = Number.isNaN(sb);
    if (na || nb) return na === nb ? a - b : na ? 1 : -1;
    return sb - sa || a - b;
  });
  for (let j = 0; j < k; j++) {
    const i = j < picked.length ? picked[j] : -1;
    ids[at + j] = i < 0 ? TOPK_NONE : i;
    out[at + j] = i < 0 ? -Infinity : scores[i];
  }
}

function excludedOf(exclude: TopkExclusions | null | undefined, b: number, mask: Uint8Array): Uint8Array | null {
  if (!exclude) return null;
  mask.fill(0);
  for (let e = exclude.offsets[b]; e < exclude.offsets[b + 1]; e++) mask[exclude.ids[e]] = 1;
  return mask;
}

/**
 * CPU reference of topk over float32 (or float64) items: scores (B, N) = queries (B, D) ·
 * items (N, D)ᵀ accumulated in float64, then per query the k highest, ties → lower index,
 * excluded items never returned (TOPK_NONE / −inf past the last eligible one).
 * @example const { ids, scores } = topkReference(queries, items, B, N, D, 100, exclusionsFromLists(seen));
 */
export function topkReference<T extends FloatArray>(
  queries: T,
  items: FloatArray,
  B: number,
  N: number,
  D: number,
  k: number,
  exclude?: TopkExclusions | null,
): TopkResult<T> {
  checkTopk(queries, items.length, B, N, D, k, exclude);
  const ids = new Uint32Array(B * k);
  const out = like(queries, B * k) as T;
  const scores = new Float64Array(N);
  const mask = new Uint8Array(N);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < N; i++) {
      let acc = 0;
      for (let d = 0; d < D; d++) acc += queries[b * D + d] * items[i * D + d];
      scores[i] = acc;
    }
    selectTopk(scores, excludedOf(exclude, b, mask), k, ids, out, b * k);
  }
  return { ids, scores: out };
}

/** Checks an int8 catalogue of N rows of D values; throws a ShapeError naming the argument. */
export function checkInt8Items(items: Int8Items, N: number, D: number): void {
  check(
    items.values.length === N * D,
    `topk: items.values has ${items.values.length} values, ` +
      `expected N·D = ${N}·${D} = ${N * D} (is D the queries' dim?).`,
  );
  check(
    items.scales.length === N,
    `topk: items.scales has ${items.scales.length} values, expected one per item (N = ${N}).`,
  );
}

/**
 * CPU reference of the int8 topk, bit for bit the GPU's arithmetic: each query quantized by
 * `quantizeQuery`, the exact integer c = 128·(hi·x) + (lo·x) per item, and the float32 score
 * f32(c) · (qscale · scale_i). Selection as topkReference.
 * @example const want = topkInt8Reference(queries, quantizeItems(items, N, D), B, N, D, k);
 */
export function topkInt8Reference(
  queries: Float32Array,
  items: Int8Items,
  B: number,
  N: number,
  D: number,
  k: number,
  exclude?: TopkExclusions | null,
): TopkResult<Float32Array> {
  checkTopk(queries, null, B, N, D, k, exclude);
  checkInt8Items(items, N, D);
  const ids = new Uint32Array(B * k);
  const out = new Float32Array(B * k);
  const scores = new Float64Array(N);
  const mask = new Uint8Array(N);
  const x = items.values;
  for (let b = 0; b < B; b++) {
    const { hi, lo, scale } = quantizeQuery(queries.subarray(b * D, (b + 1) * D), D);
    for (let i = 0; i < N; i++) {
      let h = 0;
      let l = 0;
      for (let d = 0; d < D; d++) {
        h += hi[d] * x[i * D + d];
        l += lo[d] * x[i * D + d];
      }
      scores[i] = Math.fround(Math.fround(128 * h + l) * Math.fround(scale * items.scales[i]));
    }
    selectTopk(scores, excludedOf(exclude, b, mask), k, ids, out, b * k);
  }
  return { ids, scores: out };
}

/**
 * Recall@k of `got` against `want` (both (B, k) ids): the share of want's real ids (not NONE)
 * found in got's row, over all queries.
 */
export function topkRecall(got: Uint32Array, want: Uint32Array, B: number, k: number): number {
  let hit = 0;
  let total = 0;
  for (let b = 0; b < B; b++) {
    const row = new Set(got.subarray(b * k, (b + 1) * k));
    for (let j = 0; j < k; j++) {
      const id = want[b * k + j];
      if (id === TOPK_NONE) continue;
      total++;
      if (row.has(id)) hit++;
    }
  }
  return total === 0 ? 1 : hit / total;
}
