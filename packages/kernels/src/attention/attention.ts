// attention: multi-head self-attention over a padded history and learned-query attention
// pooling — the kernels' declarations and their CPU references (same argument order).
//
// Legend: B batch, L history length, D = H·Dh width, H heads. Row b's valid positions are
// 0..lengths[b]-1: later keys are masked out and later query rows give zeros. Causal
// self-attention also masks, for query row i, every key j > i (positions run oldest first).
import source from './attention.wgsl?raw';
import { check, defineKernel, type ParamType } from '../kernel.ts';
import { like, type FloatArray } from '../testing.ts';

const PARAMS: (readonly [string, ParamType])[] = [
  ['B', 'u32'],
  ['L', 'u32'],
  ['H', 'u32'],
  ['Dh', 'u32'],
  ['pooled', 'u32'],
  ['scale', 'f32'],
  ['causal', 'u32'],
];
const OVERRIDES = { WG: 64 };

/**
 * Forward: out = softmax(q·kᵀ·scale, keys masked by lengths)·v per head, and stats (lse).
 * q (B,L,D) — or (D) with pooled = 1 —, k, v (B,L,D), lengths (B) u32 → out (B,Lq,D), stats (B,H,Lq,2).
 */
export const attentionForward = defineKernel({
  name: 'attention.forward',
  source,
  entryPoint: 'forward',
  bindings: [
    { name: 'q', kind: 'read' },
    { name: 'k', kind: 'read' },
    { name: 'v', kind: 'read' },
    { name: 'lengths', kind: 'read' },
    { name: 'out', kind: 'write' },
    { name: 'stats', kind: 'write' },
  ],
  params: PARAMS,
  overrides: OVERRIDES,
});

/** Backward, query side: dq (B,Lq,D) and delta into stats; needs the forward's out and stats; run before backward_kv.
 * */
export const attentionBackwardQ = defineKernel({
  name: 'attention.backward_q',
  source,
  entryPoint: 'backward_q',
  bindings: [
    { name: 'q', kind: 'read' },
    { name: 'k', kind: 'read' },
    { name: 'v', kind: 'read' },
    { name: 'lengths', kind: 'read' },
    { name: 'dout', kind: 'read' },
    { name: 'out', kind: 'read' },
    { name: 'stats', kind: 'write' },
    { name: 'dq', kind: 'write' },
  ],
  params: PARAMS,
  overrides: OVERRIDES,
});

/** Backward, key side: dk, dv (B,L,D); run after backward_q (it reads delta from stats). */
export const attentionBackwardKV = defineKernel({
  name: 'attention.backward_kv',
  source,
  entryPoint: 'backward_kv',
  bindings: [
    { name: 'q', kind: 'read' },
    { name: 'k', kind: 'read' },
    { name: 'v', kind: 'read' },
    { name: 'lengths', kind: 'read' },
    { name: 'dout', kind: 'read' },
    { name: 'stats', kind: 'read' },
    { name: 'dk', kind: 'write' },
    { name: 'dv', kind: 'write' },
  ],
  params: PARAMS,
  overrides: OVERRIDES,
});

/** Pooling backward, last step: dquery (D) = Σ_b dq_rows (B,D), in a fixed order (no atomics). */
export const attentionPoolQuerySum = defineKernel({
  name: 'attention.pool_query_sum',
  source,
  entryPoint: 'pool_query_sum',
  bindings: [
    { name: 'dq_rows', kind: 'read' },
    { name: 'dquery', kind: 'write' },
  ],
  params: [
    ['B', 'u32'],
    ['D', 'u32'],
  ],
  overrides: OVERRIDES,
});

/** The params struct of forward / backward_q / backward_kv; `causal` applies to self-attention only. */
export function attentionParams(
  B: number,
  L: number,
  D: number,
  H: number,
  pooled: boolean,
  causal = false,
): Record<string, number> {
  check(!(pooled && causal), 'attention: pooling has one query row and cannot be causal.');
  return { B, L, H, Dh: D / H, pooled: pooled ? 1 : 0, scale: 1 / Math.sqrt(D / H), causal: causal ? 1 : 0 };
}

/** Workgroups: forward and backward_q, a thread per (b, h, query row); backward_kv, a thread per (b, h, key). */
export function attentionWorkgroups(
  B: number,
  L: number,
  H: number,
  pooled: boolean,
  wg = OVERRIDES.WG,
): { rows: number; keys: number } {
  return { rows: Math.ceil((B * H * (pooled ? 1 : L)) / wg), keys: Math.ceil((B * H * L) / wg) };
}

