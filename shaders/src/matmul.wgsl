// matmul — y = x · wᵀ, register-blocked: the compute yardstick of the benchmarks. `linear`
// reports its GFLOP/s beside this kernel's on the same adapter, in the same run.
//
// @binding(0) x: (M, K) f32 read           row-major
// @binding(1) w: (N, K) f32 read           PyTorch's (out, in) layout, as in linear
// @binding(2) y: (M, N) f32 read_write
// @binding(3) params: { M, K, N }
//
// A workgroup of 16×16 threads computes a 64×64 block of y; each thread a 4×4 sub-block held in
// registers: rows ty + 16·i and columns tx + 16·j (strided, so that neighbouring threads read
// neighbouring workgroup-memory words). K is walked in steps of BK = 16: the 64×16 tiles of x and
// w are staged transposed, (k, row), four loads per thread each, with consecutive threads reading
// consecutive k of one row (16 contiguous floats of global memory). Per k a thread reads 4 + 4
// values and does 16 FMAs: four times the arithmetic per workgroup-memory read of linear's
// one-output-per-thread tile. Outside the matrix, tiles are padded with zeros.
// Workgroups are numbered across a 2-D grid (x + y·nx) so more than 65,535 fit.

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

struct Params { M: u32, K: u32, N: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> xs: array<f32, 1024>;  // (BK, BM)
var<workgroup> ws: array<f32, 1024>;  // (BK, BN)

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let tiles_n = (p.N + BN - 1u) / BN;
  let tile = wid.x + wid.y * nwg.x;
  let row0 = (tile / tiles_n) * BM;
  let col0 = (tile % tiles_n) * BN;
  if (row0 >= p.M) { return; }  // uniform per workgroup: the grid's padding
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    for (var r = 0u; r < 4u; r++) {
      let e = li + 256u * r;       // 0..1023: row e / 16, k e % 16
      let m = e / BK;
      let kk = e % BK;
      let k = k0 + kk;
      let xr = row0 + m;
      let wr = col0 + m;
      xs[kk * BM + m] = select(0.0, x[xr * p.K + k], xr < p.M && k < p.K);
      ws[kk * BN + m] = select(0.0, w[wr * p.K + k], wr < p.N && k < p.K);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let a = vec4<f32>(xs[kk * BM + lid.y], xs[kk * BM + lid.y + 16u], xs[kk * BM + lid.y + 32u], xs[kk * BM + lid.y + 48u]);
      let b = vec4<f32>(ws[kk * BN + lid.x], ws[kk * BN + lid.x + 16u], ws[kk * BN + lid.x + 32u], ws[kk * BN + lid.x + 48u]);
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i * 4u + j] = fma(a[i], b[j], acc[i * 4u + j]);
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + lid.y + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + lid.x + 16u * j;
      if (row < p.M && col < p.N) { y[row * p.N + col] = acc[i * 4u + j]; }
    }
  }
}

// ------------------------------------------------------------------------- direct (no barriers)
//
// main_direct: the same bindings, params and result without workgroup memory or barriers, for
// CPU adapters (SwiftShader), where a barrier costs more than the reuse it buys. Thread t
// computes a 4×4 block of y (block row t / ⌈N/4⌉, block column t % ⌈N/4⌉) from registers,
// reading 4 + 4 values of x and w per k straight from memory. Rows and columns past the
// matrix are clamped on read (no branch in the loop) and skipped on write. 64 threads a group.

@compute @workgroup_size(64)
fn main_direct(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
  let t = (wid.x + wid.y * nwg.x) * 64u + li;
  let blocks_n = (p.N + 3u) / 4u;
  if (t >= ((p.M + 3u) / 4u) * blocks_n) { return; }
  let r0 = (t / blocks_n) * 4u;
  let c0 = (t % blocks_n) * 4u;
  var xr: array<u32, 4>;
  var wr: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    xr[i] = min(r0 + i, p.M - 1u) * p.K;
    wr[i] = min(c0 + i, p.N - 1u) * p.K;
  }
  var acc: array<f32, 16>;
  for (var k = 0u; k < p.K; k++) {
    let a = vec4<f32>(x[xr[0] + k], x[xr[1] + k], x[xr[2] + k], x[xr[3] + k]);
    let b = vec4<f32>(w[wr[0] + k], w[wr[1] + k], w[wr[2] + k], w[wr[3] + k]);
    for (var i = 0u; i < 4u; i++) {
      for (var j = 0u; j < 4u; j++) {
        acc[i * 4u + j] = fma(a[i], b[j], acc[i * 4u + j]);
      }
    }
  }
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      if (r0 + i < p.M && c0 + j < p.N) { y[(r0 + i) * p.N + c0 + j] = acc[i * 4u + j]; }
    }
  }
}
