// The factorization-machine click model of `vireo ingest --source synthetic --clicks fm`: the world's users, items,
// sessions and logging policy as usual, but every impression is clicked with
//   P(click) = σ(offset + Σ_f w_f[x_f] + Σ_{f<g} ⟨v_f[x_f], v_g[x_g]⟩)
// over six fields x = (user id, age group, item id, category, hour, device), w ~ N(0, 0.5²), v ~ N(0, s²/k) per
// coordinate (k = FM_RANK, s = --fm-strength). Each pairwise term has variance s⁴/k, so the 15 pairs dominate the
// click logit (sd ≈ 2.6 at s = 1.4 against ≈ 1.2 for the biases): a world where a linear model on the same
// features is far from the truth and the ranker's pairwise-dot interaction is the right shape. The true P(click) of
// every impression is written as oracle:pClick, as in the latent world (docs/ARCHITECTURE.md §4, Eval).
import { createRng } from '@vireo/core';

/** Latent width of the pairwise factors. */
export const FM_RANK = 8;
/** Default pairwise strength s: the oracle's CTR AUC is about 0.93 on the start world. */
export const DEFAULT_FM_STRENGTH = 1.4;
/** Logit offset: a click rate of roughly one in four. */
const FM_OFFSET = -1.8;
const BIAS_SD = 0.5;

/** The field values of one impression, 0-based: user, age group, item, category, hour, device. */
export type FmFields = [number, number, number, number, number, number];

/** A seeded factorization machine over the six fields with the given cardinalities. */
export interface FmClicks {
  /** The true click logit of one impression. */
  logit(x: FmFields): number;
}

/**
 * Draws an FM from `seed` (its own fork: the rest of the world is unchanged by it).
 * @example const fm = fmClicks(1, [1000, 6, 500, 12, 24, 3], 1.4); fm.logit([u, age, i, category, hour, device]);
 */
export function fmClicks(seed: number, cardinalities: number[], strength: number): FmClicks {
  const rng = createRng(seed).fork('fm-clicks');
  const k = FM_RANK;
  const sd = strength / Math.sqrt(k);
  const bias = cardinalities.map((n) => Float64Array.from({ length: n }, () => rng.normal() * BIAS_SD));
  const factor = cardinalities.map((n) => Float64Array.from({ length: n * k }, () => rng.normal() * sd));
  const F = cardinalities.length;
  const sum = new Float64Array(k);
  return {
    logit(x) {
      // Σ_{f<g} ⟨v_f, v_g⟩ = ½ (‖Σ_f v_f‖² − Σ_f ‖v_f‖²), the FM identity.
      let z = FM_OFFSET;
      let squares = 0;
      sum.fill(0);
      for (let f = 0; f < F; f++) {
        z += bias[f][x[f]];
        const v = factor[f];
        for (let d = 0; d < k; d++) {
          const a = v[x[f] * k + d];
          sum[d] += a;
          squares += a * a;
        }
      }
      let total = 0;
      for (let d = 0; d < k; d++) total += sum[d] * sum[d];
      return z + 0.5 * (total - squares);
    },
  };
}
