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
// backward_input and backward_params (one binding list, one layout)
// @binding(0) x: (M, D) f32 read
// @binding(1) gamma: (D) f32 read
// @binding(2) mean: (M) f32 read           saved by the forward
// @binding(3) rstd: (M) f32 read           saved by the forward
// @binding(4) dy: (M, D) f32 read
// @binding(5) dx: (M, D) f32 read_write    backward_input
// @binding(6) dgamma: (D) f32 read_write   backward_params
// @binding(7) dbeta: (D) f32 read_write    backward_params
// @binding(8) params: { M, D, accumulate }  accumulate = 1: add to the outputs instead of writing
//
// One workgroup per row (rows numbered x + y·nx over a 2-D grid). Each of the WG threads
// (a power of two) sums a strided slice of the row, then a tree reduction in workgroup memory
// gives the total: first the mean, then the variance as the mean of (x − mean)² — two passes,
// which keeps the variance accurate when |mean| ≫ std. The reduction order is fixed, so the
// result is the same bits on every run. Backward (llm.c's formula, with n = (x − mean)·rstd and
// g = gamma·dy): dx = rstd·(g − mean(g) − n·mean(g·n)), one workgroup per row as in the forward;
// dgamma = Σ_rows dy·n and dbeta = Σ_rows dy, one workgroup per COLS columns whose LANES rows
// of threads each sum a strided set of rows, then a tree over the lanes — no atomics, fixed
// order.

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

struct BackwardParams { M: u32, D: u32, accumulate: u32 }

@group(0) @binding(0) var<storage, read> b_x: array<f32>;
@group(0) @binding(1) var<storage, read> b_gamma: array<f32>;
@group(0) @binding(2) var<storage, read> b_mean: array<f32>;
@group(0) @binding(3) var<storage, read> b_rstd: array<f32>;
@group(0) @binding(4) var<storage, read> b_dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(7) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(8) var<uniform> bp: BackwardParams;

var<workgroup> partial2: array<vec2<f32>, WG>;

// The sums of every thread's two values, returned to all threads.
fn workgroup_sum2(lid: u32, v: vec2<f32>) -> vec2<f32> {
  partial2[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { partial2[lid] += partial2[lid + s]; }
    workgroupBarrier();
  }
  let total = partial2[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn backward_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= bp.M) { return; }
  let base = row * bp.D;
  let m = b_mean[row];
  let r = b_rstd[row];
  var s = vec2<f32>(0.0);
  for (var i = lid; i < bp.D; i += WG) {
    let g = b_gamma[i] * b_dy[base + i];
    s += vec2<f32>(g, g * (b_x[base + i] - m) * r);
  }
  let means = workgroup_sum2(lid, s) / f32(bp.D);
  for (var i = lid; i < bp.D; i += WG) {
    let n = (b_x[base + i] - m) * r;
    let g = r * (b_gamma[i] * b_dy[base + i] - means.x - n * means.y);
    if (bp.accumulate != 0u) { dx[base + i] += g; } else { dx[base + i] = g; }
  }
}

override COLS: u32 = 16u;
override LANES: u32 = 16u;

var<workgroup> column_partial: array<vec2<f32>, COLS * LANES>;

@compute @workgroup_size(COLS, LANES)
fn backward_params(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_id) lid: vec3<u32>) {
  let col = (wid.x + wid.y * nwg.x) * COLS + lid.x;
  var s = vec2<f32>(0.0);  // (Σ dy·n, Σ dy) over this lane's rows
  if (col < bp.D) {
    for (var row = lid.y; row < bp.M; row += LANES) {
      let g = b_dy[row * bp.D + col];
      s += vec2<f32>(g * (b_x[row * bp.D + col] - b_mean[row]) * b_rstd[row], g);
    }
  }
  column_partial[lid.y * COLS + lid.x] = s;
  workgroupBarrier();
  for (var h = LANES / 2u; h > 0u; h >>= 1u) {
    if (lid.y < h) { column_partial[lid.y * COLS + lid.x] += column_partial[(lid.y + h) * COLS + lid.x]; }
    workgroupBarrier();
  }
  if (lid.y == 0u && col < bp.D) {
    let total = column_partial[lid.x];
    if (bp.accumulate != 0u) {
      dgamma[col] += total.x;
      dbeta[col] += total.y;
    } else {
      dgamma[col] = total.x;
      dbeta[col] = total.y;
    }
  }
}
