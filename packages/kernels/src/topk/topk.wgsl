// topk — scores of B queries against N catalogue items, and the k best items per query
// (ties broken by the lower item index, excluded items never returned).
//
// Legend: B queries in the batch, N items (of one catalogue chunk unless said otherwise), R 16-byte
// words per item row (f32: 4 floats, int8: 16 values), L radix levels, K = k.
//
// Entry points, one dispatch each, in request order (bindings per entry point below):
//   reset            clears the per-query histograms, selection state and candidate counters
//   quantize_queries (int8 only) each query → two int8 code vectors + a power-of-two scale
//   score_f32 / score_int8   per chunk: keys (B, N) u32 = order-preserving bits of each score
//   exclude          per chunk: the key of every excluded (query, item) becomes 0
//   histogram, select_digit  L times: an 8-bit radix select on the composite key
//   collect          per chunk: the exactly K items ≥ the selected threshold → candidates
//   rank             sorts the candidates by exact rank and writes ids and scores
//
// The composite key of item i for one query is (score key s: 32 bits, then inv = ~i over IB index
// bits): larger is better and no two items share one, so "the K largest composite keys" is the
// top-k with ties broken by the lower index. select_digit walks it 8 bits at a time from the top
// (4 levels for the score, IB/8 for the index) keeping, per query, the resolved prefix (ts, ti)
// with its mask (ms, mi) and how many items are still needed from inside it (rem); it stops
// (done) as soon as the whole prefix bucket is needed, which for distinct scores happens within
// the score levels — the index levels only run when ties straddle the k-th place. collect then
// takes exactly the items whose composite key ≥ (ts, ti). Counts are integer atomics: the
// candidates' order in memory depends on timing, but rank places each by its exact rank (the
// number of candidates that beat it), so the output is the same bits on every run.
//
// Keys: a float's bits turned so that unsigned order is numeric order (negative: all bits
// flipped; positive: sign bit set); -0 counts as +0, NaN as the lowest score (key 1), and key 0
// marks an excluded item, which is never taken (so a query whose exclusions leave fewer than K
// items gets its tail padded with id 0xFFFFFFFF and score -inf).
//
// Cost: score is the only pass over the catalogue (one coalesced read of the rows, interleaved
// at upload); each radix level reads the 4-byte keys (B·N·4 bytes) and counts in workgroup
// memory; collect and rank touch about K items per query. Only quantize_queries, histogram and
// select_digit use barriers, a few per workgroup and never inside a per-item loop.
//
// Catalogues larger than one storage binding arrive as several chunks: score, exclude, histogram
// and collect run once per chunk with that chunk's item base index, the histograms and candidate
// counters simply accumulate across them.

requires packed_4x8_integer_dot_product;

// Threads per workgroup: fixed, as select_digit and histogram give one thread to each radix bin.
const WG: u32 = 256u;
// Rows per block of the interleaved item layout (see score_f32).
const ROW_BLOCK: u32 = 64u;
const NONE: u32 = 0xFFFFFFFFu;
// The key of −inf (a const bitcast to an infinity would not compile, a runtime one is fine).
const NEG_INF_KEY: u32 = 0x007FFFFFu;

override SCORE_WG: u32 = 256u;
// Keys per thread in histogram.
override HIST_STEPS: u32 = 16u;

struct State { ts: u32, ti: u32, ms: u32, mi: u32, rem: u32, done: u32, level: u32, pad: u32 }

fn flat_id(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.x + wid.y * nwg.x; }

/** Order-preserving u32 of a score (see the header); never 0. */
fn score_key(v: f32) -> u32 {
  var bits = bitcast<u32>(v);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) { return 1u; }
  if (bits == 0x80000000u) { bits = 0u; }
  if ((bits & 0x80000000u) != 0u) { return ~bits; }
  return bits | 0x80000000u;
}

fn key_score(key: u32) -> f32 {
  if ((key & 0x80000000u) != 0u) { return bitcast<f32>(key ^ 0x80000000u); }
  return bitcast<f32>(~key);
}

fn index_mask(ib: u32) -> u32 { return select(0xFFFFFFFFu, (1u << ib) - 1u, ib < 32u); }

// ------------------------------------------------------------------------------------- reset
//
// @binding(0) rs_state: (B) State read_write      → ts = ti = ms = mi = 0, rem = K, level 0
// @binding(1) rs_hist: (B, L, 256) u32 read_write → 0
// @binding(2) rs_counts: (B) u32 read_write       → 0 (candidates collected so far)
// @binding(3) params: { B, levels, K }            dispatch: B·L workgroups