function checkDims(op: string, B: number, L: number, D: number, H: number): void {
  for (const [name, n] of [
    ['B', B],
    ['L', L],
    ['D', D],
    ['H', H],
  ] as const) {
    check(Number.isInteger(n) && n > 0, `${op}: ${name} must be a positive integer, got ${n}.`);
  }
  check(D % H === 0, `${op}: D = ${D} is not a multiple of H = ${H} heads.`);
}

function checkLengths(op: string, lengths: ArrayLike<number>, B: number, L: number): void {
  check(lengths.length === B, `${op}: lengths has ${lengths.length} values, expected B = ${B}.`);
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    check(Number.isInteger(n) && n >= 0 && n <= L, `${op}: lengths[${b}] = ${n} is outside 0..L = 0..${L}.`);
  }
}

function checkRows(op: string, name: string, a: ArrayLike<number>, B: number, L: number, D: number): void {
  check(
    a.length === B * L * D,
    `${op}: ${name} has ${a.length} values, expected B·L·D = ${B}·${L}·${D} = ${B * L * D}.`,
  );
}

/** Checks a self-attention call; throws a ShapeError naming the argument. */
export function checkAttention(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  lengths: ArrayLike<number>,
  B: number,
  L: number,
  D: number,
  H: number,
): void {
  checkDims('attention', B, L, D, H);
  checkRows('attention', 'q', q, B, L, D);
  checkRows('attention', 'k', k, B, L, D);
  checkRows('attention', 'v', v, B, L, D);
  checkLengths('attention', lengths, B, L);
}

/** Checks an attention-pooling call; throws a ShapeError naming the argument. */
export function checkAttentionPool(
  query: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  lengths: ArrayLike<number>,
  B: number,
  L: number,
  D: number,
  H: number,
): void {
  checkDims('attentionPool', B, L, D, H);
  check(query.length === D, `attentionPool: query has ${query.length} values, expected D = ${D} (H·Dh).`);
  checkRows('attentionPool', 'k', k, B, L, D);
  checkRows('attentionPool', 'v', v, B, L, D);
  checkLengths('attentionPool', lengths, B, L);
}

// The softmax probabilities of one (b, h, query) row over keys 0..n-1, in float64.
function probabilities(
  q: FloatArray,
  qOff: number,
  k: FloatArray,
  kBase: number,
  D: number,
  Dh: number,
  n: number,
  scale: number,
  p: Float64Array,
): void {
  let m = -Infinity;
  for (let j = 0; j < n; j++) {
    let s = 0;
    const kOff = kBase + j * D;
    for (let d = 0; d < Dh; d++) s += q[qOff + d] * k[kOff + d];
    p[j] = s * scale;
    if (p[j] > m) m = p[j];
  }
  let z = 0;
  for (let j = 0; j < n; j++) z += p[j] = Math.exp(p[j] - m);
  for (let j = 0; j < n; j++) p[j] /= z;
}

// Forward of both forms: pooled means one query (D) shared by all rows, Lq = 1; causal, query
// row i sees keys 0..i only.
function attend<T extends FloatArray>(
  q: T,
  k: FloatArray,
  v: FloatArray,
  lengths: ArrayLike<number>,
  B: number,
  L: number,
  D: number,
  H: number,
  pooled: boolean,
  causal = false,
): T {
  const Dh = D / H;
  const Lq = pooled ? 1 : L;
  const scale = 1 / Math.sqrt(Dh);
  const out = like(q, B * Lq * D) as T;
  const p = new Float64Array(L);
  const acc = new Float64Array(Dh);
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    for (let i = 0; i < Math.min(n, Lq); i++) {
      for (let h = 0; h < H; h++) {
        const qOff = (pooled ? 0 : (b * L + i) * D) + h * Dh;
        const nk = causal ? Math.min(n, i + 1) : n;
        probabilities(q, qOff, k, b * L * D + h * Dh, D, Dh, nk, scale, p);
        acc.fill(0);
        for (let j = 0; j < nk; j++) {
          const vOff = (b * L + j) * D + h * Dh;
          for (let d = 0; d < Dh; d++) acc[d] += p[j] * v[vOff + d];
        }
        out.set(acc, (b * Lq + i) * D + h * Dh);
      }
    }
  }
  return out;
}

