// The ranking report's metrics on hand-computed fixtures: log loss, ECE over 10 equal-width bins, bootstrap standard
// errors that are the same resamples for every prediction, and the formatted report.
import { describe, expect, it } from 'vitest';
import { bootstrapResamples, ECE_BINS, pointMetrics, taskMetrics } from './evaluate.ts';

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
});
