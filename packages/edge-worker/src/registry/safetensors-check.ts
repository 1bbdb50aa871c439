// A safetensors file is checked while it streams in (docs/ARCHITECTURE.md, "Model registry"): its
// header must parse and describe tensors whose shapes, dtypes and offsets cover the file exactly,
// so that a truncated or padded file is refused even when the manifest's sha256 matches it.
import { dtypeSize, type Dtype } from '@vireo/core';

/** Largest safetensors header read, bytes (a header lists names, dtypes, shapes and offsets). */
const MAX_HEADER = 16 << 20;
const DTYPES = new Set(['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL']);

/**
 * Why the bytes are not a whole safetensors file, given its first bytes (8 + header) and its size; null when they are.
 * @example safetensorsProblem(head, 1024) // "the header's tensors end at byte 512 of 1016 data bytes"
 */
export function safetensorsProblem(head: Uint8Array, size: number): string | null {
  if (size < 8 || head.byteLength < 8) return 'the file is shorter than the 8-byte header length';
  const headerLength = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > MAX_HEADER || 8 + headerLength > size)
    return `the header length ${headerLength} does not fit in the file's ${size} bytes`;
  if (head.byteLength < 8 + headerLength) return 'the header is cut short';
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(head.subarray(8, 8 + headerLength)),
    );
  } catch {
    return 'the header is not valid JSON';
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) return 'the header is not a JSON object';
  const dataBytes = size - 8 - headerLength;
  const spans: Array<[number, number, string]> = [];
  for (const [name, t] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = (t ?? {}) as Record<string, unknown>;
    if (typeof dtype !== 'string' || !DTYPES.has(dtype)) return `tensor '${name}' has an unknown dtype`;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      return `tensor '${name}' has no valid shape`;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0))
      return `tensor '${name}' has no valid data_offsets`;
    const [begin, end] = offsets as [number, number];
    const expected = shape.reduce((n: number, d: number) => n * d, 1) * dtypeSize(dtype as Dtype);
    if (end - begin !== expected)
      return (
        `tensor '${name}' (${dtype} ${JSON.stringify(shape)}) ` +
        `needs ${expected} bytes, its offsets span ${end - begin}`
      );
    spans.push([begin, end, name]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [begin, end, name] of spans) {
    if (begin !== at) return `tensor '${name}' starts at byte ${begin} where ${at} was expected`;
    at = end;
  }
  if (at !== dataBytes) return `the header's tensors end at byte ${at} of the file's ${dataBytes} data bytes`;
  return null;
}

/** The error a checked stream fails with; the route answers it as a 422. */
export class BundleContentError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = 'BundleContentError';
  }
}

/**
 * Passes a safetensors upload through, keeping its first bytes; at the end of the stream the header
 * is checked and the stream fails with BundleContentError when it does not describe the file.
 * @example body = body.pipeThrough(checkedSafetensors('items.safetensors'));
 */
export function checkedSafetensors(file: string): TransformStream<Uint8Array, Uint8Array> {
  const kept: Uint8Array[] = [];
  let keptBytes = 0;
  let size = 0;
  let want = 8;
  return new TransformStream({
    transform(chunk, controller) {
      size += chunk.byteLength;
      if (keptBytes < want) {
        kept.push(chunk.slice(0, want - keptBytes));
        keptBytes += Math.min(chunk.byteLength, want - keptBytes);
        if (keptBytes >= 8 && want === 8) {
          const first = concat(kept, 8);
          want = 8 + Math.min(MAX_HEADER, Number(new DataView(first.buffer).getBigUint64(0, true)));
          if (chunk.byteLength > kept[kept.length - 1].byteLength) {
            // The rest of this chunk may hold header bytes too.
            const taken = kept[kept.length - 1].byteLength;
            const more = chunk.subarray(taken, taken + (want - keptBytes));
            kept.push(more.slice());
            keptBytes += more.byteLength;
          }
        }
      }
      controller.enqueue(chunk);
    },
    flush() {
      const problem = safetensorsProblem(concat(kept, keptBytes), size);
      if (problem) throw new BundleContentError(file, `'${file}' is not a whole safetensors file: ${problem}.`);
    },
  });
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    if (at >= length) break;
    out.set(p.subarray(0, length - at), at);
    at += Math.min(p.byteLength, length - at);
  }
  return out;
}
