// attention — multi-head scaled-dot-product attention over a padded history (self-attention),
// and learned-query attention pooling: the history encoder of the retrieval user tower.
//
// Legend: B batch, L history length, H heads, Dh head width, D = H·Dh, Lq query rows per batch
// row (L for self-attention, pooled = 0; 1 for pooling, pooled = 1). Row b's history holds
// positions 0..n-1 with n = min(lengths[b], L); keys j ≥ n are masked out, and query rows i ≥ n
// give zeros (their output is padding; a row with n = 0 is all zeros, never NaN).
//
// forward          (one thread per (b, h, i))
// @binding(0) q: (B, L, D) f32 read         queries; pooled: (D) = (H, Dh), one learned query
// @binding(1) k: (B, L, D) f32 read         keys
// @binding(2) v: (B, L, D) f32 read         values
// @binding(3) lengths: (B) u32 read         valid history length per row
// @binding(4) out: (B, Lq, D) f32 read_write
// @binding(5) stats: (B, H, Lq, 2) f32 read_write   [logsumexp of the row's scores, delta]
// @binding(6) params: { B, L, H, Dh, pooled, scale, causal }   scale = 1/√Dh; causal ≠ 0: query row
//                     i sees keys j ≤ i only (positions oldest first: no row sees a later event)
// backward_q       (one thread per (b, h, i))
// @binding(0..3) q, k, v, lengths
// @binding(4) dout: (B, Lq, D) f32 read    @binding(5) out: (B, Lq, D) f32 read (the forward's)
// @binding(6) stats: read_write (reads the logsumexp, writes delta = dO_i·O_i)
// @binding(7) dq: (B, Lq, D) f32 read_write   pooled: per-row partials of d(query), summed below
// @binding(8) params
// backward_kv      (one thread per (b, h, j))
// @binding(0..4) q, k, v, lengths, dout   @binding(5) stats: read (after backward_q)
// @binding(6) dk: (B, L, D) f32 read_write   @binding(7) dv: (B, L, D) f32 read_write
// @binding(8) params
// pool_query_sum   (one workgroup per column c)
// @binding(0) dq_rows: (B, D) f32 read   @binding(1) dquery: (D) f32 read_write
// @binding(2) params: { B, D }
//
// Algorithm: one thread owns one query row of one head and walks its valid keys j = 0..n-1 in
// order with an online softmax (running max m, running Σ exp(s_j − m), the output accumulator
// rescaled whenever m grows): s_j = scale·q·k_j, out = Σ_j exp(s_j − m)·v_j / Σ_j exp(s_j − m).
// No workgroup memory and no barriers; threads next to each other share (b, h) and read the same
// key rows at the same time. The accumulator is a private array of CHUNK head dims; wider heads
// take several passes. Only the logsumexp is saved ((B,H,Lq) floats, not the (B,H,L,L)
// probabilities): the backward recomputes P_ij = exp(s_ij − lse_i), cheaper than storing it for
// L ≤ a few hundred. backward_q, per query row: delta_i = dO_i·O_i (= Σ_j P_ij·dP_ij),
// dS_ij = P_ij·(dO_i·v_j − delta_i), dq_i = scale·Σ_j dS_ij·k_j. backward_kv, per key row j,
// over the valid query rows i in order: dk_j = scale·Σ_i dS_ij·q_i, dv_j = Σ_i P_ij·dO_i.
// Every sum runs in a fixed order and every output has one writer: no atomics, bit-identical
// results for identical inputs. d(query) of pooling is summed over the batch by pool_query_sum
// (strided partial sums, then a tree). The entry points reuse binding numbers with different
// variables; each uses only its own, as WGSL requires per entry point.

override WG: u32 = 64u;   // threads per workgroup; a power of two (pool_query_sum's tree)
const CHUNK: u32 = 64u;   // head dims accumulated per pass in private memory

struct Params { B: u32, L: u32, H: u32, Dh: u32, pooled: u32, scale: f32, causal: u32 }
struct SumParams { B: u32, D: u32 }

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> lengths: array<u32>;
// forward
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
@group(0) @binding(6) var<uniform> pf: Params;
// backward_q
@group(0) @binding(4) var<storage, read> dout: array<f32>;
@group(0) @binding(5) var<storage, read> out_in: array<f32>;
@group(0) @binding(6) var<storage, read_write> stats_q: array<f32>;
@group(0) @binding(7) var<storage, read_write> dq: array<f32>;
@group(0) @binding(8) var<uniform> pbq: Params;
// backward_kv (and dout at 4)
@group(0) @binding(5) var<storage, read> stats_kv: array<f32>;
@group(0) @binding(6) var<storage, read_write> dk: array<f32>;
@group(0) @binding(7) var<storage, read_write> dv: array<f32>;
@group(0) @binding(8) var<uniform> pkv: Params;
// pool_query_sum
@group(0) @binding(0) var<storage, read> dq_rows: array<f32>;
@group(0) @binding(1) var<storage, read_write> dquery: array<f32>;
@group(0) @binding(2) var<uniform> ps: SumParams;

