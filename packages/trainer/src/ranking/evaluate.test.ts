// The ranking report's metrics on hand-computed fixtures: log loss, ECE over 10 equal-width bins, bootstrap standard
// errors that are the same resamples for every prediction, and the formatted report.
import { describe, expect, it } from 'vitest';
import { createRng } from '@vireo/core';
import { bootstrapResamples, ECE_BINS, eceNoiseFloor, pointMetrics, taskMetrics } from './evaluate.ts';

describe('ranking evaluation metrics', () => {
  it('log loss and ECE match a hand-computed case', () => {
    // Four rows at 0.15 (one positive) and two at 0.85 (both positive):
    //   bin [0.1, 0.2): 4 rows, predicted 0.15, observed 0.25 → |0.10| · 4/6
    //   bin [0.8, 0.9): 2 rows, predicted 0.85, observed 1    → |0.15| · 2/6
    //   ECE = (0.4 + 0.3) / 6 = 0.11667; log loss = −(3 ln 0.85 + ln 0.15 + 2 ln 0.85) / 6.
    const y = [0, 0, 0, 1, 1, 1];
    const p = [0.15, 0.15, 0.15, 0.15, 0.85, 0.85];
    const m = pointMetrics(y, p);
    expect(ECE_BINS).toBe(10);
    expect(m.ece).toBeCloseTo(0.7 / 6, 12);
    expect(m.logLoss).toBeCloseTo(-(5 * Math.log(0.85) + Math.log(0.15)) / 6, 12);
    // AUC: positives at 0.15 (1) and 0.85 (2) against three negatives at 0.15: (3·0.5 + 2·3) / 9.
    expect(m.auc).toBeCloseTo(7.5 / 9, 12);
    // A perfectly calibrated constant has ECE 0 and the entropy as its log loss.
    const c = pointMetrics([1, 0, 0, 0], [0.25, 0.25, 0.25, 0.25]);
    expect(c.ece).toBe(0);
    expect(c.logLoss).toBeCloseTo(-(0.25 * Math.log(0.25) + 0.75 * Math.log(0.75)), 12);
  });

  it('bootstrap standard errors: near the analytic one, and paired across predictions', () => {
    // Log loss of a constant 0.3 on n rows at rate 0.3: per-row loss is −ln 0.3 or −ln 0.7, so its SE is
    // |ln 0.3 − ln 0.7| · √(0.3 · 0.7 / n).
    const n = 2000;
    const y = Array.from({ length: n }, (_, i) => (i % 10 < 3 ? 1 : 0));
    const p = new Array(n).fill(0.3);
    const resamples = bootstrapResamples(n, 5, 400);
    const m = taskMetrics(y, p, resamples);
    const analytic = Math.abs(Math.log(0.3) - Math.log(0.7)) * Math.sqrt((0.3 * 0.7) / n);
    expect(m.se.logLoss).toBeGreaterThan(0.85 * analytic);
    expect(m.se.logLoss).toBeLessThan(1.15 * analytic);
    expect(m.rows).toBe(n);
    expect(m.positives).toBe(600);
    // The same seed gives the same resamples (so model and baselines are compared on the same draws).
    expect(bootstrapResamples(50, 9)[3]).toEqual(bootstrapResamples(50, 9)[3]);
    expect(bootstrapResamples(50, 9)[3]).not.toEqual(bootstrapResamples(50, 10)[3]);
  });

  it('the ECE noise floor: the analytic chance ECE of a constant, ~0 debiased for true probabilities', () => {
    // A constant 0.3 on n rows sits in one bin: its ECE against its own draws is |mean(y*) − 0.3|, whose mean is
    // √(0.3 · 0.7 / n) · √(2/π) (the mean absolute value of a normal) to within the binomial's skew.
    const n = 1500;
    const analytic = Math.sqrt((0.3 * 0.7) / n) * Math.sqrt(2 / Math.PI);
    const floor = eceNoiseFloor(new Array(n).fill(0.3), 1, 2000);
    expect(Math.abs(floor - analytic)).toBeLessThan(0.05 * analytic);
    // True probabilities on 1,500 rows: plain ECE is well above 0 by chance (about the floor), the debiased ECE is
    // about 0: over 20 worlds its mean is within 0.003 of 0 (its sd per world is about 0.006).
    const rng = createRng(11);
    const plain: number[] = [];
    const debiased: number[] = [];
    for (let w = 0; w < 20; w++) {
      const p = Array.from({ length: n }, () => 0.05 + 0.55 * rng.next());
      const y = p.map((q) => (rng.next() < q ? 1 : 0));
      const m = taskMetrics(y, p, []);
      plain.push(m.ece);
      debiased.push(m.eceDebiased);
      expect(m.eceDebiased).toBeCloseTo(m.ece - m.eceNoise, 12);
    }
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    expect(mean(plain)).toBeGreaterThan(0.015);
    expect(Math.abs(mean(debiased))).toBeLessThan(0.003);
    // A known miscalibration far above the floor: predictions 0.05 over the truth on 20,000 rows, debiased ≈ 0.05.
    const p = Array.from({ length: 20_000 }, () => 0.05 + 0.55 * rng.next());
    const y = p.map((q) => (rng.next() < q ? 1 : 0));
    const shifted = taskMetrics(
      y,
      p.map((q) => q + 0.05),
      [],
    );
    expect(Math.abs(shifted.eceDebiased - 0.05)).toBeLessThan(0.006);
  });
});

