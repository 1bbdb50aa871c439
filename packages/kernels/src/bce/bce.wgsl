// bce — the ranking heads' losses (CTR, ESMM CTCVR, revenue) and their gradients.
//
// @binding(0) outputs: (B, 3) f32 read     per row: ctr logit a, cvr logit c, revenue r̂ (predicts log1p(revenue))
// @binding(1) labels: (B, 3) f32 read      per row: click y_c ∈ {0,1}, conversion y_v ∈ {0,1}, revenue ≥ 0
// forward:  @binding(2) loss: (B, 3) f32 read_write   per row and task, unweighted:
//             [BCE(a; y_c), BCE(σ(a)·σ(c); y_v), y_v ? (r̂ − log1p(revenue))² : 0]
//           @binding(3) params: { B }
// backward: @binding(2) grad: (B, 3) f32 read_write   d(Σ_i Σ_t w_t · loss_it)/d outputs_i
//           @binding(3) params: { B, w_ctr, w_ctcvr, w_rev, w_cvr }  (fold 1/B or 1/#conversions in)
//           w_cvr adds a direct cvr BCE on the clicked rows, y_c · BCE(c; y_v), beside ESMM's (0: ESMM alone;
//           docs/ARCHITECTURE.md §4, "Which snapshot"); the forward's loss does not include it.
//
// One thread per row. CTR: BCE with logits, max(a,0) − a·y + log1p(e^−|a|). ESMM: pCTCVR =
// σ(a)·σ(c) is supervised with the conversion label on every impression. Its logs are taken in
// log space instead of clamping p: log p = logσ(a) + logσ(c) and 1 − p = σ(−a) + σ(a)·σ(−c), a
// sum of positive terms (no cancellation), so log(1 − p) = logaddexp(logσ(−a), logσ(a) +
// logσ(−c)) is finite for every finite logit. The gradient terms σ(−a)·p/(1 − p) ≤ p and
// σ(−c)·p/(1 − p) ≤ σ(c) are formed as exp(sums of logs ≤ 0): no overflow, no NaN.

override WG: u32 = 64u;

struct Params { B: u32 }
struct BackwardParams { B: u32, w_ctr: f32, w_ctcvr: f32, w_rev: f32, w_cvr: f32 }

@group(0) @binding(0) var<storage, read> outputs: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<uniform> bp: BackwardParams;

// log(1 + x) accurate for small x (Goldberg's trick: log(w)·x/(w − 1) cancels w's rounding).
fn log1p(x: f32) -> f32 {
  let w = 1.0 + x;
  if (w == 1.0) { return x; }
  return log(w) * x / (w - 1.0);
}
// log(1 + e^x), stable for any x.
fn softplus(x: f32) -> f32 { return max(x, 0.0) + log1p(exp(-abs(x))); }
fn log_sigmoid(x: f32) -> f32 { return -softplus(-x); }
fn log_add_exp(x: f32, y: f32) -> f32 { return max(x, y) + log1p(exp(-abs(x - y))); }
fn sigmoid(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}

fn row_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid.x;
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = row_index(wid, nwg, lid);
  if (i >= p.B) { return; }
  let a = outputs[i * 3u];
  let c = outputs[i * 3u + 1u];
  let r = outputs[i * 3u + 2u];
  let yc = labels[i * 3u];
  let yv = labels[i * 3u + 1u];
  let lp = log_sigmoid(a) + log_sigmoid(c);
  let l1p = log_add_exp(log_sigmoid(-a), log_sigmoid(a) + log_sigmoid(-c));
  let e = r - log1p(labels[i * 3u + 2u]);
  loss[i * 3u] = softplus(a) - a * yc;
  loss[i * 3u + 1u] = -(yv * lp + (1.0 - yv) * l1p);
  loss[i * 3u + 2u] = select(0.0, e * e, yv > 0.5);
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = row_index(wid, nwg, lid);
  if (i >= bp.B) { return; }
  let a = outputs[i * 3u];
  let c = outputs[i * 3u + 1u];
  let r = outputs[i * 3u + 2u];
  let yc = labels[i * 3u];
  let yv = labels[i * 3u + 1u];
  let lp = log_sigmoid(a) + log_sigmoid(c);
  let l1p = log_add_exp(log_sigmoid(-a), log_sigmoid(a) + log_sigmoid(-c));
  let lna = log_sigmoid(-a);  // log σ(−a)
  let lnc = log_sigmoid(-c);
  // d/da −[y log p + (1−y) log(1−p)] = (1−y)·σ(−a)·p/(1−p) − y·σ(−a); likewise for c.
  let da = (1.0 - yv) * exp(lna + lp - l1p) - yv * exp(lna);
  let dc = (1.0 - yv) * exp(lnc + lp - l1p) - yv * exp(lnc);
  let e = r - log1p(labels[i * 3u + 2u]);
  grad[i * 3u] = bp.w_ctr * (sigmoid(a) - yc) + bp.w_ctcvr * da;
  grad[i * 3u + 1u] = bp.w_ctcvr * dc + bp.w_cvr * yc * (sigmoid(c) - yv);
  grad[i * 3u + 2u] = select(0.0, bp.w_rev * 2.0 * e, yv > 0.5);
}
