// The ranker's WGSL forward and training step against the CPU reference (float64), on a tiny model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeMismatch, maxRelError, testRng, Gpu } from '@vireo/kernels';
import { RankingModel, rankingParameters, sparseWidth, WIDE_WEIGHT, wideWidth, type RankingConfig } from './ranking.ts';
import { rankingForwardReference, rankingLossReference } from './reference.ts';
import { RankingStep } from './step.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

const config = (over: Partial<RankingConfig> = {}): RankingConfig => ({
  denseFeatures: ['context:a', 'context:b', 'context:c'],
  sparseFeatures: [
    { name: 'user:id', rows: 7, width: 1 },
    { name: 'item:tags', rows: 5, width: 3 },
    { name: 'context:hour', rows: 4, width: 1 },
  ],
  embeddingDim: 4,
  bottomMlp: [6, 4],
  topMlp: [5],
  towerMlp: [3],
  interaction: 'dot',
  heads: ['ctr', 'cvr', 'revenue'],
  ...over,
});

/** Random weights and inputs for a config (multi-hot rows with some PAD slots, one all-PAD bag). */
function fixture(c: RankingConfig, B: number, seed = 1) {
  const rng = testRng(seed);
  const params = rng.uniform(rankingParameters(c).total, -0.6, 0.6);
  const tables = c.sparseFeatures.map((f) => rng.uniform(f.rows * c.embeddingDim, -0.8, 0.8));
  const dense = rng.uniform(B * c.denseFeatures.length, -1, 1);
  const S = sparseWidth(c);
  const sparse = new Int32Array(B * S);
  for (let b = 0; b < B; b++) {
    let slot = 0;
    for (const f of c.sparseFeatures) {
      for (let l = 0; l < f.width; l++) sparse[b * S + slot + l] = f.width > 1 && b === 1 ? 0 : rng.int(f.rows);
      slot += f.width;
    }
  }
  const labels = new Float32Array(B * 3);
  for (let b = 0; b < B; b++) {
    const click = rng.next() < 0.5 ? 1 : 0;
    const conv = click && rng.next() < 0.5 ? 1 : 0;
    labels.set([click, conv, conv ? 10 * rng.next() : 0], b * 3);
  }
  return { params, tables, dense, sparse, labels };
}

describe('RankingModel forward', () => {
  const cases: [string, Partial<RankingConfig>, number | undefined][] = [
    ['dot interaction, one shard', {}, undefined],
    ['cat interaction', { interaction: 'cat', topMlp: [], towerMlp: [] }, undefined],
    ['tables split over 3 shards (rows 6)', {}, 6],
    ['ctr head only, no dense features', { heads: ['ctr'], denseFeatures: [] }, undefined],
    ['a wide term, tables over 3 shards', { wide: true }, 6],
    [
      'a wide term, no dense features, ctr and revenue',
      { wide: true, denseFeatures: [], heads: ['ctr', 'revenue'] },
      undefined,
    ],
  ];
  it.each(cases)('%s matches the CPU reference (max rel err ≤ 1e-5)', async (_name, over, maxShardRows) => {
    const c = config(over);
    const B = 9;
    const { params, tables, dense, sparse } = fixture(c, B);
    const model = await RankingModel.create(gpu, c, { maxBatch: 12, maxShardRows });
    if (maxShardRows) expect(model.shards.length).toBe(3);
    model.writeWeights(params, tables);
    for (const logits of [false, true]) {
      const got = await model.score(c.denseFeatures.length ? dense : null, sparse, B, { logits });
      const want = rankingForwardReference(c, params, tables, dense, sparse, B, logits);
      const err = maxRelError(got, want);
      expect(err, describeMismatch(got, want)).toBeLessThanOrEqual(1e-5);
    }
    const back = await model.readWeights();
    expect(maxRelError(back.tables[1], tables[1])).toBe(0);
    model.destroy();
  });

  it('adds the wide term to the logit before the activation: zero weights give the model without it', async () => {
    const c = config({ wide: true });
    const B = 5;
    const { params, tables, dense, sparse } = fixture(c, B, 2);
    const e = rankingParameters(c).entries.find((x) => x.name === WIDE_WEIGHT)!;
    params.fill(0, e.offset, e.offset + e.size);
    const model = await RankingModel.create(gpu, c, { maxBatch: B });
    model.writeWeights(params, tables);
    const got = await model.score(dense, sparse, B);
    const plain = config();
    const want = rankingForwardReference(
      plain,
      params.subarray(0, rankingParameters(plain).total),
      tables,
      dense,
      sparse,
      B,
    );
    expect(maxRelError(got, want)).toBeLessThanOrEqual(1e-5);
    // The bias of head ctr moves only pCtr, through the sigmoid.
    params[e.offset + wideWidth(c) - 1] = 2;
    model.writeWeights(params, tables);
    const moved = await model.score(dense, sparse, B);
    for (let b = 0; b < B; b++) {
      const z = Math.log(want[b * 3] / (1 - want[b * 3])) + 2;
      expect(moved[b * 3]).toBeCloseTo(1 / (1 + Math.exp(-z)), 5);
      expect(moved[b * 3 + 1]).toBeCloseTo(want[b * 3 + 1], 6);
    }
    model.destroy();
  });

  it('rejects an index outside its table, naming the feature', async () => {
    const c = config();
    const model = await RankingModel.create(gpu, c, { maxBatch: 2 });
    const sparse = new Int32Array(2 * sparseWidth(c));
    sparse[4] = 4; // context:hour has 4 rows: 0..3
    expect(() => model.setInputs(new Float32Array(6), sparse, 2)).toThrow(
      /sample 0 feature context:hour has index 4, outside its table of 4 rows/,
    );
    expect(() => model.setInputs(new Float32Array(6), sparse, 3)).toThrow(/batch of 3 samples, expected 1..2/);
    model.destroy();
  });
});

