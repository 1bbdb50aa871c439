// The early-stopping criteria (fit.ts selectionScore; docs/ARCHITECTURE.md §4, "Which snapshot"): on two snapshots
// with the same click predictions, the CTR AUC cannot tell them apart, while the criteria that include the cvr head
// prefer the one whose cvr improved; without a cvr head every criterion is its click part.
import { describe, expect, it } from 'vitest';
import { auc, createRng, logLoss } from '@vireo/core';
import { checkpointOptions, type FitOptions, selectionScore } from './fit.ts';

// 400 rows: a click rate near 0.5 and conversions (only on clicks) that follow a hidden score q.
const rng = createRng(7);
const n = 400;
const q = Float64Array.from({ length: n }, () => rng.next());
const click = Float64Array.from({ length: n }, () => (rng.next() < 0.5 ? 1 : 0));
const conversion = Float64Array.from(q, (v, i) => (click[i] && rng.next() < v ? 1 : 0));
const y = { click, conversion };
const pCtr = Float64Array.from(click, (c) =>
  Math.min(0.9, Math.max(0.1, 0.5 + (c - 0.5) * 0.4 + (rng.next() - 0.5) * 0.6)),
);
const cvrBefore = Float64Array.from({ length: n }, () => 0.2 + 0.6 * rng.next()); // knows nothing
const cvrAfter = Float64Array.from(q, (v) => 0.1 + 0.8 * v); // the hidden score

describe('selectionScore', () => {
  it('ctr-auc is the click AUC and ignores the cvr head', () => {
    expect(selectionScore('ctr-auc', y, pCtr, cvrBefore)).toBe(auc(click, pCtr));
    expect(selectionScore('ctr-auc', y, pCtr, cvrAfter)).toBe(selectionScore('ctr-auc', y, pCtr, cvrBefore));
  });

  it('auc-mean prefers the snapshot where the cvr head improved', () => {
    const before = selectionScore('auc-mean', y, pCtr, cvrBefore);
    const after = selectionScore('auc-mean', y, pCtr, cvrAfter);
    expect(after).toBeGreaterThan(before + 0.05);
    const clicked = Array.from(click.keys()).filter((i) => click[i]);
    const cvrAuc = auc(
      clicked.map((i) => conversion[i]),
      clicked.map((i) => cvrAfter[i]),
    );
    expect(after).toBeCloseTo((auc(click, pCtr) + cvrAuc) / 2, 12);
  });

  it('log-loss is minus the click and ctcvr log losses, and prefers the better cvr head', () => {
    const ctcvr = Float64Array.from(pCtr, (p, i) => p * cvrAfter[i]);
    expect(selectionScore('log-loss', y, pCtr, cvrAfter)).toBeCloseTo(
      -(logLoss(click, pCtr) + logLoss(conversion, ctcvr)),
      12,
    );
    expect(selectionScore('log-loss', y, pCtr, cvrAfter)).toBeGreaterThan(
      selectionScore('log-loss', y, pCtr, cvrBefore),
    );
  });

  it('without a cvr head every criterion is its click part', () => {
    expect(selectionScore('auc-mean', y, pCtr, null)).toBe(auc(click, pCtr));
    expect(selectionScore('log-loss', y, pCtr, null)).toBe(-logLoss(click, pCtr));
  });
});

describe('checkpointOptions', () => {
  // A checkpoint written before --select and the cvr loss weights existed stores options without them; --resume
  // compares its options with the run's, so it must read them as what that checkpoint trained with.
  const mine = { seed: 1, patience: 4, select: 'ctr-auc', cvrWeight: 0 } as unknown as FitOptions;

  it('fills what an older checkpoint lacks with the values it trained with, only for options the run has', () => {
    expect(checkpointOptions({ seed: 1, patience: 4 } as Partial<FitOptions>, mine)).toEqual({
      seed: 1,
      patience: 4,
      select: 'ctr-auc',
      cvrWeight: 0,
    });
  });

  it('keeps what a newer checkpoint stored, so other flags are still refused', () => {
    const saved = { seed: 1, patience: 4, select: 'log-loss', cvrWeight: 1 } as Partial<FitOptions>;
    expect(checkpointOptions(saved, mine)).toEqual(saved);
  });
});
