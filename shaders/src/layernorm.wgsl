// layernorm — y = (x − mean) · rstd · gamma + beta per row, rstd = 1 / sqrt(var + eps); mean and
// rstd are saved for the backward (as llm.c does).
//
// @binding(0) x: (M, D) f32 read
// @binding(1) gamma: (D) f32 read
// @binding(2) beta: (D) f32 read
// @binding(3) y: (M, D) f32 read_write
// @binding(4) mean: (M) f32 read_write
// @binding(5) rstd: (M) f32 read_write
// @binding(6) params: { M, D, eps }
//
// One workgroup per row (rows numbered x + y·nx over a 2-D grid). Each of the WG threads
// (a power of two) sums a strided slice of the row, then a tree reduction in workgroup memory
// gives the total: first the mean, then the variance as the mean of (x − mean)² — two passes,
// which keeps the variance accurate when |mean| ≫ std. The reduction order is fixed, so the
// result is the same bits on every run.

override WG: u32 = 64u;

struct Params { M: u32, D: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

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
  for (var i = lid; i < p.D; i += WG) { s += x[base + i]; }
  let m = workgroup_sum(lid, s) / f32(p.D);
  var v = 0.0;
  for (var i = lid; i < p.D; i += WG) { let c = x[base + i] - m; v += c * c; }
  let r = 1.0 / sqrt(workgroup_sum(lid, v) / f32(p.D) + p.eps);
  for (var i = lid; i < p.D; i += WG) { y[base + i] = (x[base + i] - m) * r * gamma[i] + beta[i]; }
  if (lid == 0u) { mean[row] = m; rstd[row] = r; }
}
