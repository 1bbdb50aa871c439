// The user tower for the engine's CPU backend (docs/ARCHITECTURE.md §3, "The CPU path"): userTowerReference
// (reference.ts, the specification) op for op in float32. The reference looks up the parameter layout, checks its
// inputs and allocates every intermediate on each call, and runs every linear layer over all L positions; this one
// binds the parameters once per model, reuses its buffers, skips positions past the history's length (nothing reads
// them: attention and pooling mask them, the last output is at n − 1) and computes its linear layers on tiles of two
// rows by four output columns. Every sum runs in float64 in the reference's order and every intermediate is rounded
// to float32 where the reference rounds it, so the two agree to float32 rounding (user-tower-cpu.test.ts asserts
// 1e-5).
import { L2NORM_EPS, LAYERNORM_EPS } from '@vireo/kernels';
import {
  BagBuilder,
  addFieldBag,
  addHistoryBags,
  addLastItemBag,
  attentionLayers,
  encoderBlocks,
  ffnHidden,
  historyWidth,
  inputSlots,
  layerPrefix,
  retrievalParamLayout,
  type FieldValue,
  type HistoryItemEntries,
  type RetrievalConfig,
} from './retrieval.ts';
import { fieldsMaxNnz } from './towers.ts';

/** One attention layer's parameters (a block's also its layer norms and feed-forward layer). */
interface Layer {
  qkv: Float32Array; // (3W, W): q, k, v weights stacked, one pass over each input row
  out: Float32Array;
  outBias: Float32Array;
  ln1?: [Float32Array, Float32Array];
  ln2?: [Float32Array, Float32Array];
  ffn1?: [Float32Array, Float32Array];
  ffn2?: [Float32Array, Float32Array];
}

/**
 * y[m, n] = act(b[n] + Σ_k x[m, k]·w[n, k]) for rows m < M, as linearReference sums it (float64, k ascending), on
 * tiles of two rows by four columns: six loads per eight products where the reference makes two per one.
 */
function linear(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array | null,
  M: number,
  K: number,
  N: number,
  y: Float32Array,
  relu = false,
): void {
  let m = 0;
  for (; m + 2 <= M; m += 2) {
    const x0 = m * K;
    const x1 = x0 + K;
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      const w0 = n * K;
      const w1 = w0 + K;
      const w2 = w1 + K;
      const w3 = w2 + K;
      let a0 = b ? b[n] : 0;
      let a1 = b ? b[n + 1] : 0;
      let a2 = b ? b[n + 2] : 0;
      let a3 = b ? b[n + 3] : 0;
      let c0 = a0;
      let c1 = a1;
      let c2 = a2;
      let c3 = a3;
      for (let k = 0; k < K; k++) {
        const u = x[x0 + k];
        const v = x[x1 + k];
        const v0 = w[w0 + k];
        const v1 = w[w1 + k];
        const v2 = w[w2 + k];
        const v3 = w[w3 + k];
        a0 += u * v0;
        a1 += u * v1;
        a2 += u * v2;
        a3 += u * v3;
        c0 += v * v0;
        c1 += v * v1;
        c2 += v * v2;
        c3 += v * v3;
      }
      const y0 = m * N + n;
      const y1 = y0 + N;
      y[y0] = relu ? Math.max(a0, 0) : a0;
      y[y0 + 1] = relu ? Math.max(a1, 0) : a1;
      y[y0 + 2] = relu ? Math.max(a2, 0) : a2;
      y[y0 + 3] = relu ? Math.max(a3, 0) : a3;
      y[y1] = relu ? Math.max(c0, 0) : c0;
      y[y1 + 1] = relu ? Math.max(c1, 0) : c1;
      y[y1 + 2] = relu ? Math.max(c2, 0) : c2;
      y[y1 + 3] = relu ? Math.max(c3, 0) : c3;
    }
    for (; n < N; n++) {
      column(x, w, b, x0, n, K, N, y, relu);
      column(x, w, b, x1, n, K, N, y, relu);
    }
  }
  for (; m < M; m++) {
    const xo = m * K;
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      const w0 = n * K;
      const w1 = w0 + K;
      const w2 = w1 + K;
      const w3 = w2 + K;
      let a0 = b ? b[n] : 0;
      let a1 = b ? b[n + 1] : 0;
      let a2 = b ? b[n + 2] : 0;
      let a3 = b ? b[n + 3] : 0;
      for (let k = 0; k < K; k++) {
        const u = x[xo + k];
        a0 += u * w[w0 + k];
        a1 += u * w[w1 + k];
        a2 += u * w[w2 + k];
        a3 += u * w[w3 + k];
      }
      const yo = m * N + n;
      y[yo] = relu ? Math.max(a0, 0) : a0;
      y[yo + 1] = relu ? Math.max(a1, 0) : a1;
      y[yo + 2] = relu ? Math.max(a2, 0) : a2;
      y[yo + 3] = relu ? Math.max(a3, 0) : a3;
    }
    for (; n < N; n++) column(x, w, b, xo, n, K, N, y, relu);
  }
}