describe('vireo eval ranking flags and seeds', () => {
  it('says which flags go together, in one sentence, before any work', async () => {
    const { evalRanking } = await import('./index.ts');
    await expect(evalRanking(['--data', 'ds', '--seeds', '2', '--bundle', 'b'])).rejects.toThrow(/not both/);
    await expect(evalRanking(['--data', 'ds', '--bundle', 'b', '--epochs', '3'])).rejects.toThrow(
      /--epochs is a training flag/,
    );
    await expect(evalRanking(['--data', 'ds'])).rejects.toThrow(/--seeds N to train/);
    await expect(evalRanking(['--data', 'ds', '--seeds', '0'])).rejects.toThrow(/--seeds/);
  });

  it('combines per-seed reports into mean ± sample sd per row and task', async () => {
    const { combineRankingSeeds, formatRankingSeeds } = await import('./index.ts');
    const m = (auc: number, logLoss: number, ece: number) => ({
      auc,
      logLoss,
      ece,
      eceNoise: 0.01,
      eceDebiased: ece - 0.01,
      se: { auc: 0, logLoss: 0, ece: 0 },
      rows: 10,
      positives: 3,
    });
    const report = (auc: number, ece: number) => ({
      split: { train: 1, valid: 1, test: 10, validFrom: 'valid split' },
      model: { ctr: m(auc, 0.4, ece), revenue: { rmseLog1p: auc, se: 0, rows: 3 } },
      baselines: {
        constant: { ctr: m(0.5, 0.5, 0.01) },
        logistic: { ctr: { ...m(0.7, 0.45, 0.02), l2: 0, lr: 0.1, epochs: 1 } },
      },
    });
    const r = combineRankingSeeds([report(0.8, 0.01), report(0.9, 0.03)], [1, 2]);
    expect(r.rows['model.ctr'].auc.mean).toBeCloseTo(0.85, 12);
    expect(r.rows['model.ctr'].auc.sd).toBeCloseTo(Math.SQRT1_2 * 0.1, 12);
    expect(r.rows['model.ctr'].ece.mean).toBeCloseTo(0.02, 12);
    expect(r.rows['model.ctr'].eceDebiased.mean).toBeCloseTo(0.01, 12);
    expect(r.rows['constant.ctr'].auc.sd).toBe(0);
    expect(Object.keys(r.rows)).toEqual(['model.ctr', 'constant.ctr', 'logistic.ctr']);
    expect(r.revenue!.mean).toBeCloseTo(0.85, 12);
    expect(formatRankingSeeds(r)).toMatch(/model\.ctr\s+AUC 0\.8500 ± 0\.0707/);

    // One seed: no "± 0.0000" (it printed a spread of zero as if measured).
    const one = formatRankingSeeds(combineRankingSeeds([report(0.8, 0.01)], [7]));
    expect(one).toMatch(/^one seed \(7\): no spread over seeds/);
    expect(one).toMatch(/model\.ctr\s+AUC 0\.8000 {2}log loss 0\.4000 {2}ECE 0\.0100/);
    expect(one).not.toContain('±');
  });
});
