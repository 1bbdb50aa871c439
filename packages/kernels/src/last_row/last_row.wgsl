// last_row — the most recent valid position of each padded history: the sequence encoder's
// output at the newest event, which the user tower reads beside the pooled history.
//
// Legend: B batch, L positions per row (oldest first, padded after lengths[b]), W row width.
//
// forward          (one thread per output value (b, c))
// @binding(0) x: (B, L, W) f32 read        the encoder's per-position outputs
// @binding(1) lengths: (B) u32 read        valid positions per row
// @binding(2) y: (B, W) f32 read_write     y[b] = x[b, n−1] with n = min(lengths[b], L); zeros when n = 0
// @binding(3) params: { B, L, W }
// backward         (one thread per dx value (b, l, c))
// @binding(0) dy: (B, W) f32 read   @binding(1) lengths: (B) u32 read
// @binding(2) dx: (B, L, W) f32 read_write   dx[b, l] += dy[b] where l = n−1 (added to what is there: the
//             other consumers' gradients of x); every other value untouched
// @binding(3) params
//
// Every value has one writer: no atomics, results independent of the schedule.

override WG: u32 = 64u;

struct Params { B: u32, L: u32, W: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> lengths: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> pf: Params;

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> pb: Params;

fn thread_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let p = pf;
  let t = thread_index(wid, nwg, lid);
  if (t >= p.B * p.W) { return; }
  let b = t / p.W;
  let c = t % p.W;
  let n = min(lengths[b], p.L);
  if (n == 0u) {
    y[t] = 0.0;
    return;
  }
  y[t] = x[(b * p.L + n - 1u) * p.W + c];
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let p = pb;
  let t = thread_index(wid, nwg, lid);
  if (t >= p.B * p.W) { return; }
  let b = t / p.W;
  let c = t % p.W;
  let n = min(lengths[b], p.L);
  if (n == 0u) { return; }
  let i = (b * p.L + n - 1u) * p.W + c;
  dx[i] = dx[i] + dy[t];
}
