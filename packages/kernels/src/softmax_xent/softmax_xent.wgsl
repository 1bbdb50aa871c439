// softmax_xent — in-batch-negative softmax cross-entropy for two-tower retrieval, on the score
// matrix S = U·Vᵀ (B, B) that linear.forward computes from the user vectors U (B, D) and the
// item vectors V (B, D) (row i of V is user i's positive). dU = G·V and dV = Gᵀ·U come back
// from linear.backward with dy = G = dL/dS. The op (runtime-web ops/softmax_xent.ts) chains
// the four dispatches; this file is the part that is not a matmul.
//
// forward:
// @binding(0) scores: (B, B) f32 read        S[i, j] = u_i · v_j
// @binding(1) logq: (B) f32 read             log of each in-batch item's sampling probability
// @binding(2) ids: (B) u32 read              item ids, for the accidental-hit mask
// @binding(3) loss: (B) f32 read_write       loss_i = lse_i − logit(i, i)
// @binding(4) lse: (B) f32 read_write        log-sum-exp of row i over its unmasked columns
// @binding(5) params: { B, tau }
// backward:
// @binding(0) logq: (B) f32 read
// @binding(1) ids: (B) u32 read
// @binding(2) lse: (B) f32 read              from forward
// @binding(3) scores: (B, B) f32 read_write  S in, G = d(scale · Σ_i loss_i)/dS out (in place)
// @binding(4) params: { B, tau, scale }      scale = 1/B for the mean loss
//
// logit(i, j) = S[i, j]/tau − logq[j] (logQ correction on every column, the positive too);
// column j ≠ i is masked out of row i when ids[j] == ids[i] (the same item twice is not a
// negative). Forward: one thread per row, two sequential passes over the columns (max, then
// Σ exp) — no barriers, no atomics, the same bits every run. Backward: one thread per element,
// G[i, j] = (P_ij − δ_ij)·scale/tau with P_ij = exp(logit(i, j) − lse_i), 0 where masked.

override WG: u32 = 64u;

struct Params { B: u32, tau: f32 }
struct BackwardParams { B: u32, tau: f32, scale: f32 }

@group(0) @binding(0) var<storage, read> scores: array<f32>;
@group(0) @binding(1) var<storage, read> logq: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> lse_out: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@group(0) @binding(0) var<storage, read> logq_b: array<f32>;
@group(0) @binding(1) var<storage, read> ids_b: array<u32>;
@group(0) @binding(2) var<storage, read> lse_in: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
@group(0) @binding(4) var<uniform> bp: BackwardParams;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid.x;
  if (i >= p.B) { return; }
  let row = i * p.B;
  let id = ids[i];
  var m = scores[row + i] / p.tau - logq[i];  // the diagonal is never masked
  let positive = m;
  for (var j = 0u; j < p.B; j++) {
    if (j != i && ids[j] == id) { continue; }
    m = max(m, scores[row + j] / p.tau - logq[j]);
  }
  var s = 0.0;
  for (var j = 0u; j < p.B; j++) {
    if (j != i && ids[j] == id) { continue; }
    s += exp(scores[row + j] / p.tau - logq[j] - m);
  }
  let l = m + log(s);
  lse_out[i] = l;
  loss[i] = l - positive;
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_id) lid: vec3<u32>) {
  let k = (wid.x + wid.y * nwg.x) * WG + lid.x;
  if (k >= bp.B * bp.B) { return; }
  let i = k / bp.B;
  let j = k % bp.B;
  var g = 0.0;
  if (j == i || ids_b[j] != ids_b[i]) {
    g = exp(grad[k] / bp.tau - logq_b[j] - lse_in[i]);
  }
  if (j == i) { g -= 1.0; }
  grad[k] = g * (bp.scale / bp.tau);
}
