import { describeMismatch, dlrmInteractionReference, maxRelError, testRng, type InteractionMode } from '@vireo/shaders';
import { dlrmInteraction } from '../ops/dlrm_interaction.ts';
import type { KernelCheck } from './types.ts';

// float32 dot products of D ≤ 128 terms summed in order against float64: well within 1e-5 of
// the output's scale.
const TOL = 1e-5;

const cases: [number, number, number, InteractionMode, boolean?][] = [
  [1, 1, 1, 'dot'],
  [1, 1, 1, 'cat'],
  [7, 3, 5, 'dot'],
  [13, 26, 16, 'dot'],
  [37, 8, 31, 'cat'],
  [101, 5, 64, 'dot'],
  [1000, 26, 64, 'dot', true],
  [1000, 26, 64, 'cat', true],
];

export const dlrmInteractionChecks: KernelCheck[] = cases.map(([B, F, D, mode, large]) => ({
  kernel: 'dlrm_interaction',
  case: `B=${B} F=${F} D=${D} ${mode}`,
  tolerance: TOL,
  large,
  async run(gpu, seed) {
    const rng = testRng(seed);
    const dense = rng.uniform(B * D);
    const emb = rng.uniform(B * F * D);
    const got = await dlrmInteraction(gpu, dense, emb, B, F, D, mode);
    const want = dlrmInteractionReference(dense, emb, B, F, D, mode);
    return { error: maxRelError(got, want), detail: describeMismatch(got, want) };
  },
}));
