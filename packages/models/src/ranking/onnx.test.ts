// ranking.onnx in onnxruntime-node (CPU) against the WGSL forward on random transformed inputs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { describeMismatch, testRng, Gpu } from '@vireo/kernels';
import { RankingModel, rankingParameters, sparseWidth, type RankingConfig } from './ranking.ts';
import { inputName, rankingOnnx } from './onnx.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

const base: RankingConfig = {
  denseFeatures: ['context:i1', 'context:i2', 'item:price'],
  sparseFeatures: [
    { name: 'user:id', rows: 50, width: 1 },
    { name: 'item:genres', rows: 12, width: 4 },
    { name: 'context:hour', rows: 26, width: 1 },
    { name: 'item:title', rows: 30, width: 3 },
  ],
  embeddingDim: 16,
  bottomMlp: [32, 16],
  topMlp: [32, 16],
  towerMlp: [8],
  interaction: 'dot',
  heads: ['ctr', 'cvr', 'revenue'],
};

async function parity(c: RankingConfig, B: number, seed: number): Promise<number> {
  const rng = testRng(seed);
  const params = rng.uniform(rankingParameters(c).total, -0.3, 0.3);
  const tables = c.sparseFeatures.map((f) => rng.uniform(f.rows * c.embeddingDim, -0.5, 0.5));
  const dense = rng.uniform(B * c.denseFeatures.length, -2, 2);
  const S = sparseWidth(c);
  const sparse = new Int32Array(B * S);
  for (let i = 0; i < sparse.length; i++) sparse[i] = 0;
  for (let b = 0; b < B; b++) {
    let slot = 0;
    for (const f of c.sparseFeatures) {
      // multi-hot rows keep a random number of leading values, the rest PAD (some rows all PAD)
      const keep = f.width === 1 ? 1 : rng.int(f.width + 1);
      for (let l = 0; l < keep; l++) sparse[b * S + slot + l] = rng.int(f.rows);
      slot += f.width;
    }
  }
  const model = await RankingModel.create(gpu, c, { maxBatch: B });
  model.writeWeights(params, tables);
  const wgsl = await model.score(c.denseFeatures.length ? dense : null, sparse, B);
  model.destroy();

  const session = await ort.InferenceSession.create(rankingOnnx(c, params, tables));
  const feeds: Record<string, ort.Tensor> = {};
  if (c.denseFeatures.length) feeds.dense = new ort.Tensor('float32', dense, [B, c.denseFeatures.length]);
  let slot = 0;
  for (const f of c.sparseFeatures) {
    const idx = new BigInt64Array(B * f.width);
    for (let b = 0; b < B; b++)
      for (let l = 0; l < f.width; l++) idx[b * f.width + l] = BigInt(sparse[b * S + slot + l]);
    feeds[inputName(f.name)] = new ort.Tensor('int64', idx, [B, f.width]);
    slot += f.width;
  }
  const out = (await session.run(feeds)).scores.data as Float32Array;
  await session.release();
  let worst = 0;
  for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - wgsl[i]));
  if (!(worst <= 1e-5)) console.error(describeMismatch(out, wgsl));
  return worst;
}

describe('ranking.onnx in onnxruntime-node', () => {
  it.each([
    ['dot interaction, three heads, multi-hot features', base, 1000],
    ['cat interaction, no tower layers', { ...base, interaction: 'cat' as const, towerMlp: [] }, 64],
    ['ctr head only, no dense features', { ...base, denseFeatures: [], heads: ['ctr' as const] }, 37],
    ['a wide term, three heads, multi-hot features', { ...base, wide: true }, 300],
    [
      'a wide term, one feature, no dense features',
      {
        ...base,
        wide: true,
        denseFeatures: [],
        sparseFeatures: [base.sparseFeatures[1]],
        heads: ['cvr' as const, 'revenue' as const],
      },
      33,
    ],
  ])('%s: max abs difference ≤ 1e-5 against the WGSL forward', async (_name, c, B) => {
    const worst = await parity(c, B, 11);
    console.log(`onnx parity (${_name}, B=${B}): max abs diff ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-5);
  });
});
