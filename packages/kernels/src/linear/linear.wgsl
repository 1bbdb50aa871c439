// linear — y = act(x · wᵀ + b), a tiled matmul.
//
// @binding(0) x: (M, K) f32 read           activations, row-major
// @binding(1) w: (N, K) f32 read           weight in PyTorch's (out, in) layout
// @binding(2) b: (N) f32 read              bias (ignored when has_bias = 0)
// @binding(3) y: (M, N) f32 read_write     output
// @binding(4) params: { M, K, N, act, has_bias }   act: 0 none, 1 relu, 2 sigmoid
//
// Each workgroup computes a TILE×TILE block of y. The K dimension is walked in TILE-wide
// steps: x and w tiles are staged in workgroup memory, each thread accumulates one dot
// product in order k = 0..K-1 (so the result is the plain sequential f32 sum per tile).
// Workgroups are numbered across a 2-D grid (x + y·nx) so more than 65,535 fit.

override TILE: u32 = 16u;

struct Params { M: u32, K: u32, N: u32, act: u32, has_bias: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> xs: array<f32, TILE * TILE>;
var<workgroup> ws: array<f32, TILE * TILE>;

fn activate(v: f32, act: u32) -> f32 {
  if (act == 1u) { return max(v, 0.0); }
  if (act == 2u) { return 1.0 / (1.0 + exp(-v)); }
  return v;
}

@compute @workgroup_size(TILE, TILE)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_id) lid: vec3<u32>) {
  let tiles_n = (p.N + TILE - 1u) / TILE;
  let tile = wid.x + wid.y * nwg.x;
  let row0 = (tile / tiles_n) * TILE;
  let col0 = (tile % tiles_n) * TILE;
  let row = row0 + lid.y;   // index into M
  let col = col0 + lid.x;   // index into N
  var acc = 0.0;
  for (var k0 = 0u; k0 < p.K; k0 += TILE) {
    // stage x[row0 + ly, k0 + lx] and w[col0 + ly, k0 + lx]
    let kx = k0 + lid.x;
    let xr = row0 + lid.y;
    let wr = col0 + lid.y;
    xs[lid.y * TILE + lid.x] = select(0.0, x[xr * p.K + kx], xr < p.M && kx < p.K);
    ws[lid.y * TILE + lid.x] = select(0.0, w[wr * p.K + kx], wr < p.N && kx < p.K);
    workgroupBarrier();
    for (var kk = 0u; kk < TILE; kk++) {
      acc += xs[lid.y * TILE + kk] * ws[lid.x * TILE + kk];
    }
    workgroupBarrier();
  }
  if (row < p.M && col < p.N) {
    if (p.has_bias != 0u) { acc += b[col]; }
    y[row * p.N + col] = activate(acc, p.act);
  }
}

// ---------------------------------------------------------------------------------- backward
//
// @binding(0) x: (M, K) f32 read           forward input
// @binding(1) w: (N, K) f32 read           weight
// @binding(2) y: (M, N) f32 read           forward OUTPUT y = act(z); act'(z) is read from it:
//                                          relu: y > 0, sigmoid: y·(1 − y), none: 1
// @binding(3) dy: (M, N) f32 read          dL/dy
// @binding(4) dx: (M, K) f32 read_write    dL/dx = dz · w               (when need_dx = 1)
// @binding(5) dw: (N, K) f32 read_write    dL/dw = dzᵀ · x
// @binding(6) db: (N) f32 read_write       dL/db = Σ_m dz[m, ·]           (when has_bias = 1)
// @binding(7) params: { M, K, N, act, has_bias, need_dx, accumulate }
//             accumulate = 1 adds to dx/dw/db instead of overwriting them.
//
// One dispatch, two kinds of workgroup: the first ⌈M/T⌉·⌈K/T⌉ (only when need_dx) each compute
// a T×T block of dx, walking N in T-wide steps; the next ⌈N/T⌉·⌈K/T⌉ each compute a T×T block
// of dw, walking M in T-wide steps, and those in the first K-column of tiles also sum db. dz =
// dy ⊙ act'(y) is formed while staging tiles. Every output is one thread's sequential sum in
// index order (n for dx, m for dw and db): no atomics, the same bits on every run.