struct ResetParams { B: u32, levels: u32, K: u32 }
@group(0) @binding(0) var<storage, read_write> rs_state: array<State>;
@group(0) @binding(1) var<storage, read_write> rs_hist: array<u32>;
@group(0) @binding(2) var<storage, read_write> rs_counts: array<u32>;
@group(0) @binding(3) var<uniform> rs: ResetParams;

@compute @workgroup_size(WG)
fn reset(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let g = flat_id(wid, nwg) * WG + lid;
  if (g < rs.B * rs.levels * 256u) { rs_hist[g] = 0u; }
  if (g < rs.B) {
    rs_state[g] = State(0u, 0u, 0u, 0u, rs.K, 0u, 0u, 0u);
    rs_counts[g] = 0u;
  }
}

// --------------------------------------------------------------------------------- score_f32
//
// @binding(0) sf_items: (⌈N/64⌉, R, 64) vec4<f32> read   one chunk in row blocks (below)
// @binding(1) sf_queries: (B, R) vec4<f32> read          rows zero-padded to 4·R floats
// @binding(2) sf_keys: (B, N) u32 read_write             score_key(items[i] · queries[b])
// @binding(3) params: { B, N, R }                        dispatch: ⌈N / SCORE_WG⌉ workgroups
//
// Items are stored interleaved in blocks of ROW_BLOCK = 64 rows: word j of row i sits at
// ((i / 64)·R + j)·64 + i % 64 (the host lays them out once at upload). One thread per row walks
// its R words in order, and at every step the threads of a workgroup read consecutive 16-byte
// words: coalesced loads, no workgroup memory, no barriers. Queries are looped inside, so the
// rows come from DRAM once and from cache for every further query; the query words are the same
// address for every thread (a broadcast).

struct ScoreParams { B: u32, N: u32, R: u32 }
@group(0) @binding(0) var<storage, read> sf_items: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> sf_queries: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> sf_keys: array<u32>;
@group(0) @binding(3) var<uniform> sf: ScoreParams;

/** Index of word 0 of row i in the interleaved layout; word j is at + j·ROW_BLOCK. */
fn row_start(i: u32, R: u32) -> u32 { return (i / ROW_BLOCK) * R * ROW_BLOCK + i % ROW_BLOCK; }

@compute @workgroup_size(SCORE_WG)
fn score_f32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * SCORE_WG;
  if (i >= sf.N) { return; }
  let at = row_start(i, sf.R);
  for (var b = 0u; b < sf.B; b++) {
    var acc = 0.0;
    for (var j = 0u; j < sf.R; j++) { acc += dot(sf_items[at + j * ROW_BLOCK], sf_queries[b * sf.R + j]); }
    sf_keys[b * sf.N + i] = score_key(acc);
  }
}

// -------------------------------------------------------------------------- quantize_queries
//
// @binding(0) qq_queries: (B, stride) f32 read    the first D values of each row are the query
// @binding(1) qq_codes: (B, 2, R·4) u32 read_write  hi codes then lo codes, 4 int8 per u32
// @binding(2) qq_scale: (B) f32 read_write        s = 2^(e−7): query ≈ s·(128·hi + lo)
// @binding(3) params: { B, D, stride, R }          dispatch: B workgroups
//
// Two int8 levels with power-of-two scales so that every step is exact and the CPU reference
// reproduces the codes bit for bit: 2^e is the smallest power of two with max|q| ≤ 127·2^e,
// hi = round(q / 2^e) ∈ [−127, 127], lo = round((q − hi·2^e) / 2^(e−7)) ∈ [−64, 64]. The item's
// dot product is then one exact integer 128·(hi·x) + (lo·x), i.e. a 15-bit query against 8-bit
// items, and only the items' own rounding is left in the score.

struct QuantizeParams { B: u32, D: u32, stride: u32, R: u32 }
@group(0) @binding(0) var<storage, read> qq_queries: array<f32>;
@group(0) @binding(1) var<storage, read_write> qq_codes: array<u32>;
@group(0) @binding(2) var<storage, read_write> qq_scale: array<f32>;
@group(0) @binding(3) var<uniform> qq: QuantizeParams;

var<workgroup> qmax: array<f32, WG>;

fn pack_i8(v: vec4<i32>) -> u32 {
  let u = bitcast<vec4<u32>>(v) & vec4<u32>(0xFFu);
  return u.x | (u.y << 8u) | (u.z << 16u) | (u.w << 24u);
}

