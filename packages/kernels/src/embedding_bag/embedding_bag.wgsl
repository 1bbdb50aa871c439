// embedding_bag — pooled lookups into an embedding table: out[b] = Σ_{j in bag b} s_j · table[indices[j]]
// with s_j = weights[j] (weighted sum), 1 (sum) or 1 / |bag b| (mean). An empty bag gives zeros.
//
// forward
// @binding(0) table: (R, D) f32 read
// @binding(1) indices: (nnz) u32 read         table rows, bags stored one after the other (CSR)
// @binding(2) offsets: (B+1) u32 read         bag b is indices[offsets[b] .. offsets[b+1]);
//                                              ignored when has_offsets = 0 (plain lookup: bag b = {b})
// @binding(3) weights: (nnz) f32 read         per-sample weights; ignored when has_weights = 0
// @binding(4) out: (B, D) f32 read_write
// @binding(5) params: { B, D, R, mean, has_offsets, has_weights }
//
// backward_rows (the gradient of the table, only for the U rows the batch touched)
// @binding(0) offsets: (B+1) u32 read         for the bag lengths of mean pooling
// @binding(1) weights: (nnz) f32 read
// @binding(2) sorted_pos: (nnz) u32 read      positions j sorted by (indices[j], j)
// @binding(3) sorted_bag: (nnz) u32 read      the bag of sorted_pos[k]
// @binding(4) segments: (U+1) u32 read        sorted_pos[segments[u] .. segments[u+1]) all hit unique row u
// @binding(5) dy: (B, D) f32 read
// @binding(6) grad_rows: (U, D) f32 read_write
// @binding(7) params: { U, D, mean, has_offsets, has_weights }
//
// backward_weights (the gradient of the per-sample weights, sum mode)
// @binding(0) table: (R, D) f32 read
// @binding(1) indices: (nnz) u32 read
// @binding(2) offsets: (B+1) u32 read
// @binding(3) dy: (B, D) f32 read
// @binding(4) grad_weights: (nnz) f32 read_write
// @binding(5) params: { nnz, B, D, R, has_offsets }
//
// Forward: one thread per output value (b, d); it walks its bag in order, so neighbouring
// threads read neighbouring columns of the same table row. The backward is deterministic with
// no atomics: the (index, position) pairs are sorted beforehand (on the CPU, see
// embeddingBagPlan), so each unique row is one contiguous segment; one thread per (u, d) sums
// its segment in position order, giving the same bits on every run. Rows ≥ R are skipped: the
// ops reject them before dispatch, and the kernel never reads outside the table.
// Each entry point declares its own variables at its own binding numbers (WGSL allows entry
// points to reuse a binding number for different variables).

override WG: u32 = 64u;

struct Params { B: u32, D: u32, R: u32, mean: u32, has_offsets: u32, has_weights: u32 }

@group(0) @binding(0) var<storage, read> table: array<f32>;
@group(0) @binding(1) var<storage, read> indices: array<u32>;
@group(0) @binding(2) var<storage, read> offsets: array<u32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  if (t >= p.B * p.D) { return; }
  let b = t / p.D;
  let d = t % p.D;
  var start = b;
  var end = b + 1u;
  if (p.has_offsets != 0u) { start = offsets[b]; end = offsets[b + 1u]; }
  var acc = 0.0;
  for (var j = start; j < end; j++) {
    let row = indices[j];
    if (row >= p.R) { continue; }
    var s = 1.0;
    if (p.has_weights != 0u) { s = weights[j]; }
    acc += s * table[row * p.D + d];
  }
  if (p.mean != 0u && end > start) { acc = acc / f32(end - start); }
  out[t] = acc;
}

struct RowsParams { U: u32, D: u32, mean: u32, has_offsets: u32, has_weights: u32 }

@group(0) @binding(0) var<storage, read> rows_offsets: array<u32>;
@group(0) @binding(1) var<storage, read> rows_weights: array<f32>;
@group(0) @binding(2) var<storage, read> sorted_pos: array<u32>;
@group(0) @binding(3) var<storage, read> sorted_bag: array<u32>;
@group(0) @binding(4) var<storage, read> segments: array<u32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_rows: array<f32>;
@group(0) @binding(7) var<uniform> rp: RowsParams;

@compute @workgroup_size(WG)
fn backward_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  if (t >= rp.U * rp.D) { return; }
  let u = t / rp.D;
  let d = t % rp.D;
  var acc = 0.0;
  for (var k = segments[u]; k < segments[u + 1u]; k++) {
    let bag = sorted_bag[k];
    var g = dy[bag * rp.D + d];
    if (rp.has_weights != 0u) { g = g * rows_weights[sorted_pos[k]]; }
    if (rp.mean != 0u && rp.has_offsets != 0u) { g = g / f32(rows_offsets[bag + 1u] - rows_offsets[bag]); }
    acc += g;
  }
  grad_rows[t] = acc;
}

struct WeightsParams { nnz: u32, B: u32, D: u32, R: u32, has_offsets: u32 }

@group(0) @binding(0) var<storage, read> w_table: array<f32>;
@group(0) @binding(1) var<storage, read> w_indices: array<u32>;
@group(0) @binding(2) var<storage, read> w_offsets: array<u32>;
@group(0) @binding(3) var<storage, read> w_dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad_weights: array<f32>;
@group(0) @binding(5) var<uniform> wp: WeightsParams;

// The bag holding position j: the last b with offsets[b] ≤ j (empty bags share an offset).
fn bag_of(j: u32) -> u32 {
  if (wp.has_offsets == 0u) { return j; }
  var lo = 0u;
  var hi = wp.B;  // invariant: offsets[lo] ≤ j < offsets[hi]
  while (hi - lo > 1u) {
    let mid = (lo + hi) / 2u;
    if (w_offsets[mid] <= j) { lo = mid; } else { hi = mid; }
  }
  return lo;
}

@compute @workgroup_size(WG)
fn backward_weights(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let j = (wid.x + wid.y * nwg.x) * WG + lid;
  if (j >= wp.nnz) { return; }
  let row = w_indices[j];
  var acc = 0.0;
  if (row < wp.R) {
    let bag = bag_of(j);
    for (var d = 0u; d < wp.D; d++) { acc += w_table[row * wp.D + d] * w_dy[bag * wp.D + d]; }
  }
  grad_weights[j] = acc;
}