describe('RankingStep gradients', () => {
  // The step leaves dL/dθ in `grads` and dL/d(rows) in the embedding op's gradRows; lr = 0 keeps θ.
  it.each([
    ['dot, one shard', {}, undefined],
    ['cat, 3 shards', { interaction: 'cat' as const }, 6],
  ])('%s: analytic gradients match central differences of the CPU loss', async (_name, over, maxShardRows) => {
    const c = config(over);
    const B = 6;
    const { params, tables, dense, sparse, labels } = fixture(c, B, 3);
    const model = await RankingModel.create(gpu, c, { maxBatch: B, maxShardRows });
    model.writeWeights(params, tables);
    const step = await RankingStep.create(gpu, model, { lr: 0, weightDecay: 0, embLr: 0, revenueWeight: 0.5 });
    step.run(dense, sparse, labels, B);
    const w = step.weights(B);
    const grads = await gpu.readF32(step.grads, rankingParameters(c).total);
    const p64 = Float64Array.from(params);
    const t64 = tables.map((t) => Float64Array.from(t));
    const loss = () => rankingLossReference(c, p64, t64, dense, sparse, labels, B, w);
    const eps = 1e-6;
    const numeric = (arr: Float64Array, i: number) => {
      const keep = arr[i];
      arr[i] = keep + eps;
      const up = loss();
      arr[i] = keep - eps;
      const down = loss();
      arr[i] = keep;
      return (up - down) / (2 * eps);
    };
    let worst = 0;
    for (const e of rankingParameters(c).entries) {
      for (let k = 0; k < e.size; k += Math.max(1, Math.floor(e.size / 4))) {
        const i = e.offset + k;
        const n = numeric(p64, i);
        worst = Math.max(worst, Math.abs(grads[i] - n) / (1e-4 + 1e-2 * Math.abs(n)));
      }
    }
    expect(worst, 'dense parameter gradients').toBeLessThanOrEqual(1);
    const { rows, grad } = await step.readEmbeddingGrads();
    const bases = model.bases;
    const D = c.embeddingDim;
    let worstRow = 0;
    rows.forEach((g, u) => {
      let f = 0;
      while (f + 1 < bases.length && bases[f + 1] <= g) f++;
      for (let d = 0; d < D; d++) {
        const n = numeric(t64[f], (g - bases[f]) * D + d);
        worstRow = Math.max(worstRow, Math.abs(grad[u * D + d] - n) / (1e-4 + 1e-2 * Math.abs(n)));
      }
    });
    expect(rows.length).toBeGreaterThan(5);
    expect(worstRow, 'embedding row gradients').toBeLessThanOrEqual(1);
    model.destroy();
    step.destroy();
  });
});
