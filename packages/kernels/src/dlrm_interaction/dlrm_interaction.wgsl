// dlrm_interaction — DLRM's feature interaction over the F+1 vectors of a sample,
// z_0 = dense[b] and z_f = emb[b, f−1] (f = 1..F), each of length D:
//   mode 0 (dot): out[b] = [dense[b], z_i·z_j for i = 1..F, j = 0..i−1]   (B, D + (F+1)F/2)
//                 the lower triangle without the diagonal, row by row, as DLRM's reference orders it
//   mode 1 (cat): out[b] = [dense[b], emb[b, 0], …, emb[b, F−1]]          (B, D + F·D)
//
// @binding(0) dense: (B, D) f32 read       the bottom MLP's output
// @binding(1) emb: (B, F, D) f32 read      the pooled embeddings of the F sparse features
// @binding(2) out: (B, W) f32 read_write   W = D + (F+1)F/2 (dot) or D + F·D (cat)
// @binding(3) params: { B, F, D, mode }
//
// backward
// @binding(0) dense: (B, D) f32 read
// @binding(1) emb: (B, F, D) f32 read
// @binding(2) dy: (B, W) f32 read
// @binding(3) d_dense: (B, D) f32 read_write
// @binding(4) d_emb: (B, F, D) f32 read_write
// @binding(5) params: { B, F, D, mode, accumulate }   accumulate = 1: add to d_dense, d_emb
//
// One thread per output value (threads numbered across a 2-D grid of workgroups). A pair
// thread finds its (i, j) from its index in the triangle and sums the D products in order;
// the vectors of one sample are read by its neighbouring threads, so they stay in cache.
// Backward: one thread per input value (b, v, d), v = 0..F; for `dot` it adds, in order of j,
// dy[pair(v, j)] · z_j[d] over the F other vectors (plus dy[d] for the dense copy) — no
// atomics; for `cat` it copies its slice of dy.

override WG: u32 = 64u;

struct Params { B: u32, F: u32, D: u32, mode: u32 }

@group(0) @binding(0) var<storage, read> dense: array<f32>;
@group(0) @binding(1) var<storage, read> emb: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// Value d of vector v (0: dense, 1..F: embeddings) of sample b.
fn z(b: u32, v: u32, d: u32) -> f32 {
  if (v == 0u) { return dense[b * p.D + d]; }
  return emb[(b * p.F + v - 1u) * p.D + d];
}

// The pair (i, j), j < i, at position k of the lower triangle: k = i(i−1)/2 + j.
fn pair_of(k: u32) -> vec2<u32> {
  var i = u32((1.0 + sqrt(1.0 + 8.0 * f32(k))) * 0.5);
  // the float estimate can be one off either way: settle it with integers
  while (i * (i - 1u) / 2u > k) { i -= 1u; }
  while ((i + 1u) * i / 2u <= k) { i += 1u; }
  return vec2<u32>(i, k - i * (i - 1u) / 2u);
}

fn width() -> u32 {
  if (p.mode == 0u) { return p.D + (p.F + 1u) * p.F / 2u; }
  return p.D + p.F * p.D;
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let W = width();
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  if (t >= p.B * W) { return; }
  let b = t / W;
  let c = t % W;
  if (c < p.D) { out[t] = dense[b * p.D + c]; return; }
  if (p.mode != 0u) { out[t] = emb[b * p.F * p.D + (c - p.D)]; return; }
  let ij = pair_of(c - p.D);
  var acc = 0.0;
  for (var d = 0u; d < p.D; d++) { acc += z(b, ij.x, d) * z(b, ij.y, d); }
  out[t] = acc;
}

struct BackwardParams { B: u32, F: u32, D: u32, mode: u32, accumulate: u32 }

@group(0) @binding(0) var<storage, read> b_dense: array<f32>;
@group(0) @binding(1) var<storage, read> b_emb: array<f32>;
@group(0) @binding(2) var<storage, read> b_dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> d_dense: array<f32>;
@group(0) @binding(4) var<storage, read_write> d_emb: array<f32>;
@group(0) @binding(5) var<uniform> bp: BackwardParams;

fn b_z(b: u32, v: u32, d: u32) -> f32 {
  if (v == 0u) { return b_dense[b * bp.D + d]; }
  return b_emb[(b * bp.F + v - 1u) * bp.D + d];
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  let V = bp.F + 1u;
  if (t >= bp.B * V * bp.D) { return; }
  let b = t / (V * bp.D);
  let v = (t / bp.D) % V;
  let d = t % bp.D;
  var W = bp.D + bp.F * bp.D;
  if (bp.mode == 0u) { W = bp.D + V * bp.F / 2u; }
  let row = b * W;
  var acc = 0.0;
  if (v == 0u) {
    acc = b_dy[row + d];
  } else if (bp.mode != 0u) {
    acc = b_dy[row + v * bp.D + d];
  }
  if (bp.mode == 0u) {
    for (var j = 0u; j < V; j++) {
      if (j == v) { continue; }
      let hi = max(v, j);
      let k = hi * (hi - 1u) / 2u + min(v, j);
      acc += b_dy[row + bp.D + k] * b_z(b, j, d);
    }
  }
  if (v == 0u) {
    let i = b * bp.D + d;
    if (bp.accumulate != 0u) { d_dense[i] += acc; } else { d_dense[i] = acc; }
  } else {
    let i = (b * bp.F + v - 1u) * bp.D + d;
    if (bp.accumulate != 0u) { d_emb[i] += acc; } else { d_emb[i] = acc; }
  }
}