// One output y[row of xo, n] of linear, for the columns past the last tile.
function column(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array | null,
  xo: number,
  n: number,
  K: number,
  N: number,
  y: Float32Array,
  relu: boolean,
): void {
  let a = b ? b[n] : 0;
  for (let k = 0; k < K; k++) a += x[xo + k] * w[n * K + k];
  y[(xo / K) * N + n] = relu ? Math.max(a, 0) : a;
}

/** y = layernorm(x) over the first M rows of W, as layernormReference. */
function layernorm(
  x: Float32Array,
  [gamma, beta]: [Float32Array, Float32Array],
  M: number,
  W: number,
  y: Float32Array,
) {
  for (let m = 0; m < M; m++) {
    const o = m * W;
    let s = 0;
    for (let d = 0; d < W; d++) s += x[o + d];
    const mu = s / W;
    let v = 0;
    for (let d = 0; d < W; d++) v += (x[o + d] - mu) ** 2;
    const r = 1 / Math.sqrt(v / W + LAYERNORM_EPS);
    for (let d = 0; d < W; d++) y[o + d] = (x[o + d] - mu) * r * gamma[d] + beta[d];
  }
}

/**
 * Bags → rows: out[b] = Σ s_j·table[indices[j]] over bag b's entries, summed in float64 in entry order
 * (embeddingBagReference's 'sum' without its checks: the bags come from the builders here, inside the table).
 */
function bagRows(table: Float32Array, bags: BagBuilder, W: number, out: Float32Array, at: number, acc: Float64Array) {
  const { indices, weights, offsets } = bags;
  for (let b = 0; b < bags.bags; b++) {
    acc.fill(0);
    for (let j = offsets[b]; j < offsets[b + 1]; j++) {
      const s = weights[j];
      const row = indices[j] * W;
      for (let d = 0; d < W; d++) acc[d] += s * table[row + d];
    }
    const o = at + b * W;
    for (let d = 0; d < W; d++) out[o + d] = acc[d];
  }
}

/**
 * The engine's CPU user tower for one model: bind once, then `forward` per request. Float32 only (the reference
 * stays the one generic over float64, for the gradient checks). Not reentrant: one call at a time (JS is).
 * @example const tower = new CpuUserTower(config, params, table); const u = tower.forward(fields, history);
 */
export class CpuUserTower {
  private readonly layers: Layer[];
  private readonly poolKey: Float32Array;
  private readonly poolQuery: Float32Array;
  private readonly fc1: [Float32Array, Float32Array];
  private readonly fc2: [Float32Array, Float32Array];
  private readonly finalLn?: [Float32Array, Float32Array];
  private readonly hist: BagBuilder;
  private readonly bags: BagBuilder;
  private readonly last: BagBuilder;
  // Scratch, (L, ·) each.
  private readonly h: Float32Array;
  private readonly n1: Float32Array;
  private readonly qkv: Float32Array;
  private readonly a: Float32Array;
  private readonly o: Float32Array;
  private readonly f1: Float32Array;
  private readonly kp: Float32Array;
  private readonly input: Float32Array;
  private readonly hidden: Float32Array;
  private readonly acc: Float64Array;
  private readonly p: Float64Array;