struct BackwardParams { M: u32, K: u32, N: u32, act: u32, has_bias: u32, need_dx: u32, accumulate: u32 }

@group(0) @binding(2) var<storage, read> y_fwd: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> dw: array<f32>;
@group(0) @binding(6) var<storage, read_write> db: array<f32>;
@group(0) @binding(7) var<uniform> bp: BackwardParams;

// dz[m, n] = dy[m, n] · act'(z[m, n]), with act' written in terms of the output y; 0 outside.
fn dz_at(m: u32, n: u32) -> f32 {
  if (m >= bp.M || n >= bp.N) { return 0.0; }
  let g = dy[m * bp.N + n];
  if (bp.act == 1u) { return select(0.0, g, y_fwd[m * bp.N + n] > 0.0); }
  if (bp.act == 2u) { let s = y_fwd[m * bp.N + n]; return g * s * (1.0 - s); }
  return g;
}

@compute @workgroup_size(TILE, TILE)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_id) lid: vec3<u32>) {
  let tiles_k = (bp.K + TILE - 1u) / TILE;
  let dx_tiles = select(0u, ((bp.M + TILE - 1u) / TILE) * tiles_k, bp.need_dx != 0u);
  let tile = wid.x + wid.y * nwg.x;
  let col0 = (tile % tiles_k) * TILE;  // index into K (both kinds)
  let col = col0 + lid.x;
  var acc = 0.0;
  if (tile < dx_tiles) {
    // dx block: rows m = row0.., walk n. xs holds dz (m, n), ws holds w (n, k).
    let row0 = (tile / tiles_k) * TILE;
    let row = row0 + lid.y;
    for (var n0 = 0u; n0 < bp.N; n0 += TILE) {
      xs[lid.y * TILE + lid.x] = dz_at(row0 + lid.y, n0 + lid.x);
      let wn = n0 + lid.y;
      ws[lid.y * TILE + lid.x] = select(0.0, w[wn * bp.K + col], wn < bp.N && col < bp.K);
      workgroupBarrier();
      for (var nn = 0u; nn < TILE; nn++) {
        acc += xs[lid.y * TILE + nn] * ws[nn * TILE + lid.x];
      }
      workgroupBarrier();
    }
    if (row < bp.M && col < bp.K) {
      let i = row * bp.K + col;
      if (bp.accumulate != 0u) { acc += dx[i]; }
      dx[i] = acc;
    }
    return;
  }
  // dw block: rows n = row0.., walk m. xs holds x (m, k), ws holds dz (m, n).
  let t = tile - dx_tiles;
  if (t >= ((bp.N + TILE - 1u) / TILE) * tiles_k) { return; }
  let row0 = (t / tiles_k) * TILE;
  let row = row0 + lid.y;
  let sums_bias = bp.has_bias != 0u && col0 == 0u && lid.x == 0u;
  var bacc = 0.0;
  for (var m0 = 0u; m0 < bp.M; m0 += TILE) {
    let xm = m0 + lid.y;
    xs[lid.y * TILE + lid.x] = select(0.0, x[xm * bp.K + col], xm < bp.M && col < bp.K);
    ws[lid.y * TILE + lid.x] = dz_at(m0 + lid.y, row0 + lid.x);
    workgroupBarrier();
    for (var mm = 0u; mm < TILE; mm++) {
      acc += ws[mm * TILE + lid.y] * xs[mm * TILE + lid.x];
    }
    if (sums_bias) {
      for (var mm = 0u; mm < TILE; mm++) { bacc += ws[mm * TILE + lid.y]; }
    }
    workgroupBarrier();
  }
  if (row < bp.N && col < bp.K) {
    let i = row * bp.K + col;
    if (bp.accumulate != 0u) { acc += dw[i]; }
    dw[i] = acc;
  }
  if (sums_bias && row < bp.N) {
    if (bp.accumulate != 0u) { bacc += db[row]; }
    db[row] = bacc;
  }
}

