// l2norm — rows to unit length: y = x / max(‖x‖₂, eps) (PyTorch's F.normalize); the row norms
// ‖x‖₂ are saved for the backward.
//
// @binding(0) x: (M, D) f32 read
// @binding(1) y: (M, D) f32 read_write
// @binding(2) norm: (M) f32 read_write     ‖x_m‖₂, before the eps clamp
// @binding(3) params: { M, D, eps }
//
// backward
// @binding(0) x: (M, D) f32 read
// @binding(1) norm: (M) f32 read           saved by the forward
// @binding(2) dy: (M, D) f32 read
// @binding(3) dx: (M, D) f32 read_write
// @binding(4) params: { M, D, eps, accumulate }   accumulate = 1: dx += instead of dx =
//
// One workgroup per row (rows numbered x + y·nx over a 2-D grid). Each of the WG threads
// (a power of two) sums the squares of a strided slice of the row; a tree reduction in
// workgroup memory, in a fixed order, gives ‖x‖² (the same bits on every run). The backward
// has the same shape: with n = ‖x‖ > eps, dx = (dy − x·(x·dy)/n²) / n (the part of dy along x
// removed, then scaled); where the clamp held (n ≤ eps), y = x/eps and dx = dy/eps.

override WG: u32 = 64u;

struct Params { M: u32, D: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> norm: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> partial: array<f32, WG>;

// The sum of every thread's `v`, returned to all threads.
fn workgroup_sum(lid: u32, v: f32) -> f32 {
  partial[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.M) { return; }
  let base = row * p.D;
  var s = 0.0;
  for (var i = lid; i < p.D; i += WG) { let v = x[base + i]; s += v * v; }
  let n = sqrt(workgroup_sum(lid, s));
  let inv = 1.0 / max(n, p.eps);
  for (var i = lid; i < p.D; i += WG) { y[base + i] = x[base + i] * inv; }
  if (lid == 0u) { norm[row] = n; }
}

struct BackwardParams { M: u32, D: u32, eps: f32, accumulate: u32 }

@group(0) @binding(0) var<storage, read> b_x: array<f32>;
@group(0) @binding(1) var<storage, read> b_norm: array<f32>;
@group(0) @binding(2) var<storage, read> b_dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<uniform> bp: BackwardParams;

fn store_dx(i: u32, v: f32) {
  if (bp.accumulate != 0u) { dx[i] += v; } else { dx[i] = v; }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= bp.M) { return; }
  let base = row * bp.D;
  let n = b_norm[row];
  var s = 0.0;
  for (var i = lid; i < bp.D; i += WG) { s += b_x[base + i] * b_dy[base + i]; }
  let dot = workgroup_sum(lid, s);
  if (n > bp.eps) {
    let along = dot / (n * n);
    for (var i = lid; i < bp.D; i += WG) { store_dx(base + i, (b_dy[base + i] - b_x[base + i] * along) / n); }
  } else {
    for (var i = lid; i < bp.D; i += WG) { store_dx(base + i, b_dy[base + i] / bp.eps); }
  }
}
