// copy — dst = src, four floats per thread. The memory-bandwidth yardstick of the benchmarks:
// what the adapter achieves on a plain streaming read + write, beside which the memory-bound
// kernels (topk, embedding_bag) report their GB/s.
//
// @binding(0) src: (N/4) vec4<f32> read
// @binding(1) dst: (N/4) vec4<f32> read_write
// @binding(2) params: { n4 }   number of vec4 elements

override WG: u32 = 256u;

struct Params { n4: u32 }

@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + li;
  if (i < p.n4) { dst[i] = src[i]; }
}