// ------------------------------------------------------------------------- direct (no barriers)
//
// forward_direct and backward_direct: the same bindings, params and results as forward and
// backward, without workgroup memory or barriers. One thread per output value: y[m, n] walks
// k = 0..K-1; dx[m, k] walks n; dw[n, k] walks m; db[n] walks m — the same sequential orders as
// the tiled kernels. For CPU adapters (SwiftShader), where a workgroup barrier costs far more
// than the arithmetic it saves: the ops pick these on fallback adapters (ops/linear.ts).
// backward_direct's threads: [0, M·K) dx (when need_dx), then N·K dw, then N db (when has_bias).

const DIRECT_WG: u32 = 64u;

@compute @workgroup_size(DIRECT_WG)
fn forward_direct(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let t = (wid.x + wid.y * nwg.x) * DIRECT_WG + lid;
  if (t >= p.M * p.N) { return; }
  let m = t / p.N;
  let n = t % p.N;
  var acc = 0.0;
  for (var k = 0u; k < p.K; k++) { acc += x[m * p.K + k] * w[n * p.K + k]; }
  if (p.has_bias != 0u) { acc += b[n]; }
  y[t] = activate(acc, p.act);
}

// dL/dz at (m, n) inside the matrix, without branches (SwiftShader runs every side of a branch
// under a mask): the slope act'(z) is 1, [y > 0] or y·(1 − y) by select. With act = none, y may
// be a 4-byte stand-in: its value is read but not used.
fn dz_direct(m: u32, n: u32) -> f32 {
  let i = m * bp.N + n;
  let yv = y_fwd[i];
  let slope = select(select(1.0, select(0.0, 1.0, yv > 0.0), bp.act == 1u), yv * (1.0 - yv), bp.act == 2u);
  return dy[i] * slope;
}

@compute @workgroup_size(DIRECT_WG)
fn backward_direct(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  var t = (wid.x + wid.y * nwg.x) * DIRECT_WG + lid;
  let dx_count = select(0u, bp.M * bp.K, bp.need_dx != 0u);
  let plain = bp.act == 0u;  // uniform: dz = dy, the loops read dy directly
  if (t < dx_count) {
    let m = t / bp.K;
    let k = t % bp.K;
    var acc = 0.0;
    if (plain) {
      for (var n = 0u; n < bp.N; n++) { acc += dy[m * bp.N + n] * w[n * bp.K + k]; }
    } else {
      for (var n = 0u; n < bp.N; n++) { acc += dz_direct(m, n) * w[n * bp.K + k]; }
    }
    if (bp.accumulate != 0u) { acc += dx[t]; }
    dx[t] = acc;
    return;
  }
  t -= dx_count;
  if (t < bp.N * bp.K) {
    let n = t / bp.K;
    let k = t % bp.K;
    var acc = 0.0;
    if (plain) {
      for (var m = 0u; m < bp.M; m++) { acc += dy[m * bp.N + n] * x[m * bp.K + k]; }
    } else {
      for (var m = 0u; m < bp.M; m++) { acc += dz_direct(m, n) * x[m * bp.K + k]; }
    }
    if (bp.accumulate != 0u) { acc += dw[t]; }
    dw[t] = acc;
    return;
  }
  t -= bp.N * bp.K;
  if (bp.has_bias != 0u && t < bp.N) {
    var acc = 0.0;
    if (plain) {
      for (var m = 0u; m < bp.M; m++) { acc += dy[m * bp.N + t]; }
    } else {
      for (var m = 0u; m < bp.M; m++) { acc += dz_direct(m, t); }
    }
    if (bp.accumulate != 0u) { acc += db[t]; }
    db[t] = acc;
  }
}
