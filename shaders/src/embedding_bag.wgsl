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
// Forward: one thread per output value (b, d); it walks its bag in order, so neighbouring
// threads read neighbouring columns of the same table row. Rows ≥ R are skipped: the ops
// reject them before dispatch, and the kernel never reads outside the table.

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