@compute @workgroup_size(WG)
fn quantize_queries(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let b = flat_id(wid, nwg);
  if (b >= qq.B) { return; }
  var m = 0.0;
  for (var d = lid; d < qq.D; d += WG) { m = max(m, abs(qq_queries[b * qq.stride + d])); }
  qmax[lid] = m;
  workgroupBarrier();
  for (var off = WG / 2u; off > 0u; off >>= 1u) {
    if (lid < off) { qmax[lid] = max(qmax[lid], qmax[lid + off]); }
    workgroupBarrier();
  }
  let mx = qmax[0];
  // Exponent of mx (subnormals count as 2^−126), then the smallest e with mx ≤ 127·2^e.
  let big = max(i32((bitcast<u32>(mx) >> 23u) & 0xFFu), 1) - 127;
  let e = select(big - 5, big - 6, mx <= ldexp(127.0, big - 6));
  let words = qq.R * 4u;
  for (var w = lid; w < words; w += WG) {
    var hi = vec4<i32>(0);
    var lo = vec4<i32>(0);
    for (var c = 0u; c < 4u; c++) {
      let d = w * 4u + c;
      var q = 0.0;
      if (d < qq.D) { q = qq_queries[b * qq.stride + d]; }
      let h = round(ldexp(q, -e));
      let r = q - ldexp(h, e);
      hi[c] = i32(h);
      lo[c] = i32(round(ldexp(r, 7 - e)));
    }
    qq_codes[(b * 2u) * words + w] = pack_i8(hi);
    qq_codes[(b * 2u + 1u) * words + w] = pack_i8(lo);
  }
  if (lid == 0u) { qq_scale[b] = select(ldexp(1.0, e - 7), 0.0, mx == 0.0); }
}

// -------------------------------------------------------------------------------- score_int8
//
// @binding(0) si_items: (⌈N/64⌉, R, 64) vec4<u32> read   16 int8 per word, rows zero-padded,
//                                                        interleaved as in score_f32
// @binding(1) si_scales: (N) f32 read             per-row scale: item ≈ scale · codes
// @binding(2) si_codes: (B, 2, R) vec4<u32> read  from quantize_queries
// @binding(3) si_qscale: (B) f32 read
// @binding(4) si_keys: (B, N) u32 read_write      score_key(f32(128·hi·x + lo·x) · (qscale · scale))
// @binding(5) params: { B, N, R }                 dispatch as score_f32
//
// score_f32's layout and loop with dot4I8Packed on each u32: the integer sums are exact, and the
// score is one product of correctly rounded f32 values (no fused add to reassociate).

@group(0) @binding(0) var<storage, read> si_items: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> si_scales: array<f32>;
@group(0) @binding(2) var<storage, read> si_codes: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> si_qscale: array<f32>;
@group(0) @binding(4) var<storage, read_write> si_keys: array<u32>;
@group(0) @binding(5) var<uniform> si: ScoreParams;

fn dot16(x: vec4<u32>, q: vec4<u32>) -> i32 {
  return dot4I8Packed(x.x, q.x) + dot4I8Packed(x.y, q.y) + dot4I8Packed(x.z, q.z) + dot4I8Packed(x.w, q.w);
}

@compute @workgroup_size(SCORE_WG)
fn score_int8(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * SCORE_WG;
  if (i >= si.N) { return; }
  let at = row_start(i, si.R);
  let scale = si_scales[i];
  for (var b = 0u; b < si.B; b++) {
    var hi = 0;
    var lo = 0;
    for (var j = 0u; j < si.R; j++) {
      let x = si_items[at + j * ROW_BLOCK];
      hi += dot16(x, si_codes[(b * 2u) * si.R + j]);
      lo += dot16(x, si_codes[(b * 2u + 1u) * si.R + j]);
    }
    si_keys[b * si.N + i] = score_key(f32(hi * 128 + lo) * (si_qscale[b] * scale));
  }
}

// ----------------------------------------------------------------------------------- exclude
//
// @binding(0) ex_ids: (E) u32 read                excluded item ids (global), CSR by query
// @binding(1) ex_offsets: (B + 1) u32 read        query b excludes ex_ids[offsets[b] .. offsets[b+1])
// @binding(2) ex_keys: (B, N) u32 read_write      key ← 0 for the excluded items of this chunk
// @binding(3) params: { B, N, base }              chunk rows are items base .. base+N−1; B workgroups

struct ExcludeParams { B: u32, N: u32, base: u32 }
@group(0) @binding(0) var<storage, read> ex_ids: array<u32>;
@group(0) @binding(1) var<storage, read> ex_offsets: array<u32>;
@group(0) @binding(2) var<storage, read_write> ex_keys: array<u32>;
@group(0) @binding(3) var<uniform> ex: ExcludeParams;

