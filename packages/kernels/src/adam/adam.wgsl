// adam — AdamW over a range of the flat parameter buffer.
//
// @binding(0) grad: (P) f32 read           gradients, same layout as param
// @binding(1) param: (P) f32 read_write    all parameters in one buffer carved at offsets
// @binding(2) m: (P) f32 read_write        first moment
// @binding(3) v: (P) f32 read_write        second moment
// @binding(4) params: { offset, count, lr, beta1, beta2, one_minus_beta1, one_minus_beta2, eps,
//                      weight_decay, bc1, bc2 }
//             updates elements offset .. offset+count−1; bc1 = 1 − beta1^t, bc2 = 1 − beta2^t
//             for step t ≥ 1. The host computes 1 − β and the bias corrections in float64:
//             1 − f32(0.999) would be off by 1.3e-5 relative, and so would v.
//
// One thread per element, PyTorch's AdamW order: decoupled decay p ← p·(1 − lr·wd), then
// m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − lr·(m/bc1)/(√(v/bc2) + eps).
// Elementwise, so trivially deterministic. Groups without decay (biases, norms) are separate
// ranges dispatched with weight_decay = 0.

override WG: u32 = 256u;

struct Params {
  offset: u32, count: u32, lr: f32, beta1: f32, beta2: f32, one_minus_beta1: f32, one_minus_beta2: f32,
  eps: f32, weight_decay: f32, bc1: f32, bc2: f32,
}

@group(0) @binding(0) var<storage, read> grad: array<f32>;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let k = (wid.x + wid.y * nwg.x) * WG + lid.x;
  if (k >= p.count) { return; }
  let i = p.offset + k;
  let g = grad[i];
  let w = param[i] * (1.0 - p.lr * p.weight_decay);
  let m1 = p.beta1 * m[i] + p.one_minus_beta1 * g;
  let v1 = p.beta2 * v[i] + p.one_minus_beta2 * g * g;
  m[i] = m1;
  v[i] = v1;
  param[i] = w - p.lr * (m1 / p.bc1) / (sqrt(v1 / p.bc2) + p.eps);
}
