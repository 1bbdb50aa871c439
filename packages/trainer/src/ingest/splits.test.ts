import { describe, expect, it } from 'vitest';
import { SPLIT_TEST, SPLIT_TRAIN, SPLIT_VALID } from './dataset.ts';
import { applyTimeSplit, leaveLastOut, timeCutoffs } from './splits.ts';

describe('leave-last-out', () => {
  it('holds out the last positive for test and the one before for valid, with what follows them', () => {
    const positive = [1, 0, 1, 1, 0];
    const split = new Uint8Array(5).fill(9);
    expect(leaveLastOut(positive, 0, 5, split)).toEqual({ valid: true, test: true });
    expect([...split]).toEqual([SPLIT_TRAIN, SPLIT_TRAIN, SPLIT_VALID, SPLIT_TEST, SPLIT_TEST]);
  });
  it('works on a segment and leaves users with too few positives in train', () => {
    const positive = [1, 1, 0, 1, 0];
    const split = new Uint8Array(5).fill(9);
    expect(leaveLastOut(positive, 0, 2, split)).toEqual({ valid: false, test: true });
    expect(leaveLastOut(positive, 2, 5, split)).toEqual({ valid: false, test: false });
    expect([...split]).toEqual([SPLIT_TRAIN, SPLIT_TEST, SPLIT_TRAIN, SPLIT_TRAIN, SPLIT_TRAIN]);
  });
});

describe('time split', () => {
  it('cuts at the time quantiles, ties going to the later split', () => {
    const ts = Float64Array.from([5, 1, 2, 3, 4, 6, 7, 8, 9, 10]);
    const cut = timeCutoffs(ts, 0.2, 0.2);
    expect(cut).toEqual({ validFrom: 7, testFrom: 9 });
    const split = new Uint8Array(ts.length);
    const summary = applyTimeSplit(ts, cut, split);
    expect(summary).toMatchObject({ train: 6, valid: 2, test: 2 });
    expect([...split]).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 2, 2]);
  });
});
