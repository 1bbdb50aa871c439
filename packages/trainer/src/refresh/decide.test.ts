// The refresh gate. Before, a metric the held-out events could not measure (a ranking AUC of NaN over a window of
// clicks without the dataset's label) compared as "not worse" (NaN < x is false), so a refresh on such events
// printed "ranking.auc NaN vs NaN (NaN), within the margin" and promoted; with both metrics NaN it promoted blind.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decide, pendingEvents, writeTrainedThrough } from './run.ts';

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

  it('gives each difference with its noise, and says when the window cannot tell the margin from chance', () => {
    // A new user's refresh on a 19-event window refused on "ranking.auc 0.5476 vs 0.5714 (-0.0238)", a difference
    // the window measures to about ± 0.1: the reason said nothing of it.
    const se = (recall: number, auc: number) => ({ 'retrieval.recall@10': recall, 'ranking.auc': auc });
    const small = decide(scores(0.2, 0.5714), scores(0.2, 0.5476), 0.01, {
      champion: se(0.003, 0.08),
      challenger: se(0.003, 0.08),
    });
    expect(small.promote).toBe(false);
    expect(small.reason).toBe(
      'not promoted: ranking.auc 0.5476 vs 0.5714 (-0.0238 ± 0.2263) — worse than the champion by more than the ' +
        'margin 0.01; the window measures ranking.auc only to ± 0.2263 (2 standard errors), more than the margin: ' +
        'the difference may be chance (more events: --min-events)',
    );
    const large = decide(scores(0.2, 0.7), scores(0.21, 0.7), 0.01, {
      champion: se(0.001, 0.002),
      challenger: se(0.001, 0.002),
    });
    expect(large.reason).toBe(
      'promoted: retrieval.recall@10 0.2100 vs 0.2000 (+0.0100 ± 0.0028), ranking.auc 0.7000 vs 0.7000 ' +
        '(+0.0000 ± 0.0057), within the margin 0.01',
    );
  });

  it('keeps the champion when nothing can be measured', () => {
    const d = decide(scores(NaN, NaN), scores(NaN, NaN), 0.01);
    expect(d.promote).toBe(false);
    expect(d.reason).toMatch(/^not promoted: neither retrieval\.recall@10 nor ranking\.auc can be measured/);
  });
});

// An operator's walk stopped the edge while a refresh trained: the run failed at publish, its pull had moved the
// cursor, and every later run said "no retrain: 0 new events" until new traffic came; the model lagged.
describe('refresh: the events no published retrain has trained on (pendingEvents)', () => {
  const pull = (after: number, through: number) => ({
    after: String(after),
    through: String(through),
    count: through - after,
    pages: 1,
  });
  const events = Array.from({ length: 30 }, (_, i) => ({ seq: i + 1 }));

  it("counts a failed run's events again until a retrain is published", () => {
    const state = mkdtempSync(join(tmpdir(), 'vireo-pending-'));
    try {
      // Before any retrain of this state: the events of this pull.
      expect(pendingEvents(state, events.slice(0, 20), pull(10, 20))).toBe(10);
      // A run pulled 10–20 and failed before publishing; the next pulls nothing new: still 10 to train on.
      writeTrainedThrough(state, 10);
      expect(pendingEvents(state, events.slice(0, 20), pull(20, 20))).toBe(10);
      // Once a retrain through 20 is published, only what came after.
      writeTrainedThrough(state, 20);
      expect(pendingEvents(state, events, pull(20, 30))).toBe(10);
      writeTrainedThrough(state, 30);
      expect(pendingEvents(state, events, pull(30, 30))).toBe(0);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
});
