import { bceBackwardReference, bceReference, type HeadWeights } from '../bce/bce.ts';
import { testRng } from '../testing.ts';
import { bce, bceGrads } from '../bce/bce.op.ts';
import type { KernelCheck } from '../check.ts';
import { worstOf } from '../check.ts';

// Elementwise with f32 exp/log: a few ulps of values up to ~30 (the largest logits). A loss is
// measured in nats against at least 1 nat: f32 log(1 + e^-|x|) is off by ~1e-7 absolute, which
// is every bit of a 1e-7 loss (seed 827991380 at B=1 had only saturated logits, all losses ≤ 1e-7).
// A gradient is measured against at least its head's weight, the size of σ − y at 1.
const BCE_TOL = 1e-5;
const bceCases: [number, boolean?][] = [[1], [7], [64], [1000], [200_003, true]];

function bceInputs(B: number, seed: number) {
  const rng = testRng(seed);
  const outputs = new Float32Array(B * 3);
  const labels = new Float32Array(B * 3);
  for (let i = 0; i < B; i++) {
    // mostly moderate logits, some extreme ones (±30) to exercise the stable forms
    const spread = rng.next() < 0.1 ? 30 : 4;
    outputs[i * 3] = (rng.next() * 2 - 1) * spread;
    outputs[i * 3 + 1] = (rng.next() * 2 - 1) * spread;
    outputs[i * 3 + 2] = rng.next() * 4;
    const click = rng.next() < 0.3 ? 1 : 0;
    const conversion = click && rng.next() < 0.3 ? 1 : 0;
    labels[i * 3] = click;
    labels[i * 3 + 1] = conversion;
    labels[i * 3 + 2] = conversion ? Math.exp(rng.next() * 5) - 1 : 0;
  }
  const weights: HeadWeights = { ctr: 1 / B, ctcvr: 0.5 / B, revenue: 0.25 / B };
  return { outputs, labels, weights };
}

export const bceChecks: KernelCheck[] = bceCases.map(([B, large]) => ({
  kernel: 'bce',
  case: `B=${B} forward+backward`,
  tolerance: BCE_TOL,
  large,
  async run(gpu, seed) {
    const { outputs, labels, weights } = bceInputs(B, seed);
    const loss = await bce(gpu, outputs, labels, B);
    const grad = await bceGrads(gpu, outputs, labels, B, weights);
    return worstOf({
      loss: [loss, bceReference(outputs, labels, B), 1],
      grad: [grad, bceBackwardReference(outputs, labels, B, weights), weights.ctr],
    });
  },
}));
