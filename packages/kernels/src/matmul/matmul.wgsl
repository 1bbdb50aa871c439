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
  // acc_i holds row ty + 16·i, columns tx + 16·j in lane j: four named vec4s rather than an
  // indexed array, so that every compiler keeps them in registers.
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
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
      acc0 = fma(vec4<f32>(a.x), b, acc0);
      acc1 = fma(vec4<f32>(a.y), b, acc1);
      acc2 = fma(vec4<f32>(a.z), b, acc2);
      acc3 = fma(vec4<f32>(a.w), b, acc3);
    }
    workgroupBarrier();
  }
  store_block(row0 + lid.y, 16u, col0 + lid.x, 16u, acc0, acc1, acc2, acc3);
}

// Writes a 4×4 block: rows r + dr·i, columns c + dc·j, acc_i's lane j; skips what is outside y.
fn store_block(r: u32, dr: u32, c: u32, dc: u32, acc0: vec4<f32>, acc1: vec4<f32>, acc2: vec4<f32>, acc3: vec4<f32>) {
  let rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let row = r + dr * i;
    for (var j = 0u; j < 4u; j++) {
      let col = c + dc * j;
      if (row < p.M && col < p.N) { y[row * p.N + col] = rows[i][j]; }
    }
  }
}

// ------------------------------------------------------------------------- direct (no barriers)
//
// main_direct: the same bindings, params and result without workgroup memory or barriers, for
// CPU adapters (SwiftShader), where a barrier costs more than the reuse it buys. Thread t
// computes a 4×4 block of y (block row t / ⌈N/4⌉, block column t % ⌈N/4⌉) in four vec4 registers,
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
  let x0 = min(r0, p.M - 1u) * p.K;
  let x1 = min(r0 + 1u, p.M - 1u) * p.K;
  let x2 = min(r0 + 2u, p.M - 1u) * p.K;
  let x3 = min(r0 + 3u, p.M - 1u) * p.K;
  let w0 = min(c0, p.N - 1u) * p.K;
  let w1 = min(c0 + 1u, p.N - 1u) * p.K;
  let w2 = min(c0 + 2u, p.N - 1u) * p.K;
  let w3 = min(c0 + 3u, p.N - 1u) * p.K;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = 0u; k < p.K; k++) {
    let b = vec4<f32>(w[w0 + k], w[w1 + k], w[w2 + k], w[w3 + k]);
    acc0 = fma(vec4<f32>(x[x0 + k]), b, acc0);
    acc1 = fma(vec4<f32>(x[x1 + k]), b, acc1);
    acc2 = fma(vec4<f32>(x[x2 + k]), b, acc2);
    acc3 = fma(vec4<f32>(x[x3 + k]), b, acc3);
  }
  store_block(r0, 1u, c0, 1u, acc0, acc1, acc2, acc3);
}