var<workgroup> red: array<f32, WG>;

const LOWEST: f32 = -3.4e38;  // below any finite score

// Query rows per batch row.
fn query_rows(p: Params) -> u32 {
  return select(p.L, 1u, p.pooled != 0u);
}

// Keys query row i walks: 0..n-1, or 0..min(n, i+1)-1 when causal (self-attention only).
fn key_count(p: Params, i: u32, n: u32) -> u32 {
  return select(n, min(n, i + 1u), p.causal != 0u);
}

// Offset of query row (b, i), head h, in q: the learned query is shared by every row.
fn q_offset(p: Params, b: u32, i: u32, h: u32) -> u32 {
  return select((b * p.L + i) * p.H * p.Dh, 0u, p.pooled != 0u) + h * p.Dh;
}

// The flat thread index over a grid of workgroups split into x·y.
fn thread_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let p = pf;
  let Lq = query_rows(p);
  let r = thread_index(wid, nwg, lid);
  if (r >= p.B * p.H * Lq) { return; }
  let i = r % Lq;
  let h = (r / Lq) % p.H;
  let b = r / (Lq * p.H);
  let D = p.H * p.Dh;
  let orow = (b * Lq + i) * D + h * p.Dh;
  let srow = ((b * p.H + h) * Lq + i) * 2u;
  let n = min(lengths[b], p.L);
  if (i >= n) {  // a padded query row, or a history with no valid key: zeros, not NaN
    for (var d = 0u; d < p.Dh; d++) { out[orow + d] = 0.0; }
    stats[srow] = 0.0;
    stats[srow + 1u] = 0.0;
    return;
  }
  let qrow = q_offset(p, b, i, h);
  let kbase = b * p.L * D + h * p.Dh;
  let dc = min(p.Dh, CHUNK);
  var qv: array<f32, CHUNK>;  // the query row's first CHUNK dims, read once
  for (var d = 0u; d < dc; d++) { qv[d] = q[qrow + d]; }
  let nk = key_count(p, i, n);
  var lse = 0.0;
  for (var c0 = 0u; c0 < p.Dh; c0 += CHUNK) {
    let w = min(CHUNK, p.Dh - c0);
    var acc: array<f32, CHUNK>;
    for (var d = 0u; d < w; d++) { acc[d] = 0.0; }  // explicit: see backward_kv
    var m = LOWEST;
    var z = 0.0;
    for (var j = 0u; j < nk; j++) {
      let krow = kbase + j * D;
      var s = 0.0;
      for (var d = 0u; d < dc; d++) { s += qv[d] * k[krow + d]; }
      for (var d = CHUNK; d < p.Dh; d++) { s += q[qrow + d] * k[krow + d]; }
      s *= p.scale;
      if (s > m) {  // a new max: rescale what was summed so far
        let f = exp(m - s);
        z *= f;
        for (var d = 0u; d < w; d++) { acc[d] *= f; }
        m = s;
      }
      let e = exp(s - m);
      z += e;
      for (var d = 0u; d < w; d++) { acc[d] += e * v[krow + c0 + d]; }
    }
    let inv = 1.0 / z;
    for (var d = 0u; d < w; d++) { out[orow + c0 + d] = acc[d] * inv; }
    lse = m + log(z);
  }
  stats[srow] = lse;
  stats[srow + 1u] = 0.0;
}

