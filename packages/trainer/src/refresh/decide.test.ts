// The refresh gate. Before, a metric the held-out events could not measure (a ranking AUC of NaN over a window of
// clicks without the dataset's label) compared as "not worse" (NaN < x is false), so a refresh on such events
// printed "ranking.auc NaN vs NaN (NaN), within the margin" and promoted; with both metrics NaN it promoted blind.
import { describe, expect, it } from 'vitest';
import { decide } from './run.ts';

const scores = (recall: number, auc: number) => ({
  'retrieval.recall@10': recall,
  'retrieval.ndcg@10': recall / 2,
  'ranking.auc': auc,
  'ranking.logLoss': 0.6,
});

describe('refresh gate (decide)', () => {
  it('promotes within the margin and refuses a drop beyond it', () => {
    expect(decide(scores(0.2, 0.7), scores(0.195, 0.71), 0.01)).toMatchObject({ promote: true });
    const worse = decide(scores(0.2, 0.7), scores(0.2, 0.68), 0.01);
    expect(worse.promote).toBe(false);
    expect(worse.reason).toMatch(/^not promoted: ranking\.auc 0\.6800 vs 0\.7000 \(-0\.0200\)/);
  });

  it('compares only what the window measures, and says which metric it left out', () => {
    const d = decide(scores(0.2, NaN), scores(0.21, NaN), 0.01);
    expect(d.promote).toBe(true);
    expect(d.reason).not.toMatch(/NaN/);
    expect(d.reason).toMatch(/ranking\.auc not compared \(the held-out events cannot measure it/);
    expect(decide(scores(0.2, NaN), scores(0.1, NaN), 0.01).promote).toBe(false);
  });

  it('keeps the champion when nothing can be measured', () => {
    const d = decide(scores(NaN, NaN), scores(NaN, NaN), 0.01);
    expect(d.promote).toBe(false);
    expect(d.reason).toMatch(/^not promoted: neither retrieval\.recall@10 nor ranking\.auc can be measured/);
  });
});
