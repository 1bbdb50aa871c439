import { describe, expect, it } from 'vitest';
import {
  SafetensorsError,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  readSafetensors,
  writeSafetensors,
  type Tensor,
} from './safetensors.ts';

// Independent fixtures: byte-for-byte outputs of the reference Rust implementation, copied from its
// own unit tests (huggingface/safetensors, safetensors/src/tensor.rs `test_serialization`, and the
// padded variant checked in SafeTensors.jl's "rust test"): F32 0..5 named "attn.0" with shape
// [1,2,3] (header exactly 64 bytes, no padding) and "attn0" with shape [1,1,2,3] (header padded
// with 7 spaces to 72). No python/torch on the build machine, so these stand in for a torch file.
const REFERENCE_ATTN_0 = Uint8Array.from([
  64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70,
  51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111,
  102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0,
  64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
]);
const REFERENCE_ATTN0_PADDED = Uint8Array.from([
  72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51,
  50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111,
  102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32, 32, 32, 0, 0, 0, 0, 0, 0,
  128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
]);

/** Builds a file by hand from a header object and raw data bytes (for the bad-input cases). */
function handmade(header: unknown, data: number[] | Uint8Array = [], pad = true): Uint8Array {
  let json = JSON.stringify(header);
  if (pad) while (json.length % 8) json += ' ';
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe('safetensors', () => {
  it('writes the same bytes as the reference implementation', () => {
    const data = Float32Array.from([0, 1, 2, 3, 4, 5]);
    expect(writeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data } })).toEqual(REFERENCE_ATTN_0);
    expect(writeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data } })).toEqual(REFERENCE_ATTN0_PADDED);
  });

  it('reads files written by the reference implementation', () => {
    for (const [bytes, name, shape] of [
      [REFERENCE_ATTN_0, 'attn.0', [1, 2, 3]],
      [REFERENCE_ATTN0_PADDED, 'attn0', [1, 1, 2, 3]],
    ] as const) {
      const { tensors, metadata } = readSafetensors(bytes);
      expect(metadata).toEqual({});
      const t = tensors.get(name)!;
      expect(t.dtype).toBe('F32');
      expect(t.shape).toEqual(shape);
      expect([...t.data]).toEqual([0, 1, 2, 3, 4, 5]);
    }
  });

  it('round-trips every dtype with metadata, zero-copy and aligned', () => {
    const tensors: Record<string, Tensor> = {
      f32: { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1.5, -2, 3, 4, 5, 6]) },
      f16: { dtype: 'F16', shape: [3], data: Uint16Array.from([1, -2, 0.5].map(float32ToFloat16Bits)) },
      i8: { dtype: 'I8', shape: [3], data: Int8Array.from([-128, 0, 127]) },
      u8: { dtype: 'U8', shape: [1], data: Uint8Array.from([255]) },
      i32: { dtype: 'I32', shape: [2], data: Int32Array.from([-1, 2 ** 31 - 1]) },
      u32: { dtype: 'U32', shape: [2], data: Uint32Array.from([0, 2 ** 32 - 1]) },
      i64: { dtype: 'I64', shape: [2], data: BigInt64Array.from([-(2n ** 63n), 42n]) },
      f64: { dtype: 'F64', shape: [1], data: Float64Array.from([Math.PI]) },
      scalar: { dtype: 'I32', shape: [], data: Int32Array.from([7]) },
      empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    };
    const bytes = writeSafetensors(tensors, { format: 'vireo', note: 'ünïcode' });
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
    const { tensors: back, metadata } = readSafetensors(bytes);
    expect(metadata).toEqual({ format: 'vireo', note: 'ünïcode' });
    for (const [name, t] of Object.entries(tensors)) {
      const r = back.get(name)!;
      expect(r.dtype, name).toBe(t.dtype);
      expect(r.shape, name).toEqual(t.shape);
      expect(r.data, name).toEqual(t.data);
      expect(r.data.buffer, `${name} is a view`).toBe(bytes.buffer);
    }
    expect([...(back.get('f16')!.data as Uint16Array)].map(float16BitsToFloat32)).toEqual([1, -2, 0.5]);
    // Same input, same bytes, whatever the insertion order.
    const reversed = Object.fromEntries(Object.entries(tensors).reverse());
    expect(writeSafetensors(reversed, { format: 'vireo', note: 'ünïcode' })).toEqual(bytes);
  });

  it('reads from a Uint8Array that sits at an odd offset of its buffer (copies)', () => {
    const shifted = new Uint8Array(REFERENCE_ATTN_0.length + 1);
    shifted.set(REFERENCE_ATTN_0, 1);
    const { tensors } = readSafetensors(shifted.subarray(1));
    expect([...tensors.get('attn.0')!.data]).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('converts float16 with round-to-nearest-even, subnormals and infinities', () => {
    const cases: Array<[number, number]> = [
      [0, 0],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [1e6, 0x7c00],
      [2 ** -24, 0x0001],
      [2 ** -25, 0],
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
      [6.1035156e-5, 0x0400],
    ];
    for (const [x, bits] of cases) expect(float32ToFloat16Bits(x), String(x)).toBe(bits);
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true);
    for (let bits = 0; bits < 0x7c00; bits += 37) expect(float32ToFloat16Bits(float16BitsToFloat32(bits))).toBe(bits);
  });

  it('refuses malformed files with a sentence naming the problem', () => {
    const t = { dtype: 'I32', shape: [2, 2], data_offsets: [0, 16] };
    const sixteen = new Array(16).fill(0);
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(3), /shorter than the 8-byte header length/],
      [handmade({ test: t }, sixteen).subarray(0, 20), /runs past the end/],
      [Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 123]), /not valid UTF-8 JSON/],
      [handmade({ test: { ...t, dtype: 'Q4' } }, sixteen), /tensor "test": unsupported dtype "Q4"/],
      [
        handmade({ test: { ...t, data_offsets: [0, 4] } }, sixteen),
        /tensor "test": data_offsets \[0, 4\] hold 4 bytes but I32 \[2,2\] needs 16/,
      ],
      [
        handmade({ test: { ...t, data_offsets: [0, 16] } }, new Array(8).fill(0)),
        /data_offsets end 16 is past the 8 bytes of data/,
      ],
      [handmade({ test: t }, new Array(24).fill(0)), /tensors cover 16 of the 24 data bytes/],
      [handmade({ a: t, b: { ...t, data_offsets: [8, 24] } }, new Array(24).fill(0)), /tensor "b": .*overlap/],
      [handmade({ a: { ...t, data_offsets: [4, 20] } }, new Array(20).fill(0)), /tensor "a": .*leave a hole at byte 0/],
      [handmade({ test: { ...t, shape: [2, -1] } }, sixteen), /shape \[2,-1\] is not a list of non-negative integers/],
      [handmade({ __metadata__: { a: 1 } }), /__metadata__.a is not a string/],
    ];
    for (const [bytes, message] of cases) {
      expect(() => readSafetensors(bytes)).toThrow(SafetensorsError);
      expect(() => readSafetensors(bytes)).toThrow(message);
    }
    expect(() => writeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(
      /8 data bytes but F32 \[3\] needs 12/,
    );
  });
});