// Backward of both forms; dq is (B,L,D) for self-attention and (D) summed over rows when pooled.
function attendBackward<T extends FloatArray>(
  q: T,
  k: FloatArray,
  v: FloatArray,
  lengths: ArrayLike<number>,
  dout: FloatArray,
  B: number,
  L: number,
  D: number,
  H: number,
  pooled: boolean,
  causal = false,
): { dq: T; dk: T; dv: T } {
  const Dh = D / H;
  const Lq = pooled ? 1 : L;
  const scale = 1 / Math.sqrt(Dh);
  const dq = new Float64Array(pooled ? D : B * L * D);
  const dk = new Float64Array(B * L * D);
  const dv = new Float64Array(B * L * D);
  const p = new Float64Array(L);
  const ds = new Float64Array(L);
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    for (let i = 0; i < Math.min(n, Lq); i++) {
      for (let h = 0; h < H; h++) {
        const qOff = (pooled ? 0 : (b * L + i) * D) + h * Dh;
        const oOff = (b * Lq + i) * D + h * Dh;
        const nk = causal ? Math.min(n, i + 1) : n;
        probabilities(q, qOff, k, b * L * D + h * Dh, D, Dh, nk, scale, p);
        // dP_j = dO·v_j; dS_j = P_j (dP_j − Σ_j' P_j' dP_j')
        let delta = 0;
        for (let j = 0; j < nk; j++) {
          const vOff = (b * L + j) * D + h * Dh;
          let dp = 0;
          for (let d = 0; d < Dh; d++) dp += dout[oOff + d] * v[vOff + d];
          ds[j] = dp;
          delta += p[j] * dp;
        }
        for (let j = 0; j < nk; j++) {
          const off = (b * L + j) * D + h * Dh;
          const g = p[j] * (ds[j] - delta) * scale;
          for (let d = 0; d < Dh; d++) {
            dq[qOff + d] += g * k[off + d];
            dk[off + d] += g * q[qOff + d];
            dv[off + d] += p[j] * dout[oOff + d];
          }
        }
      }
    }
  }
  const cast = (a: Float64Array) => {
    const r = like(q, a.length) as T;
    r.set(a);
    return r;
  };
  return { dq: cast(dq), dk: cast(dk), dv: cast(dv) };
}

/**
 * CPU reference of self-attention: out (B,L,D) = softmax(q_h·k_hᵀ/√Dh, padded keys masked)·v_h
 * per head h; query rows at or past lengths[b] give zeros; `causal`, row i also masks keys j > i.
 * Accumulates in float64.
 * @example const out = attentionReference(q, k, v, lengths, B, L, D, H, true);
 */
export function attentionReference<T extends FloatArray>(
  q: T,
  k: FloatArray,
  v: FloatArray,
  lengths: ArrayLike<number>,
  B: number,
  L: number,
  D: number,
  H: number,
  causal = false,
): T {
  checkAttention(q, k, v, lengths, B, L, D, H);
  return attend(q, k, v, lengths, B, L, D, H, false, causal);
}

/** CPU reference of self-attention's backward: dq, dk, dv (B,L,D) from dout (B,L,D); `causal` as the forward. */
export function attentionBackwardReference<T extends FloatArray>(
  q: T,
  k: FloatArray,
  v: FloatArray,
  lengths: ArrayLike<number>,
  dout: FloatArray,
  B: number,
  L: number,
  D: number,
  H: number,
  causal = false,
): { dq: T; dk: T; dv: T } {
  checkAttention(q, k, v, lengths, B, L, D, H);
  checkRows('attention', 'dout', dout, B, L, D);
  return attendBackward(q, k, v, lengths, dout, B, L, D, H, false, causal);
}

/**
 * CPU reference of learned-query attention pooling: pooled (B,D), head h of row b being
 * softmax(query_h·k_hᵀ/√Dh over its valid keys)·v_h; a row with lengths[b] = 0 gives zeros.
 * @example const pooled = attentionPoolReference(query, k, v, lengths, B, L, D, H);
 */
export function attentionPoolReference<T extends FloatArray>(
  query: T,
  k: FloatArray,
  v: FloatArray,
  lengths: ArrayLike<number>,
  B: number,
  L: number,
  D: number,
  H: number,
): T {
  checkAttentionPool(query, k, v, lengths, B, L, D, H);
  return attend(query, k, v, lengths, B, L, D, H, true);
}

/** CPU reference of pooling's backward: dquery (D) summed over the batch, dk, dv (B,L,D), from dpooled (B,D). */
export function attentionPoolBackwardReference<T extends FloatArray>(
  query: T,
  k: FloatArray,
  v: FloatArray,
  lengths: ArrayLike<number>,
  dpooled: FloatArray,
  B: number,
  L: number,
  D: number,
  H: number,
): { dquery: T; dk: T; dv: T } {
  checkAttentionPool(query, k, v, lengths, B, L, D, H);
  check(
    dpooled.length === B * D,
    `attentionPool: dpooled has ${dpooled.length} values, expected B·D = ${B}·${D} = ${B * D}.`,
  );
  const { dq, dk, dv } = attendBackward(query, k, v, lengths, dpooled, B, L, D, H, true);
  return { dquery: dq, dk, dv };
}
