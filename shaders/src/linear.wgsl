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
