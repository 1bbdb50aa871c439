// rowwise_adagrad — row-wise Adagrad for embedding tables: only the rows in the batch move.
//
// @binding(0) ids: (U) u32 read            unique row ids touched by the batch (no repeats)
// @binding(1) grad: (U, D) f32 read        their gradients (row u belongs to ids[u])
// @binding(2) table: (R, D) f32 read_write the embedding table
// @binding(3) acc: (R) f32 read_write      one Adagrad accumulator per row
// @binding(4) params: { U, D, R, lr, eps }
//
// One thread per unique row: acc[r] += (Σ_d g²)/D summed in order d = 0..D−1, then
// w[r, d] −= lr·g/(√acc[r] + eps). No barriers (SwiftShader runs barrier-free kernels much
// faster) and, since the ids are unique, no two threads touch one row: no atomics, the same
// bits every run. An id ≥ R is skipped (the one-shot op rejects it with a ShapeError first).

override WG: u32 = 64u;

struct Params { U: u32, D: u32, R: u32, lr: f32, eps: f32 }

@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> acc: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let u = (wid.x + wid.y * nwg.x) * WG + lid.x;
  if (u >= p.U) { return; }
  let r = ids[u];
  if (r >= p.R) { return; }
  let g0 = u * p.D;
  var s = 0.0;
  for (var d = 0u; d < p.D; d++) { s += grad[g0 + d] * grad[g0 + d]; }
  let a = acc[r] + s / f32(p.D);
  acc[r] = a;
  let scale = p.lr / (sqrt(a) + p.eps);
  let w0 = r * p.D;
  for (var d = 0u; d < p.D; d++) { table[w0 + d] -= scale * grad[g0 + d]; }
}
