// dlrm_interaction: the kernel's declaration and its CPU reference (same argument order).
// Legend: B samples, F sparse features (embedding vectors per sample), D embedding dim.
import source from './dlrm_interaction.wgsl?raw';
import { check, defineKernel } from '../kernel.ts';
import { like, type FloatArray } from '../testing.ts';

/** `dot`: pairwise dots of the F+1 vectors (lower triangle) after the dense vector; `cat`: concatenation. */
export type InteractionMode = 'dot' | 'cat';
export const INTERACTION_MODES: Record<InteractionMode, number> = { dot: 0, cat: 1 };

/** out (B, W) from dense (B, D) and emb (B, F, D); W = dlrmInteractionWidth(F, D, mode). */
export const dlrmInteractionForward = defineKernel({
  name: 'dlrm_interaction.forward',
  source,
  entryPoint: 'forward',
  bindings: [
    { name: 'dense', kind: 'read' },
    { name: 'emb', kind: 'read' },
    { name: 'out', kind: 'write' },
  ],
  params: [
    ['B', 'u32'],
    ['F', 'u32'],
    ['D', 'u32'],
    ['mode', 'u32'],
  ],
  overrides: { WG: 64 },
});

/** The width of one output row: D + (F+1)F/2 for `dot`, D + F·D for `cat`. */
export function dlrmInteractionWidth(F: number, D: number, mode: InteractionMode): number {
  return mode === 'dot' ? D + ((F + 1) * F) / 2 : D + F * D;
}

/** Workgroups for B output rows (one thread per value, WG = 64). */
export function dlrmInteractionWorkgroups(B: number, F: number, D: number, mode: InteractionMode, wg = 64): number {
  return Math.ceil((B * dlrmInteractionWidth(F, D, mode)) / wg);
}

/** Checks the shapes of a dlrm_interaction call; throws a ShapeError naming the argument. */
export function checkDlrmInteraction(
  dense: ArrayLike<number> | null,
  emb: ArrayLike<number> | null,
  B: number,
  F: number,
  D: number,
  mode: InteractionMode,
): void {
  check(
    Number.isInteger(B) && B > 0 && Number.isInteger(F) && F > 0 && Number.isInteger(D) && D > 0,
    `dlrm_interaction: B, F, D must be positive integers, got ${B}, ${F}, ${D}.`,
  );
  check(
    mode in INTERACTION_MODES,
    `dlrm_interaction: mode '${mode}' is unknown: expected one of ${Object.keys(INTERACTION_MODES).join(', ')}.`,
  );
  check(
    dense === null || dense.length === B * D,
    `dlrm_interaction: dense has ${dense?.length} values, expected B·D = ${B}·${D} = ${B * D}.`,
  );
  check(
    emb === null || emb.length === B * F * D,
    `dlrm_interaction: emb has ${emb?.length} values, expected B·F·D = ${B}·${F}·${D} = ${B * F * D}.`,
  );
}

/**
 * CPU reference: out (B, W). `dot`: [dense, z_i·z_j for i = 1..F, j < i] with z_0 = dense,
 * z_f = emb[b, f−1]; `cat`: [dense, emb[b, 0..F−1]]. Accumulated in float64.
 * @example const out = dlrmInteractionReference(dense, emb, B, F, D, 'dot');
 */
export function dlrmInteractionReference<T extends FloatArray>(
  dense: T,
  emb: FloatArray,
  B: number,
  F: number,
  D: number,
  mode: InteractionMode = 'dot',
): T {
  checkDlrmInteraction(dense, emb, B, F, D, mode);
  const W = dlrmInteractionWidth(F, D, mode);
  const out = like(dense, B * W) as T;
  const z = (b: number, v: number) =>
    v === 0 ? dense.subarray(b * D, (b + 1) * D) : emb.subarray((b * F + v - 1) * D, (b * F + v) * D);
  for (let b = 0; b < B; b++) {
    const row = b * W;
    out.set(dense.subarray(b * D, (b + 1) * D), row);
    if (mode === 'cat') {
      out.set(emb.subarray(b * F * D, (b + 1) * F * D), row + D);
      continue;
    }
    let k = row + D;
    for (let i = 1; i <= F; i++) {
      const zi = z(b, i);
      for (let j = 0; j < i; j++) {
        const zj = z(b, j);
        let acc = 0;
        for (let d = 0; d < D; d++) acc += zi[d] * zj[d];
        out[k++] = acc;
      }
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------ backward

/** d_dense (B, D), d_emb (B, F, D) from dense, emb and dy (B, W): one thread per input value. */
export const dlrmInteractionBackwardKernel = defineKernel({
  name: 'dlrm_interaction.backward',
  source,
  entryPoint: 'backward',
  bindings: [
    { name: 'dense', kind: 'read' },
    { name: 'emb', kind: 'read' },
    { name: 'dy', kind: 'read' },
    { name: 'd_dense', kind: 'write' },
    { name: 'd_emb', kind: 'write' },
  ],
  params: [
    ['B', 'u32'],
    ['F', 'u32'],
    ['D', 'u32'],
    ['mode', 'u32'],
    ['accumulate', 'u32'],
  ],
  overrides: { WG: 64 },
});

/** Workgroups of dlrmInteractionBackwardKernel: one thread per value of dense and emb (WG = 64). */
export function dlrmInteractionBackwardWorkgroups(B: number, F: number, D: number, wg = 64): number {
  return Math.ceil((B * (F + 1) * D) / wg);
}

/**
 * CPU reference of the backward: the forward's inputs, then dy (B, W) → dDense (B, D) and
 * dEmb (B, F, D). For `dot`, dz_v = Σ_{j≠v} dy[pair(v, j)]·z_j (+ dy's dense copy for v = 0);
 * for `cat`, dy's slices. Accumulated in float64.
 * @example const { dDense, dEmb } = dlrmInteractionBackwardReference(dense, emb, dy, B, F, D, 'dot');
 */
export function dlrmInteractionBackwardReference<T extends FloatArray>(
  dense: T,
  emb: FloatArray,
  dy: FloatArray,
  B: number,
  F: number,
  D: number,
  mode: InteractionMode = 'dot',
): { dDense: T; dEmb: T } {
  checkDlrmInteraction(dense, emb, B, F, D, mode);
  const W = dlrmInteractionWidth(F, D, mode);
  check(dy.length === B * W, `dlrm_interaction: dy has ${dy.length} values, expected B·W = ${B}·${W} = ${B * W}.`);
  const dDense = like(dense, B * D) as T;
  const dEmb = like(dense, B * F * D) as T;
  const z = (b: number, v: number, d: number) => (v === 0 ? dense[b * D + d] : emb[(b * F + v - 1) * D + d]);
  for (let b = 0; b < B; b++) {
    const row = b * W;
    for (let v = 0; v <= F; v++) {
      for (let d = 0; d < D; d++) {
        let acc = v === 0 ? dy[row + d] : mode === 'cat' ? dy[row + v * D + d] : 0;
        if (mode === 'dot') {
          for (let j = 0; j <= F; j++) {
            if (j === v) continue;
            const hi = Math.max(v, j);
            acc += dy[row + D + (hi * (hi - 1)) / 2 + Math.min(v, j)] * z(b, j, d);
          }
        }
        if (v === 0) dDense[b * D + d] = acc;
        else dEmb[(b * F + v - 1) * D + d] = acc;
      }
    }
  }
  return { dDense, dEmb };
}
