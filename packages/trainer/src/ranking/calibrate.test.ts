// Platt scaling of the ranking heads: the fit recovers a known (a, b); folded into the head's last layer, the GPU
// forward and ranking.onnx serve σ(a·z + b) of the uncalibrated logit z, for ctr and cvr, and leave revenue alone.
// The study's other maps (bench/calibration-maps.ts) lower ECE and keep the order.
import { calibration, createRng, logLoss } from '@vireo/core';
import { Gpu, testRng } from '@vireo/kernels';
import { RankingModel, rankingParameters, sparseWidth, WIDE_WEIGHT, type RankingConfig } from '@vireo/models';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { rankingOnnx } from '@vireo/models/training';
import { applyCalibrationMap, fitCalibrationMap } from '../bench/calibration-maps.ts';
import {
  calibrateHeads,
  calibrationHoldout,
  fitPlatt,
  fitStack,
  foldPlatt,
  PLATT_MIN_SLOPE,
  stackTest,
} from './calibrate.ts';
import { logisticLogits } from './logistic.ts';
import type { RankingData, RankingSplits } from './data.ts';

/** A tiny ranker with three heads over user and item ids (and `dense` inputs), for the serving tests below. */
const tinyRanker = (dense: string[]): RankingConfig => ({
  denseFeatures: dense,
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
});

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

  it('never turns a head upside down: a head worse than chance keeps its order, flattened to the base rate', () => {
    // The truth is σ(−0.8·z − 1): the head ranks backwards. Unbounded, Platt wants a ≈ −0.8 and the engine's blend
    // would serve the head inverted (vireo refresh's challenger on a small window did: a = −0.82).
    const rng = createRng(9);
    const z = Float64Array.from({ length: 5000 }, () => 1.5 * rng.normal());
    const y = Float64Array.from(z, (v) => (rng.next() < 1 / (1 + Math.exp(0.8 * v + 1)) ? 1 : 0));
    const { a, b } = fitPlatt(z, y);
    expect(a).toBe(PLATT_MIN_SLOPE);
    // At the bound the intercept matches the base rate (the score equation in b), and the log loss beats the
    // identity's.
    const p = Array.from(z, (v) => 1 / (1 + Math.exp(-(a * v + b))));
    const rate = y.reduce((s, v) => s + v, 0) / y.length;
    expect(Math.abs(p.reduce((s, v) => s + v, 0) / p.length - rate)).toBeLessThan(1e-6);
    expect(logLoss(y, p)).toBeLessThan(
      logLoss(
        y,
        Array.from(z, (v) => 1 / (1 + Math.exp(-v))),
      ),
    );
  });

  it('a pair fitted on one slice of a known overconfident model lowers ECE and log loss on another', () => {
    // Logits z of an overconfident model: the truth is σ(0.6·z − 0.4), the model serves σ(z).
    const rng = createRng(21);
    const draw = (n: number) => {
      const z = Float64Array.from({ length: n }, () => 1.5 * rng.normal());
      const y = Float64Array.from(z, (v) => (rng.next() < 1 / (1 + Math.exp(-(0.6 * v - 0.4))) ? 1 : 0));
      return { z, y };
    };
    const fitOn = draw(4000);
    const heldOut = draw(20_000);
    const { a, b } = fitPlatt(fitOn.z, fitOn.y);
    const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
    const before = Array.from(heldOut.z, sigmoid);
    const after = Array.from(heldOut.z, (v) => sigmoid(a * v + b));
    const ece = (p: number[]) => calibration(heldOut.y, p).ece;
    // Before: about 0.1 off; after: the noise floor of 20k rows (about 0.005) plus the pair's error.
    expect(ece(before)).toBeGreaterThan(0.05);
    expect(ece(after)).toBeLessThan(0.015);
    expect(ece(after)).toBeLessThan(ece(before));
    expect(logLoss(heldOut.y, after)).toBeLessThan(logLoss(heldOut.y, before));
  });

  it('calibrationHoldout carves the latest training rows, out of training, valid and test unchanged', () => {
    // 20 rows at shuffled times: 0–11 train, 12–15 valid, 16–19 test.
    const ts = Float64Array.from([5, 1, 9, 3, 11, 7, 0, 2, 10, 4, 8, 6, 12, 13, 14, 15, 16, 17, 18, 19]);
    const data = { ts } as unknown as RankingData;
    const range = (from: number, to: number) => Uint32Array.from({ length: to - from }, (_, i) => from + i);
    const splits: RankingSplits = {
      train: range(0, 12),
      valid: range(12, 16),
      test: range(16, 20),
      validFrom: 'valid split',
    };
    const { fit, calibrate } = calibrationHoldout(data, splits, 0.25);
    // The last quarter of train by time: ts 9, 10, 11 are rows 2, 8 and 4.
    expect(Array.from(calibrate)).toEqual([2, 4, 8]);
    expect(Array.from(fit.train)).toEqual([0, 1, 3, 5, 6, 7, 9, 10, 11]);
    expect(fit.valid).toBe(splits.valid);
    expect(fit.test).toBe(splits.test);
    // Nothing to carve: the validation rows calibrate, the splits are as given.
    const none = calibrationHoldout(data, splits, 0);
    expect(none.fit).toBe(splits);
    expect(none.calibrate).toBe(splits.valid);
  });

  it('folded into the last layer, the GPU forward serves σ(a·z + b) for ctr and cvr, revenue as is', async () => {
    const gpu = await Gpu.create();
    try {
      const c = tinyRanker([]);
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

  it('beta and isotonic maps lower ECE of a miscalibration no affine map fixes; every map keeps the order', () => {
    // The truth is σ(2·ln σ(z) − 0.5·ln(1 − σ(z)) − 0.3): a beta-shaped distortion, sharp at one end and flat at
    // the other, which a Platt pair can only average.
    const rng = createRng(31);
    const draw = (n: number) => {
      const z = Float64Array.from({ length: n }, () => 2 * rng.normal());
      const truth = (v: number) =>
        1 / (1 + Math.exp(-(2 * Math.log(sigmoid(v)) - 0.5 * Math.log(1 - sigmoid(v)) - 0.3)));
      const y = Float64Array.from(z, (v) => (rng.next() < truth(v) ? 1 : 0));
      return { z, y };
    };
    const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
    const fitOn = draw(8000);
    const heldOut = draw(40_000);
    const ece = (method: Parameters<typeof fitCalibrationMap>[0]) => {
      const map = fitCalibrationMap(method, fitOn.z, fitOn.y);
      const p = Array.from(heldOut.z, (v) => sigmoid(applyCalibrationMap(map, v)));
      // Monotone: a sorted grid of logits stays sorted (isotonic may tie, never reverse).
      const grid = Array.from({ length: 200 }, (_, i) => -6 + i * 0.06).map((v) => applyCalibrationMap(map, v));
      for (let i = 1; i < grid.length; i++) expect(grid[i]).toBeGreaterThanOrEqual(grid[i - 1] - 1e-12);
      return { ece: calibration(heldOut.y, p).ece, logLoss: logLoss(heldOut.y, p) };
    };
    const none = ece('none');
    const platt = ece('platt');
    const beta = ece('beta');
    const isotonic = ece('isotonic');
    expect(none.ece).toBeGreaterThan(0.05);
    // 40k held-out rows: a noise floor near 0.004.
    expect(beta.ece).toBeLessThan(0.012);
    expect(isotonic.ece).toBeLessThan(0.015);
    expect(beta.logLoss).toBeLessThan(platt.logLoss);
    expect(platt.ece).toBeLessThan(none.ece);
  });

  it('a folded calibration is served alike by WGSL (GPU path, eval) and ranking.onnx (CPU path)', async () => {
    const gpu = await Gpu.create();
    try {
      const c = tinyRanker(['context:x']);
      const rng = testRng(13);
      const params = rng.uniform(rankingParameters(c).total, -0.5, 0.5);
      const tables = c.sparseFeatures.map((f) => rng.uniform(f.rows * c.embeddingDim, -0.5, 0.5));
      const n = 24;
      const dense = rng.uniform(n, -1, 1);
      const sparse = Int32Array.from({ length: n * 2 }, (_, i) => 1 + ((i * 5) % 11));
      const model = await RankingModel.create(gpu, c, { maxBatch: n });
      try {
        model.writeWeights(params, tables);
        const logits = await model.score(dense, sparse, n, { logits: true });
        const calibrated = params.slice();
        foldPlatt(c, calibrated, 'ctr', 0.6, -0.3);
        foldPlatt(c, calibrated, 'cvr', 1.2, 0.1);
        model.writeWeights(calibrated, tables);
        const wgsl = await model.score(dense, sparse, n);
        const session = await ort.InferenceSession.create(rankingOnnx(c, calibrated, tables));
        const ids = (f: number) => new BigInt64Array(Array.from({ length: n }, (_, b) => BigInt(sparse[b * 2 + f])));
        const onnx = (
          await session.run({
            dense: new ort.Tensor('float32', dense, [n, 1]),
            user_id: new ort.Tensor('int64', ids(0), [n, 1]),
            item_id: new ort.Tensor('int64', ids(1), [n, 1]),
          })
        ).scores.data as Float32Array;
        await session.release();
        const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
        for (let i = 0; i < n; i++) {
          const want = [sigmoid(0.6 * logits[i * 3] - 0.3), sigmoid(1.2 * logits[i * 3 + 1] + 0.1), logits[i * 3 + 2]];
          for (let t = 0; t < 3; t++) {
            expect(Math.abs(wgsl[i * 3 + t] - want[t])).toBeLessThan(1e-5);
            expect(Math.abs(onnx[i * 3 + t] - want[t])).toBeLessThan(1e-5);
          }
        }
      } finally {
        model.destroy();
      }
    } finally {
      gpu.destroy();
    }
  });

  it('fitStack recovers the (a, c, b) the labels were drawn with; stackTest tells a useful logit from noise', () => {
    const rng = createRng(41);
    const n = 20_000;
    const z = Float64Array.from({ length: n }, () => rng.normal());
    const signal = Float64Array.from({ length: n }, () => rng.normal());
    const noise = Float64Array.from({ length: n }, () => rng.normal());
    const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
    const y = Float64Array.from(z, (v, i) => (rng.next() < sigmoid(0.6 * v + 0.8 * signal[i] - 0.5) ? 1 : 0));
    const fit = fitStack(z, signal, y);
    // 20k rows: the maximum-likelihood estimates are within ~0.02 (one standard error) of the truth.
    expect(fit.a).toBeCloseTo(0.6, 1);
    expect(fit.c).toBeCloseTo(0.8, 1);
    expect(fit.b).toBeCloseTo(-0.5, 1);
    expect(stackTest(z, signal, y).t).toBeGreaterThan(10);
    // A logit that carries nothing: the stack's extra weight only fits noise, so it gains nothing out of fold.
    const useless = stackTest(z, noise, y);
    expect(useless.t).toBeLessThan(2);
    expect(Math.abs(useless.gain)).toBeLessThan(0.001);
  });

  it('stacks the wide term where it helps (an item effect an untrained DLRM misses); WGSL, ONNX serve it', async () => {
    // 3,000 rows of (user, item) ids whose click depends on the item only; the DLRM's weights are random, so its
    // logit carries nothing and logistic regression carries the effect.
    const c = tinyRanker([]);
    c.heads = ['ctr'];
    const n = 3000;
    const rng = createRng(5);
    const itemEffect = Float64Array.from({ length: 20 }, () => 1.5 * rng.normal());
    const sparse = new Int32Array(n * 2);
    const labels = new Float32Array(n * 3);
    for (let r = 0; r < n; r++) {
      sparse[r * 2] = 2 + rng.int(10);
      sparse[r * 2 + 1] = 2 + rng.int(18);
      labels[r * 3] = rng.next() < 1 / (1 + Math.exp(-itemEffect[sparse[r * 2 + 1]])) ? 1 : 0;
    }
    const data = {
      features: { dense: [], sparse: c.sparseFeatures },
      rows: n,
      dense: new Float32Array(0),
      sparse,
      labels,
      split: new Uint8Array(n),
      ts: Float64Array.from({ length: n }, (_, i) => i),
      tasks: ['ctr'],
      labelOf: { ctr: 'label:click' },
      oracleClick: null,
      oracleConversion: null,
    } as unknown as RankingData;
    const range = (from: number, to: number) => Uint32Array.from({ length: to - from }, (_, i) => from + i);
    const train = range(0, 2000);
    const valid = range(2000, 3000);
    const gpu = await Gpu.create();
    try {
      const t = testRng(3);
      const params = t.uniform(rankingParameters(c).total, -0.3, 0.3);
      const tables = c.sparseFeatures.map((f) => t.uniform(f.rows * c.embeddingDim, -0.3, 0.3));
      const lines: string[] = [];
      const stacked = await calibrateHeads(gpu, c, params, tables, data, valid, {
        train,
        seed: 1,
        log: (l) => lines.push(l),
      });
      const head = stacked.calibration.ctr!;
      expect(head.wide?.stacked, lines.join('\n')).toBe(true);
      expect(head.wide!.gain / head.wide!.se).toBeGreaterThanOrEqual(2);
      expect(stacked.config.wide).toBe(true);
      expect(head.after.logLoss).toBeLessThan(head.before.logLoss - 0.05);
      // Without it (or refused), the model and its weights keep their shape.
      const plain = await calibrateHeads(gpu, c, params, tables, data, valid);
      expect(plain.config.wide).toBeUndefined();
      expect(plain.params.length).toBe(params.length);

      // Served: σ(a·z + b + c·z_lr) on the GPU and in ONNX, z the untrained head's logit, z_lr the regression's.
      const model = await RankingModel.create(gpu, c, { maxBatch: 64 });
      const rows = valid.subarray(0, 64);
      const batch = sparse.slice(2000 * 2, 2064 * 2);
      model.writeWeights(params, tables);
      const z = await model.score(null, batch, 64, { logits: true });
      model.destroy();
      const served = await RankingModel.create(gpu, stacked.config, { maxBatch: 64 });
      served.writeWeights(stacked.params, tables);
      const wgsl = await served.score(null, batch, 64);
      served.destroy();
      const e = rankingParameters(stacked.config).entries.find((x) => x.name === WIDE_WEIGHT)!;
      const wide = Float64Array.from(stacked.params.subarray(e.offset, e.offset + e.size));
      const zWide = logisticLogits(c, data, wide, rows); // c · the regression's logit
      const session = await ort.InferenceSession.create(rankingOnnx(stacked.config, stacked.params, tables));
      const ids = (f: number) => new BigInt64Array(Array.from({ length: 64 }, (_, b) => BigInt(batch[b * 2 + f])));
      const onnx = (
        await session.run({
          user_id: new ort.Tensor('int64', ids(0), [64, 1]),
          item_id: new ort.Tensor('int64', ids(1), [64, 1]),
        })
      ).scores.data as Float32Array;
      await session.release();
      const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
      for (let i = 0; i < 64; i++) {
        const want = sigmoid(head.a * z[i * 3] + head.b + zWide[i]);
        expect(Math.abs(wgsl[i * 3] - want)).toBeLessThan(1e-5);
        expect(Math.abs(onnx[i * 3] - want)).toBeLessThan(1e-5);
      }
    } finally {
      gpu.destroy();
    }
  });
});
