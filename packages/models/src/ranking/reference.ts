// The ranker's forward and loss on the CPU, composed from the kernels' CPU references in float64:
// the oracle the GPU forward, the training step's gradients and the ONNX export are checked
// against. Same legend as the model: B samples, F sparse features, D embedding dim.
import { bceReference, dlrmInteractionReference, linearReference, type HeadWeights } from '@vireo/kernels';
import {
  buildBags,
  denseWidth,
  rankingLayerShapes,
  rankingParameters,
  sparseWidth,
  tableBases,
  type RankingConfig,
  WIDE_WEIGHT,
  wideWidth,
} from './ranking.ts';

type Floats = Float32Array | Float64Array;

/**
 * out (B, 3) in float64: [ctr, cvr, revenue] as logits (`logits`) or pCtr, pCvr, log1p revenue;
 * tasks without a head give 0.
 */
export function rankingForwardReference(
  c: RankingConfig,
  params: Floats,
  tables: Floats[],
  dense: Floats | null,
  sparse: ArrayLike<number>,
  B: number,
  logits = false,
): Float64Array {
  const D = c.embeddingDim;
  const F = c.sparseFeatures.length;
  const entries = new Map(rankingParameters(c).entries.map((e) => [e.name, e]));
  const p64 = Float64Array.from(params);
  const tensor = (name: string) => {
    const e = entries.get(name)!;
    return p64.subarray(e.offset, e.offset + e.size);
  };
  const shapes = rankingLayerShapes(c);
  let li = 0;
  const layer = (x: Float64Array<ArrayBufferLike>, raw = logits): Float64Array<ArrayBufferLike> => {
    const s = shapes[li++];
    return linearReference(
      x,
      tensor(`${s.name}.weight`),
      tensor(`${s.name}.bias`),
      B,
      s.K,
      s.N,
      raw ? s.act : s.serveAct,
    );
  };

  const Nd = denseWidth(c);
  let x: Float64Array<ArrayBufferLike> =
    c.denseFeatures.length > 0 ? Float64Array.from(dense!.subarray(0, B * Nd)) : new Float64Array(B).fill(1);
  for (let i = 0; i < c.bottomMlp.length; i++) x = layer(x);

  const { bases } = tableBases(c);
  const indices = new Uint32Array(B * sparseWidth(c));
  const offsets = new Uint32Array(B * F + 1);
  buildBags(c, bases, sparse, B, indices, offsets);
  const emb = new Float64Array(B * F * D);
  for (let k = 0; k < B * F; k++) {
    const f = k % F;
    const n = offsets[k + 1] - offsets[k];
    for (let j = offsets[k]; j < offsets[k + 1]; j++) {
      const row = indices[j] - bases[f];
      for (let d = 0; d < D; d++) emb[k * D + d] += tables[f][row * D + d] / n;
    }
  }
  let h: Float64Array<ArrayBufferLike> = dlrmInteractionReference(x, emb, B, F, D, c.interaction);
  for (let i = 0; i < c.topMlp.length; i++) h = layer(h);
  const out = new Float64Array(B * 3);
  const Ww = c.wide ? wideWidth(c) : 0;
  const wide = c.wide ? tensor(WIDE_WEIGHT) : null;
  c.heads.forEach((task, head) => {
    let t: Float64Array<ArrayBufferLike> = h;
    for (let i = 0; i < c.towerMlp.length; i++) t = layer(t);
    const last = shapes[li];
    t = layer(t, logits || wide !== null);
    const col = ['ctr', 'cvr', 'revenue'].indexOf(task);
    for (let b = 0; b < B; b++) {
      let z = t[b];
      if (wide) {
        z += wideLogitReference(c, wide.subarray(head * Ww, (head + 1) * Ww), dense, sparse, b);
        if (!logits && last.serveAct === 'sigmoid') z = 1 / (1 + Math.exp(-z));
      }
      out[b * 3 + col] = z;
    }
  });
  return out;
}

/**
 * One head's wide term for sample b, as logistic regression reads the inputs: w · [dense values, each sparse feature
 * one-hot over its rows (a multi-hot feature's non-PAD slots 1/count each), 1].
 */
export function wideLogitReference(
  c: RankingConfig,
  w: ArrayLike<number>,
  dense: Floats | null,
  sparse: ArrayLike<number>,
  b: number,
): number {
  const Nd = c.denseFeatures.length;
  const { bases } = tableBases(c);
  let z = w[w.length - 1];
  for (let j = 0; j < Nd; j++) z += w[j] * dense![b * Nd + j];
  let slot = b * sparseWidth(c);
  c.sparseFeatures.forEach((f, k) => {
    const rows: number[] = [];
    for (let l = 0; l < f.width; l++, slot++) {
      const v = Number(sparse[slot]);
      if (f.width === 1 || v !== 0) rows.push(v);
    }
    for (const v of rows) z += w[Nd + bases[k] + v] / rows.length;
  });
  return z;
}

/** Σ_i Σ_t w_t · loss_it of the heads (bce reference), from the forward's logits, in float64. */
export function rankingLossReference(
  c: RankingConfig,
  params: Floats,
  tables: Floats[],
  dense: Floats | null,
  sparse: ArrayLike<number>,
  labels: Floats,
  B: number,
  w: HeadWeights,
): number {
  const logits = rankingForwardReference(c, params, tables, dense, sparse, B, true);
  const loss = bceReference(logits, Float64Array.from(labels.subarray(0, B * 3)), B);
  let total = 0;
  for (let i = 0; i < B; i++) total += w.ctr * loss[i * 3] + w.ctcvr * loss[i * 3 + 1] + w.revenue * loss[i * 3 + 2];
  return total;
}
