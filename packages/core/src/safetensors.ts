// safetensors (https://github.com/huggingface/safetensors), the tensor format of model bundles:
//   [8 bytes: N, u64 little-endian] [N bytes: JSON header, space-padded to a multiple of 8]
//   [data: raw little-endian tensors, contiguous, in header offset order]
// header: { "__metadata__": {str: str}, name: { dtype, shape, data_offsets: [begin, end] } }
// with offsets relative to the start of the data. Typed arrays read zero-copy when aligned.
// Like every typed-array user in Vireo, this assumes a little-endian host (all current targets).

/** Tensor element types Vireo reads and writes. F16 and BF16 arrive as raw Uint16 bits. */
export type Dtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL';

export type TypedArray =
  | Float64Array
  | Float32Array
  | Uint16Array
  | Int16Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int8Array
  | Uint8Array;

/** One tensor: element type, shape (row-major), and its elements. */
export interface Tensor<T extends TypedArray = TypedArray> {
  dtype: Dtype;
  shape: number[];
  data: T;
}

type ArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray;
  new (length: number): TypedArray;
  BYTES_PER_ELEMENT: number;
};

const DTYPES: Record<Dtype, ArrayCtor> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U64: BigUint64Array,
  U32: Uint32Array,
  U16: Uint16Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
} as unknown as Record<Dtype, ArrayCtor>;

/** Bytes per element of a dtype. */
export function dtypeSize(dtype: Dtype): number {
  return DTYPES[dtype].BYTES_PER_ELEMENT;
}

/** A file that is not valid safetensors; the message says what and where. */
export class SafetensorsError extends Error {
  constructor(message: string) {
    super(`safetensors: ${message}`);
    this.name = 'SafetensorsError';
  }
}

/** Headers above this are refused, as the reference implementation does (100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Reads a safetensors file. Typed arrays view `bytes` without copying when their offset is aligned
 * (always the case for files written by {@link writeSafetensors} or the reference implementation).
 * Throws a {@link SafetensorsError} naming the tensor for any bad length, dtype, shape or offset.
 * @example
 * const { tensors, metadata } = readSafetensors(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 * const itemEmbeddings = tensors.get('item_embeddings')!.data as Float32Array; // (N, D)
 */
export function readSafetensors(bytes: Uint8Array): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  if (bytes.byteLength < 8)
    throw new SafetensorsError(`file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > MAX_HEADER_BYTES) throw new SafetensorsError(`header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit`);
  if (8 + n > bytes.byteLength)
    throw new SafetensorsError(`header length ${n} runs past the end of the ${bytes.byteLength}-byte file`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes.subarray(8, 8 + n)));
  } catch (err) {
    throw new SafetensorsError(`header is not valid UTF-8 JSON: ${(err as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw new SafetensorsError('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLength = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, Tensor>();
  const spans: Array<[number, number, string]> = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (info === null || typeof info !== 'object' || Array.isArray(info))
        throw new SafetensorsError('__metadata__ is not an object of strings');
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') throw new SafetensorsError(`__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (t === null || typeof t !== 'object') throw new SafetensorsError(`tensor "${name}": entry is not an object`);
    if (typeof t.dtype !== 'string' || !(t.dtype in DTYPES))
      throw new SafetensorsError(
        `tensor "${name}": unsupported dtype ` +
          `${JSON.stringify(t.dtype)} (expected one of ${Object.keys(DTYPES).join(', ')})`,
      );
    const dtype = t.dtype as Dtype;
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new SafetensorsError(
        `tensor "${name}": shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`,
      );
    const shape = t.shape as number[];
    const off = t.data_offsets;
    if (
      !Array.isArray(off) ||
      off.length !== 2 ||
      !off.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      off[0] > off[1]
    ) {
      throw new SafetensorsError(
        `tensor "${name}": data_offsets ${JSON.stringify(off)} is not [begin, end] with 0 ≤ begin ≤ end`,
      );
    }
    const [begin, end] = off as [number, number];
    const size = dtypeSize(dtype);
    const count = numel(shape);
    if (!Number.isSafeInteger(count * size))
      throw new SafetensorsError(`tensor "${name}": shape ${JSON.stringify(shape)} is too large`);
    if (end - begin !== count * size)
      throw new SafetensorsError(
        `tensor "${name}": data_offsets [${begin}, ${end}] hold ` +
          `${end - begin} bytes but ${dtype} ${JSON.stringify(shape)} needs ${count * size}`,
      );
    if (end > dataLength)
      throw new SafetensorsError(`tensor "${name}": data_offsets end ${end} is past the ${dataLength} bytes of data`);
    spans.push([begin, end, name]);
    const at = bytes.byteOffset + dataStart + begin;
    const Ctor = DTYPES[dtype];
    const data =
      at % size === 0
        ? new Ctor(bytes.buffer, at, count)
        : (() => {
            const copy = new Ctor(count);
            new Uint8Array(copy.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
            return copy;
          })();
    tensors.set(name, { dtype, shape, data });
  }
  // The data must be covered exactly: no overlaps, no holes, no trailing bytes.
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cursor = 0;
  for (const [begin, end, name] of spans) {
    if (begin < cursor)
      throw new SafetensorsError(`tensor "${name}": data_offsets [${begin}, ${end}] overlap the previous tensor`);
    if (begin > cursor)
      throw new SafetensorsError(`tensor "${name}": data_offsets [${begin}, ${end}] leave a hole at byte ${cursor}`);
    cursor = end;
  }
  if (cursor !== dataLength) throw new SafetensorsError(`tensors cover ${cursor} of the ${dataLength} data bytes`);
  return { tensors, metadata };
}

/**
 * Writes tensors (and optional string metadata) as safetensors. Like the reference implementation,
 * tensors are laid out by element size (largest first) then name, so every offset is aligned and the
 * bytes are the same for the same input.
 * @example
 * const bytes = writeSafetensors({ 'user_tower.w0': { dtype: 'F32', shape: [64, 32], data: w0 } }, { format: 'vireo'
 * });
 */
export function writeSafetensors(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = [...(tensors instanceof Map ? tensors.entries() : Object.entries(tensors))];
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new SafetensorsError('"__metadata__" is reserved and cannot name a tensor');
    if (!(t.dtype in DTYPES))
      throw new SafetensorsError(`tensor "${name}": unsupported dtype ${JSON.stringify(t.dtype)}`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new SafetensorsError(
        `tensor "${name}": shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`,
      );
    const want = numel(t.shape) * dtypeSize(t.dtype);
    if (t.data.byteLength !== want)
      throw new SafetensorsError(
        `tensor "${name}": ${t.data.byteLength} data bytes but ${t.dtype} ${JSON.stringify(t.shape)} needs ${want}`,
      );
  }
  entries.sort(([na, a], [nb, b]) => dtypeSize(b.dtype) - dtypeSize(a.dtype) || (na < nb ? -1 : na > nb ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + headerLength); // spaces: the header stays valid JSON
  let at = 8 + headerLength;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/**
 * float32 → IEEE half-precision bits, rounding to nearest even (for F16 tensors).
 * @example float32ToFloat16Bits(1) // 0x3c00
 */
export function float32ToFloat16Bits(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    mant |= 0x800000; // subnormal half: shift the implicit bit in, round to nearest even
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

/**
 * IEEE half-precision bits → number.
 * @example float16BitsToFloat32(0x3c00) // 1
 */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
