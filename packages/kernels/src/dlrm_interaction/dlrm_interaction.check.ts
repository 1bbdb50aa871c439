import { describeMismatch, maxRelError, testRng } from '../testing.ts';
import {
  dlrmInteractionBackwardReference,
  dlrmInteractionReference,
  dlrmInteractionWidth,
  type InteractionMode,
} from './dlrm_interaction.ts';
import { dlrmInteraction, dlrmInteractionBackward } from './dlrm_interaction.op.ts';
import type { KernelCheck } from '../check.ts';

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
  [1000, 26, 64, 'dot', true], // the ranking shape: 1,000 candidates, 26 sparse features
];

const forwardChecks: KernelCheck[] = cases.map(([B, F, D, mode, large]) => ({
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

// float32 sums of ≤ F products per value (plus the dense copy) against float64: within 1e-5
// of the scale.
// The trainer's shape, at a batch of 512 to keep SwiftShader's time in check.
const backwardCases: typeof cases = [...cases.filter((c) => !c[4]), [512, 26, 64, 'dot', true]];

const backwardChecks: KernelCheck[] = backwardCases.map(([B, F, D, mode, large]) => ({
  kernel: 'dlrm_interaction.backward',
  case: `B=${B} F=${F} D=${D} ${mode}`,
  tolerance: TOL,
  large,
  async run(gpu, seed) {
    const rng = testRng(seed);
    const dense = rng.uniform(B * D);
    const emb = rng.uniform(B * F * D);
    const dy = rng.uniform(B * dlrmInteractionWidth(F, D, mode));
    const got = await dlrmInteractionBackward(gpu, dense, emb, dy, B, F, D, mode);
    const want = dlrmInteractionBackwardReference(dense, emb, dy, B, F, D, mode);
    const eDense = maxRelError(got.dDense, want.dDense);
    const eEmb = maxRelError(got.dEmb, want.dEmb);
    return eDense >= eEmb
      ? { error: eDense, detail: `dDense: ${describeMismatch(got.dDense, want.dDense)}` }
      : { error: eEmb, detail: `dEmb: ${describeMismatch(got.dEmb, want.dEmb)}` };
  },
}));

export const dlrmInteractionChecks: KernelCheck[] = [...forwardChecks, ...backwardChecks];