@compute @workgroup_size(WG)
fn exclude(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let b = flat_id(wid, nwg);
  if (b >= ex.B) { return; }
  for (var e = ex_offsets[b] + lid; e < ex_offsets[b + 1u]; e += WG) {
    let i = ex_ids[e];
    if (i >= ex.base && i - ex.base < ex.N) { ex_keys[b * ex.N + (i - ex.base)] = 0u; }
  }
}

// --------------------------------------------------------------------------------- histogram
//
// @binding(0) hg_keys: (B, N) u32 read
// @binding(1) hg_state: (B) State read
// @binding(2) hg_hist: (B, L, 256) u32 read_write  (atomic) += counts of this level's digit
// @binding(3) params: { B, N, base, index_bits, levels }   dispatch: B·⌈N / (WG·HIST_STEPS)⌉
//
// Counts, among the items whose composite key matches the query's resolved prefix, the next 8
// bits: in workgroup memory first, then one global atomic per non-empty bin.

struct HistParams { B: u32, N: u32, base: u32, index_bits: u32, levels: u32 }
@group(0) @binding(0) var<storage, read> hg_keys: array<u32>;
@group(0) @binding(1) var<storage, read> hg_state: array<State>;
@group(0) @binding(2) var<storage, read_write> hg_hist: array<atomic<u32>>;
@group(0) @binding(3) var<uniform> hg: HistParams;

var<workgroup> bins: array<atomic<u32>, 256>;

@compute @workgroup_size(WG)
fn histogram(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let per = WG * HIST_STEPS;
  let blocks = (hg.N + per - 1u) / per;
  let f = flat_id(wid, nwg);
  let b = f / blocks;
  if (b >= hg.B) { return; }
  let st = hg_state[b];
  if (st.done != 0u) { return; }
  atomicStore(&bins[lid], 0u);
  workgroupBarrier();
  let imask = index_mask(hg.index_bits);
  let i0 = (f % blocks) * per;
  for (var s = 0u; s < HIST_STEPS; s++) {
    let i = i0 + s * WG + lid;
    if (i < hg.N) {
      let key = hg_keys[b * hg.N + i];
      let inv = imask ^ (hg.base + i);
      if ((key & st.ms) == st.ts && (inv & st.mi) == st.ti) {
        var digit: u32;
        if (st.level < 4u) { digit = (key >> (24u - 8u * st.level)) & 0xFFu; }
        else { digit = (inv >> (hg.index_bits - 8u * (st.level - 3u))) & 0xFFu; }
        atomicAdd(&bins[digit], 1u);
      }
    }
  }
  workgroupBarrier();
  let c = atomicLoad(&bins[lid]);
  if (c > 0u) { atomicAdd(&hg_hist[(b * hg.levels + st.level) * 256u + lid], c); }
}

// ------------------------------------------------------------------------------ select_digit
//
// @binding(0) sd_hist: (B, L, 256) u32 read
// @binding(1) sd_state: (B) State read_write
// @binding(2) params: { B, levels, index_bits }    dispatch: B workgroups
//
// Suffix sums over the 256 bins of this level; the one bin with above < rem ≤ above + count
// holds the rem-th best remaining item: its digit joins the prefix, rem −= above, and the query
// is done when the whole bin is needed (count = rem). Every query then moves to the next level.

struct SelectParams { B: u32, levels: u32, index_bits: u32 }
@group(0) @binding(0) var<storage, read> sd_hist: array<u32>;
@group(0) @binding(1) var<storage, read_write> sd_state: array<State>;
@group(0) @binding(2) var<uniform> sd: SelectParams;

var<workgroup> suffix: array<u32, 256>;

@compute @workgroup_size(WG)
fn select_digit(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let b = flat_id(wid, nwg);
  if (b >= sd.B) { return; }
  let st = sd_state[b];
  let level = min(st.level, sd.levels - 1u);
  let count = sd_hist[(b * sd.levels + level) * 256u + lid];
  suffix[lid] = count;
  // Every thread has read the state before the winner (and thread 0) write it below.
  storageBarrier();
  workgroupBarrier();
  for (var off = 1u; off < 256u; off <<= 1u) {
    var add = 0u;
    if (lid + off < 256u) { add = suffix[lid + off]; }
    workgroupBarrier();
    suffix[lid] += add;
    workgroupBarrier();
  }
  let incl = suffix[lid];
  let above = incl - count;
  if (st.done == 0u && above < st.rem && st.rem <= incl) {
    let rem = st.rem - above;
    if (level < 4u) {
      let shift = 24u - 8u * level;
      sd_state[b].ts = st.ts | (lid << shift);
      sd_state[b].ms = st.ms | (0xFFu << shift);
    } else {
      let shift = sd.index_bits - 8u * (level - 3u);
      sd_state[b].ti = st.ti | (lid << shift);
      sd_state[b].mi = st.mi | (0xFFu << shift);
    }
    sd_state[b].rem = rem;
    sd_state[b].done = select(0u, 1u, count == rem);
  }
  if (lid == 0u) { sd_state[b].level = st.level + 1u; }
}