  constructor(
    private readonly c: RetrievalConfig,
    params: Float32Array,
    private readonly table: Float32Array,
    private readonly itemEntries?: HistoryItemEntries,
  ) {
    const { fieldDim: W, historyLength: L, userHidden: Hu } = c;
    const layout = retrievalParamLayout(c);
    const p = (name: string) => {
      const e = layout.byName.get(name)!;
      return params.subarray(e.offset, e.offset + e.size);
    };
    const pair = (a: string, b: string): [Float32Array, Float32Array] => [p(a), p(b)];
    const blocks = encoderBlocks(c) > 0;
    this.layers = Array.from({ length: attentionLayers(c) }, (_, i) => {
      const P = layerPrefix(i);
      const qkv = new Float32Array(3 * W * W);
      qkv.set(p(`${P}.q.weight`), 0);
      qkv.set(p(`${P}.k.weight`), W * W);
      qkv.set(p(`${P}.v.weight`), 2 * W * W);
      const layer: Layer = { qkv, out: p(`${P}.out.weight`), outBias: p(`${P}.out.bias`) };
      if (blocks) {
        layer.ln1 = pair(`${P}.ln1.gamma`, `${P}.ln1.beta`);
        layer.ln2 = pair(`${P}.ln2.gamma`, `${P}.ln2.beta`);
        layer.ffn1 = pair(`${P}.ffn1.weight`, `${P}.ffn1.bias`);
        layer.ffn2 = pair(`${P}.ffn2.weight`, `${P}.ffn2.bias`);
      }
      return layer;
    });
    if (blocks) this.finalLn = pair('history.ln.gamma', 'history.ln.beta');
    this.poolKey = p('history.pool.key.weight');
    this.poolQuery = p('history.pool.query');
    this.fc1 = pair('user.fc1.weight', 'user.fc1.bias');
    this.fc2 = pair('user.fc2.weight', 'user.fc2.bias');
    this.hist = new BagBuilder(L, Math.max(1, historyWidth(c) * L));
    this.bags = new BagBuilder(c.userFields.length, Math.max(1, fieldsMaxNnz(c.userFields)));
    this.last = new BagBuilder(1, Math.max(1, historyWidth(c)));
    this.h = new Float32Array(L * W);
    this.n1 = new Float32Array(L * W);
    this.qkv = new Float32Array(L * 3 * W);
    this.a = new Float32Array(L * W);
    this.o = new Float32Array(L * W);
    this.f1 = new Float32Array(L * (blocks ? ffnHidden(c) : 1));
    this.kp = new Float32Array(L * W);
    this.input = new Float32Array(inputSlots(c) * W);
    this.hidden = new Float32Array(Hu);
    this.acc = new Float64Array(W);
    this.p = new Float64Array(L);
  }

  /** The unit user vector (D, a new array) of a user's fields and history (item:id indices, oldest first). */
  forward(fields: readonly FieldValue[], history: ArrayLike<number>): Float32Array {
    const { c, table, h, n1, qkv, a, o, f1, kp, input, acc } = this;
    const { fieldDim: W, userHidden: Hu, embeddingDim: D } = c;
    const Fu = c.userFields.length;
    const S = inputSlots(c);
    const n = addHistoryBags(this.hist.reset(), c, history, 0, history.length, this.itemEntries);
    bagRows(table, this.hist, W, h, 0, acc); // rows past n are empty bags: zeros, and never read
    for (const layer of this.layers) {
      const x = layer.ln1 ? n1 : h;
      if (layer.ln1) layernorm(h, layer.ln1, n, W, n1);
      linear(x, layer.qkv, null, n, W, 3 * W, qkv);
      this.attend(n);
      linear(a, layer.out, layer.outBias, n, W, W, o);
      for (let i = 0; i < n * W; i++) h[i] += o[i];
      if (!layer.ln2 || !layer.ffn1 || !layer.ffn2) continue;
      const F = ffnHidden(c);
      layernorm(h, layer.ln2, n, W, n1);
      linear(n1, layer.ffn1[0], layer.ffn1[1], n, W, F, f1, true);
      linear(f1, layer.ffn2[0], layer.ffn2[1], n, F, W, o);
      for (let i = 0; i < n * W; i++) h[i] += o[i];
    }
    if (this.finalLn) {
      layernorm(h, this.finalLn, n, W, n1);
      h.set(n1.subarray(0, n * W));
    }
    input.fill(0);
    this.bags.reset();
    for (let j = 0; j < Fu; j++) addFieldBag(this.bags, c.userFields[j], fields[j]);
    bagRows(table, this.bags, W, input, 0, acc);
    linear(h, this.poolKey, null, n, W, W, kp);
    this.pool(n, Fu * W);
    if (c.lastItem) {
      addLastItemBag(this.last.reset(), c, history, 0, history.length, this.itemEntries);
      bagRows(table, this.last, W, input, (Fu + 1) * W, acc);
    }
    if (c.lastOutput && n > 0) input.set(h.subarray((n - 1) * W, n * W), (S - 1) * W);
    linear(input, this.fc1[0], this.fc1[1], 1, S * W, Hu, this.hidden, true);
    const u = new Float32Array(D);
    linear(this.hidden, this.fc2[0], this.fc2[1], 1, Hu, D, u);
    let s = 0;
    for (let d = 0; d < D; d++) s += u[d] * u[d];
    const inv = 1 / Math.max(Math.sqrt(s), L2NORM_EPS);
    for (let d = 0; d < D; d++) u[d] *= inv;
    return u;
  }

