// Platt scaling of the ranking heads: the fit recovers a known (a, b); folded into the head's last layer, the GPU
// forward serves σ(a·z + b) of the uncalibrated logit z, for ctr and cvr, and leaves revenue alone.
import { createRng } from '@vireo/core';
import { Gpu, testRng } from '@vireo/kernels';
import { RankingModel, rankingParameters, sparseWidth, type RankingConfig } from '@vireo/models';
import { describe, expect, it } from 'vitest';
import { fitPlatt, foldPlatt } from './calibrate.ts';

describe('ranking calibration', () => {
  it('fitPlatt recovers the (a, b) the labels were drawn with', () => {
    const rng = createRng(4);
    const n = 40_000;
    const z = Float64Array.from({ length: n }, () => 2 * rng.normal());
    const y = Float64Array.from(z, (v) => (rng.next() < 1 / (1 + Math.exp(-(0.5 * v - 1))) ? 1 : 0));
    const { a, b } = fitPlatt(z, y);
    // Maximum likelihood over 40k rows: standard errors ~0.01.
    expect(Math.abs(a - 0.5)).toBeLessThan(0.04);
    expect(Math.abs(b + 1)).toBeLessThan(0.05);
  });

  it('folded into the last layer, the GPU forward serves σ(a·z + b) for ctr and cvr, revenue as is', async () => {
    const gpu = await Gpu.create();
    try {
      const c: RankingConfig = {
        denseFeatures: [],
        sparseFeatures: [
          { name: 'user:id', rows: 12, width: 1 },
          { name: 'item:id', rows: 20, width: 1 },
        ],
        embeddingDim: 4,
        bottomMlp: [4],
        topMlp: [8],
        towerMlp: [4],
        interaction: 'dot',
        heads: ['ctr', 'cvr', 'revenue'],
      };
      const rng = testRng(9);
      const params = rng.uniform(rankingParameters(c).total, -0.5, 0.5);
      const tables = c.sparseFeatures.map((f) => rng.uniform(f.rows * c.embeddingDim, -0.5, 0.5));
      const n = 16;
      const S = sparseWidth(c);
      const sparse = Int32Array.from({ length: n * S }, (_, i) => 2 + ((i * 7) % 9));
      const model = await RankingModel.create(gpu, c, { maxBatch: n });
      try {
        model.writeWeights(params, tables);
        const logits = await model.score(null, sparse, n, { logits: true });
        const calibrated = params.slice();
        foldPlatt(c, calibrated, 'ctr', 0.7, -0.4);
        foldPlatt(c, calibrated, 'cvr', 1.3, 0.2);
        model.writeWeights(calibrated, tables);
        const served = await model.score(null, sparse, n);
        const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
        for (let i = 0; i < n; i++) {
          // float32 forward, the fold changes the rounding of one dot product: 1e-5.
          expect(Math.abs(served[i * 3] - sigmoid(0.7 * logits[i * 3] - 0.4))).toBeLessThan(1e-5);
          expect(Math.abs(served[i * 3 + 1] - sigmoid(1.3 * logits[i * 3 + 1] + 0.2))).toBeLessThan(1e-5);
          expect(Math.abs(served[i * 3 + 2] - logits[i * 3 + 2])).toBeLessThan(1e-5);
        }
      } finally {
        model.destroy();
      }
    } finally {
      gpu.destroy();
    }
  });
});
