// A WebAssembly SIMD kernel for the CPU backend's exact search (backends/scan.ts): the inner
// product of one query with every row of a catalogue, four float32 lanes at a time.
//   dot(q, items, n, d, out): out[i] = Σ_d q[d]·items[i·d + d] for i < n (byte addresses; d a
//   multiple of 4, rows zero-padded to it; lanes summed ((l0 + l1) + l2) + l3 at the end)
// Written out as bytes here (a few dozen instructions; no toolchain needed at build time) and
// checked by WebAssembly.validate before use: where SIMD is missing the scan stays in JavaScript.

const SIMD = 0xfd;
const localGet = (i: number) => [0x20, i];
const localSet = (i: number) => [0x21, i];
const i32Const = (v: number) => [0x41, v]; // small non-negative values only (< 64)
const I32_ADD = 0x6a;
const I32_MUL = 0x6c;
const I32_SHL = 0x74;
const V128_LOAD = [SIMD, 0x00, 0x04, 0x00]; // align 16, offset 0
const F32X4_MUL = [SIMD, 0xe6, 0x01];
const F32X4_ADD = [SIMD, 0xe4, 0x01];
const lane = (l: number) => [SIMD, 0x1f, l]; // f32x4.extract_lane
const F32_ADD = 0x92;

// params 0 q, 1 items, 2 n, 3 d, 4 out; locals 5 end, 6 qp, 7 qend (i32), 8 acc (v128)
const body = [
  [0x02, 0x03, 0x7f, 0x01, 0x7b], // locals: 3 × i32, 1 × v128
  [localGet(1), localGet(2), localGet(3), I32_MUL, i32Const(2), I32_SHL, I32_ADD, localSet(5)], // end
  [localGet(0), localGet(3), i32Const(2), I32_SHL, I32_ADD, localSet(7)], // qend
  [0x02, 0x40], // block
  [0x03, 0x40], //   loop over rows
  [localGet(1), localGet(5), 0x4f, 0x0d, 0x01], // leave the block when items ≥ end (i32.ge_u, br_if 1)
  [SIMD, 0x0c, new Array(16).fill(0), localSet(8)], // acc = 0
  [localGet(0), localSet(6)], // qp = q
  [0x03, 0x40], //     loop over the row's lanes
  [localGet(8), localGet(6), V128_LOAD, localGet(1), V128_LOAD, F32X4_MUL, F32X4_ADD, localSet(8)],
  [localGet(6), i32Const(16), I32_ADD, localSet(6)], // qp += 16
  [localGet(1), i32Const(16), I32_ADD, localSet(1)], // items += 16
  [localGet(6), localGet(7), 0x49, 0x0d, 0x00], // again while qp < qend (i32.lt_u, br_if 0)
  0x0b,
  localGet(4),
  [localGet(8), lane(0), localGet(8), lane(1), F32_ADD, localGet(8), lane(2), F32_ADD, localGet(8), lane(3), F32_ADD],
  [0x38, 0x02, 0x00], // f32.store
  [localGet(4), i32Const(4), I32_ADD, localSet(4)], // out += 4
  [0x0c, 0x00], //   next row (br 0)
  0x0b,
  0x0b,
  0x0b, // end of the function
].flat(3) as number[];

const name = (s: string) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, bytes: number[]) => [id, ...uleb(bytes.length), ...bytes];
function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    const b = v & 0x7f;
    v >>>= 7;
    out.push(v ? b | 0x80 : b);
  } while (v);
  return out;
}

/** The module's bytes: imports memory `m.mem`, exports `dot`. */
export const DOT_WASM = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
  ...section(1, [0x01, 0x60, 0x05, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x00]), // (i32 × 5) → ()
  ...section(2, [0x01, ...name('m'), ...name('mem'), 0x02, 0x00, 0x01]), // memory, min 1 page
  ...section(3, [0x01, 0x00]),
  ...section(7, [0x01, ...name('dot'), 0x00, 0x00]),
  ...section(10, [0x01, ...uleb(body.length), ...body]),
]);