  // Self-attention of the n valid rows: q, k, v interleaved per row in `qkv` (3W), out to `a` (attentionReference).
  private attend(n: number): void {
    const { c, qkv, a, p, acc } = this;
    const { fieldDim: W, heads: H } = c;
    const Dh = W / H;
    const scale = 1 / Math.sqrt(Dh);
    const R = 3 * W;
    for (let i = 0; i < n; i++) {
      const nk = c.causal ? i + 1 : n;
      for (let hd = 0; hd < H; hd++) {
        const qo = i * R + hd * Dh;
        let m = -Infinity;
        for (let j = 0; j < nk; j++) {
          const ko = j * R + W + hd * Dh;
          let s = 0;
          for (let d = 0; d < Dh; d++) s += qkv[qo + d] * qkv[ko + d];
          p[j] = s * scale;
          if (p[j] > m) m = p[j];
        }
        let z = 0;
        for (let j = 0; j < nk; j++) z += p[j] = Math.exp(p[j] - m);
        for (let j = 0; j < nk; j++) p[j] /= z;
        acc.fill(0, 0, Dh);
        for (let j = 0; j < nk; j++) {
          const vo = j * R + 2 * W + hd * Dh;
          for (let d = 0; d < Dh; d++) acc[d] += p[j] * qkv[vo + d];
        }
        const ao = i * W + hd * Dh;
        for (let d = 0; d < Dh; d++) a[ao + d] = acc[d];
      }
    }
  }

  // Attention pooling (attentionPoolReference): the learned query over keys kp and values h of the n valid rows,
  // into input[at, at + W); zeros without history.
  private pool(n: number, at: number): void {
    const { c, kp, h, input, p, acc, poolQuery: q } = this;
    const { fieldDim: W, heads: H } = c;
    const Dh = W / H;
    const scale = 1 / Math.sqrt(Dh);
    if (n === 0) return;
    for (let hd = 0; hd < H; hd++) {
      const qo = hd * Dh;
      let m = -Infinity;
      for (let j = 0; j < n; j++) {
        const ko = j * W + qo;
        let s = 0;
        for (let d = 0; d < Dh; d++) s += q[qo + d] * kp[ko + d];
        p[j] = s * scale;
        if (p[j] > m) m = p[j];
      }
      let z = 0;
      for (let j = 0; j < n; j++) z += p[j] = Math.exp(p[j] - m);
      for (let j = 0; j < n; j++) p[j] /= z;
      acc.fill(0, 0, Dh);
      for (let j = 0; j < n; j++) {
        const vo = j * W + qo;
        for (let d = 0; d < Dh; d++) acc[d] += p[j] * h[vo + d];
      }
      for (let d = 0; d < Dh; d++) input[at + qo + d] = acc[d];
    }
  }
}