@compute @workgroup_size(WG)
fn backward_q(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let p = pbq;
  let Lq = query_rows(p);
  let r = thread_index(wid, nwg, lid);
  if (r >= p.B * p.H * Lq) { return; }
  let i = r % Lq;
  let h = (r / Lq) % p.H;
  let b = r / (Lq * p.H);
  let D = p.H * p.Dh;
  let orow = (b * Lq + i) * D + h * p.Dh;
  let srow = ((b * p.H + h) * Lq + i) * 2u;
  let n = min(lengths[b], p.L);
  if (i >= n) {
    for (var d = 0u; d < p.Dh; d++) { dq[orow + d] = 0.0; }
    stats_q[srow + 1u] = 0.0;
    return;
  }
  var delta = 0.0;
  for (var d = 0u; d < p.Dh; d++) { delta += dout[orow + d] * out_in[orow + d]; }
  let lse = stats_q[srow];
  let qrow = q_offset(p, b, i, h);
  let kbase = b * p.L * D + h * p.Dh;
  let dc = min(p.Dh, CHUNK);
  var qv: array<f32, CHUNK>;  // the query and dout rows' first CHUNK dims, read once
  var ov: array<f32, CHUNK>;
  for (var d = 0u; d < dc; d++) {
    qv[d] = q[qrow + d];
    ov[d] = dout[orow + d];
  }
  let nk = key_count(p, i, n);
  for (var c0 = 0u; c0 < p.Dh; c0 += CHUNK) {
    let w = min(CHUNK, p.Dh - c0);
    var acc: array<f32, CHUNK>;
    for (var d = 0u; d < w; d++) { acc[d] = 0.0; }  // explicit: see backward_kv
    for (var j = 0u; j < nk; j++) {
      let krow = kbase + j * D;
      var s = 0.0;
      var dp = 0.0;
      for (var d = 0u; d < dc; d++) {
        s += qv[d] * k[krow + d];
        dp += ov[d] * v[krow + d];
      }
      for (var d = CHUNK; d < p.Dh; d++) {
        s += q[qrow + d] * k[krow + d];
        dp += dout[orow + d] * v[krow + d];
      }
      let ds = exp(s * p.scale - lse) * (dp - delta);
      for (var d = 0u; d < w; d++) { acc[d] += ds * k[krow + c0 + d]; }
    }
    for (var d = 0u; d < w; d++) { dq[orow + c0 + d] = acc[d] * p.scale; }
  }
  stats_q[srow + 1u] = delta;
}

@compute @workgroup_size(WG)
fn backward_kv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let p = pkv;
  let Lq = query_rows(p);
  let r = thread_index(wid, nwg, lid);
  if (r >= p.B * p.H * p.L) { return; }
  let j = r % p.L;
  let h = (r / p.L) % p.H;
  let b = r / (p.L * p.H);
  let D = p.H * p.Dh;
  let krow = (b * p.L + j) * D + h * p.Dh;
  let n = min(lengths[b], p.L);
  if (j >= n) {  // a padded key: no gradient
    for (var d = 0u; d < p.Dh; d++) {
      dk[krow + d] = 0.0;
      dv[krow + d] = 0.0;
    }
    return;
  }
  let nq = min(n, Lq);  // valid query rows: i < n (self), the one pooled row (n ≥ 1 here)
  let dc = min(p.Dh, CHUNK);
  var kv: array<f32, CHUNK>;  // the key and value rows' first CHUNK dims, read once
  var vv: array<f32, CHUNK>;
  for (var d = 0u; d < dc; d++) {
    kv[d] = k[krow + d];
    vv[d] = v[krow + d];
  }
  for (var c0 = 0u; c0 < p.Dh; c0 += CHUNK) {
    let w = min(CHUNK, p.Dh - c0);
    // Zeroed explicitly each pass: without it, Dawn on SwiftShader was seen to start the second
    // pass from the first pass's sums (WGSL zero-initialises a declaration each time it runs).
    var gk: array<f32, CHUNK>;
    var gv: array<f32, CHUNK>;
    for (var d = 0u; d < w; d++) {
      gk[d] = 0.0;
      gv[d] = 0.0;
    }
    for (var i = select(0u, j, p.causal != 0u); i < nq; i++) {  // causal: only rows i ≥ j see key j
      let qrow = q_offset(p, b, i, h);
      let orow = (b * Lq + i) * D + h * p.Dh;
      let srow = ((b * p.H + h) * Lq + i) * 2u;
      var s = 0.0;
      var dp = 0.0;
      for (var d = 0u; d < dc; d++) {
        s += q[qrow + d] * kv[d];
        dp += dout[orow + d] * vv[d];
      }
      for (var d = CHUNK; d < p.Dh; d++) {
        s += q[qrow + d] * k[krow + d];
        dp += dout[orow + d] * v[krow + d];
      }
      let pij = exp(s * p.scale - stats_kv[srow]);
      let ds = pij * (dp - stats_kv[srow + 1u]);
      for (var d = 0u; d < w; d++) {
        gk[d] += ds * q[qrow + c0 + d];
        gv[d] += pij * dout[orow + c0 + d];
      }
    }
    for (var d = 0u; d < w; d++) {
      dk[krow + c0 + d] = gk[d] * p.scale;
      dv[krow + c0 + d] = gv[d];
    }
  }
}

@compute @workgroup_size(WG)
fn pool_query_sum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) t: u32) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= ps.D) { return; }
  var acc = 0.0;
  for (var b = t; b < ps.B; b += WG) { acc += dq_rows[b * ps.D + c]; }
  red[t] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  if (t == 0u) { dquery[c] = red[0]; }
}