// ----------------------------------------------------------------------------------- collect
//
// @binding(0) co_keys: (B, N) u32 read
// @binding(1) co_state: (B) State read
// @binding(2) co_cand: (B, K) vec2<u32> read_write   (key, global item id), in arrival order
// @binding(3) co_counts: (B) u32 read_write          (atomic) candidates so far
// @binding(4) params: { B, N, base, index_bits, K }  dispatch: B·⌈N / WG⌉ workgroups
//
// Takes every non-excluded item with (key, inv) ≥ (ts, ti): exactly the query's top-K over all
// chunks. Each taken item reserves its place with one global atomic: at most K per query, so
// there is little contention and no need for workgroup memory or barriers.

struct CollectParams { B: u32, N: u32, base: u32, index_bits: u32, K: u32 }
@group(0) @binding(0) var<storage, read> co_keys: array<u32>;
@group(0) @binding(1) var<storage, read> co_state: array<State>;
@group(0) @binding(2) var<storage, read_write> co_cand: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> co_counts: array<atomic<u32>>;
@group(0) @binding(4) var<uniform> co: CollectParams;

@compute @workgroup_size(WG)
fn collect(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let blocks = (co.N + WG - 1u) / WG;
  let f = flat_id(wid, nwg);
  let b = f / blocks;
  let i = (f % blocks) * WG + lid;
  if (b >= co.B || i >= co.N) { return; }
  let key = co_keys[b * co.N + i];
  let st = co_state[b];
  let id = co.base + i;
  let inv = index_mask(co.index_bits) ^ id;
  if (key != 0u && (key > st.ts || (key == st.ts && inv >= st.ti))) {
    let slot = atomicAdd(&co_counts[b], 1u);
    if (slot < co.K) { co_cand[b * co.K + slot] = vec2<u32>(key, id); }
  }
}

// -------------------------------------------------------------------------------------- rank
//
// @binding(0) rk_cand: (B, K) vec2<u32> read
// @binding(1) rk_counts: (B) u32 read             c = valid candidates (≤ K)
// @binding(2) rk_ids: (B, K) u32 read_write       best first; NONE past c
// @binding(3) rk_scores: (B, K) f32 read_write    their scores; −inf past c
// @binding(4) params: { B, K }                    dispatch: B·⌈K / WG⌉ workgroups
//
// Candidate j goes to place rank(j) = #{candidates with a larger key, or the same key and a lower
// id}: the keys are distinct, so the ranks are 0..c−1. Every thread walks the same candidates in
// the same order (one address for all: a cached broadcast); O(K²) comparisons per query, which
// for K up to a few thousand costs less than one pass over the catalogue.

struct RankParams { B: u32, K: u32 }
@group(0) @binding(0) var<storage, read> rk_cand: array<vec2<u32>>;
@group(0) @binding(1) var<storage, read> rk_counts: array<u32>;
@group(0) @binding(2) var<storage, read_write> rk_ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> rk_scores: array<f32>;
@group(0) @binding(4) var<uniform> rk: RankParams;

@compute @workgroup_size(WG)
fn rank(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let blocks = (rk.K + WG - 1u) / WG;
  let f = flat_id(wid, nwg);
  let b = f / blocks;
  let j = (f % blocks) * WG + lid;
  if (b >= rk.B || j >= rk.K) { return; }
  let c = min(rk_counts[b], rk.K);
  let out = b * rk.K;
  if (j >= c) {
    rk_ids[out + j] = NONE;
    rk_scores[out + j] = key_score(NEG_INF_KEY);
    return;
  }
  let mine = rk_cand[out + j];
  var r = 0u;
  for (var t = 0u; t < c; t++) {
    let o = rk_cand[out + t];
    r += select(0u, 1u, o.x > mine.x || (o.x == mine.x && o.y < mine.y));
  }
  rk_ids[out + r] = mine.y;
  rk_scores[out + r] = key_score(mine.x);
}
