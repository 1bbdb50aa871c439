// next_item_xent — the next-item objective of a causal history encoder (SASRec-style): the
// encoder's output at every history position scores the item that came next, against the next
// items of the other positions in its block (in-batch negatives with logQ correction). Scores are
// computed in place (no (N, N) matrix): a block of M rows costs M² dot products of width W.
//
// Legend: N rows (B·L positions, oldest first per user), W row width, M rows per block (the
// candidates of row i are the valid rows of block ⌊i/M⌋).
//
// forward          (one thread per row i)
// @binding(0) q: (N, W) f32 read          encoder outputs, one per position
// @binding(1) t: (N, W) f32 read          the embedding of each position's next item
// @binding(2) logq: (N) f32 read          log sampling probability of each row's next item
// @binding(3) ids: (N) u32 read           next item ids; 0xffffffff = the row has no next item (padding)
// @binding(4) loss: (N) f32 read_write    loss_i = lse_i − logit(i, i); 0 for a row without a next item
// @binding(5) lse: (N) f32 read_write     log-sum-exp of row i over its candidates
// @binding(6) params: { N, W, M, tau, scale, accumulate }
// backward_q       (one thread per row i)   dq_i (+)= scale/tau · Σ_j (P_ij − δ_ij) t_j
// backward_t       (one thread per row j)   dt_j (+)= scale/tau · Σ_i (P_ij − δ_ij) q_i
// @binding(0..3) q, t, logq, ids read  @binding(4) lse read  @binding(5) dq or dt (N, W) read_write
// @binding(6) params (accumulate ≠ 0: add to what is there, the other consumers' gradients)
//
// logit(i, j) = q_i·t_j / tau − logq[j]; j is a candidate of i when both are valid, in the same
// block, and j = i or ids[j] ≠ ids[i] (the same item twice is not a negative). P_ij = exp(logit −
// lse_i). The forward is an online log-sum-exp (running max) in column order; every output value
// has one writer: no atomics, the same bits every run. W ≤ 256 (a thread keeps one row in registers).

override WG: u32 = 64u;

const NONE: u32 = 0xffffffffu;

struct Params { N: u32, W: u32, M: u32, tau: f32, scale: f32, accumulate: u32 }

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> t: array<f32>;
@group(0) @binding(2) var<storage, read> logq: array<f32>;
@group(0) @binding(3) var<storage, read> ids: array<u32>;
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse_out: array<f32>;
@group(0) @binding(6) var<uniform> pf: Params;

@group(0) @binding(4) var<storage, read> lse: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;
@group(0) @binding(6) var<uniform> pb: Params;

fn thread_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

fn dot_rows(i: u32, j: u32, W: u32) -> f32 {
  var s = 0.0;
  for (var d = 0u; d < W; d++) { s += q[i * W + d] * t[j * W + d]; }
  return s;
}

// Whether column j is a candidate of the valid row i.
fn candidate(i: u32, j: u32) -> bool {
  let id = ids[j];
  return id != NONE && (j == i || id != ids[i]);
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let p = pf;
  let i = thread_index(wid, nwg, lid);
  if (i >= p.N) { return; }
  if (ids[i] == NONE) {
    loss[i] = 0.0;
    lse_out[i] = 0.0;
    return;
  }
  let start = (i / p.M) * p.M;
  let end = min(start + p.M, p.N);
  let positive = dot_rows(i, i, p.W) / p.tau - logq[i];
  var m = positive;
  var s = 1.0;
  for (var j = start; j < end; j++) {
    if (j == i || !candidate(i, j)) { continue; }
    let l = dot_rows(i, j, p.W) / p.tau - logq[j];
    if (l > m) {
      s = s * exp(m - l) + 1.0;
      m = l;
    } else {
      s += exp(l - m);
    }
  }
  let total = m + log(s);
  lse_out[i] = total;
  loss[i] = total - positive;
}

@compute @workgroup_size(WG)
fn backward_q(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let p = pb;
  let i = thread_index(wid, nwg, lid);
  if (i >= p.N) { return; }
  var acc: array<f32, 256>;
  for (var d = 0u; d < p.W; d++) { acc[d] = 0.0; }
  if (ids[i] != NONE) {
    let start = (i / p.M) * p.M;
    let end = min(start + p.M, p.N);
    for (var j = start; j < end; j++) {
      if (!candidate(i, j)) { continue; }
      var g = exp(dot_rows(i, j, p.W) / p.tau - logq[j] - lse[i]);
      if (j == i) { g -= 1.0; }
      for (var d = 0u; d < p.W; d++) { acc[d] += g * t[j * p.W + d]; }
    }
  }
  let c = p.scale / p.tau;
  for (var d = 0u; d < p.W; d++) {
    let k = i * p.W + d;
    grad[k] = select(0.0, grad[k], p.accumulate != 0u) + c * acc[d];
  }
}

@compute @workgroup_size(WG)
fn backward_t(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let p = pb;
  let j = thread_index(wid, nwg, lid);
  if (j >= p.N) { return; }
  var acc: array<f32, 256>;
  for (var d = 0u; d < p.W; d++) { acc[d] = 0.0; }
  if (ids[j] != NONE) {
    let start = (j / p.M) * p.M;
    let end = min(start + p.M, p.N);
    for (var i = start; i < end; i++) {
      if (ids[i] == NONE || !candidate(i, j)) { continue; }
      var g = exp(dot_rows(i, j, p.W) / p.tau - logq[j] - lse[i]);
      if (j == i) { g -= 1.0; }
      for (var d = 0u; d < p.W; d++) { acc[d] += g * q[i * p.W + d]; }
    }
  }
  let c = p.scale / p.tau;
  for (var d = 0u; d < p.W; d++) {
    let k = j * p.W + d;
    grad[k] = select(0.0, grad[k], p.accumulate != 0u) + c * acc[d];
  }
}
