// The two splits every dataset records. Retrieval: per user, leave the last positive out for test
// and the one before for validation, by time. Ranking: global time cut-offs, so that the model is
// always evaluated on the future of what it was trained on.
import {
  SPLIT_TEST,
  SPLIT_TRAIN,
  SPLIT_VALID,
  type RankingSplitSummary,
  type RetrievalSplitSummary,
} from './dataset.ts';

/**
 * Leave-last-out over one user's events, rows [start, end) in time order: events from the last
 * positive on are test, from the second-to-last positive up to it are valid, the rest train.
 * A user with fewer than `minPositives` positives keeps everything in train (2 → test only).
 * Returns which held-out sets the user got.
 * @example leaveLastOut(positive, 0, 5, split) // positive = [1,0,1,1,0] → split = [0,0,1,2,2]
 */
export function leaveLastOut(
  positive: ArrayLike<number>,
  start: number,
  end: number,
  split: Uint8Array,
  minPositives = 3,
): { valid: boolean; test: boolean } {
  let last = -1;
  let previous = -1;
  let count = 0;
  for (let e = start; e < end; e++) {
    if (positive[e]) {
      previous = last;
      last = e;
      count++;
    }
  }
  split.fill(SPLIT_TRAIN, start, end);
  if (count < Math.min(2, minPositives)) return { valid: false, test: false };
  split.fill(SPLIT_TEST, last, end);
  if (count < minPositives) return { valid: false, test: true };
  split.fill(SPLIT_VALID, previous, last);
  return { valid: true, test: true };
}

/** Accumulates the retrieval split summary user by user. */
export class RetrievalSplitCounter {
  readonly summary: RetrievalSplitSummary;
  constructor(minPositives: number) {
    this.summary = {
      method: 'leave-last-out',
      minPositives,
      train: 0,
      valid: 0,
      test: 0,
      usersWithTest: 0,
      usersWithValid: 0,
    };
  }
  /** Applies leave-last-out to rows [start, end) and counts them. */
  user(positive: ArrayLike<number>, start: number, end: number, split: Uint8Array): void {
    const got = leaveLastOut(positive, start, end, split, this.summary.minPositives);
    if (got.test) this.summary.usersWithTest++;
    if (got.valid) this.summary.usersWithValid++;
    for (let e = start; e < end; e++) {
      if (split[e] === SPLIT_TRAIN) this.summary.train++;
      else if (split[e] === SPLIT_VALID) this.summary.valid++;
      else this.summary.test++;
    }
  }
}

/**
 * The time cut-offs that leave the last `validFraction` and `testFraction` of rows (by time) for
 * validation and test. Rows at a cut-off time go to the later split.
 * @example timeCutoffs(ts, 0.1, 0.1) // { validFrom: 80th percentile time, testFrom: 90th }
 */
export function timeCutoffs(
  ts: Float64Array,
  validFraction: number,
  testFraction: number,
): { validFrom: number; testFrom: number } {
  if (ts.length === 0) return { validFrom: Infinity, testFrom: Infinity };
  const sorted = Float64Array.from(ts).sort();
  const at = (fraction: number) =>
    fraction <= 0
      ? Infinity
      : sorted[Math.max(0, Math.min(sorted.length - 1, Math.floor(sorted.length * (1 - fraction))))];
  return { validFrom: at(validFraction + testFraction), testFrom: at(testFraction) };
}

/** Writes the time split of every row into `split` and returns its summary. */
export function applyTimeSplit(
  ts: ArrayLike<number>,
  cutoffs: { validFrom: number; testFrom: number },
  split: Uint8Array,
): RankingSplitSummary {
  const summary: RankingSplitSummary = { method: 'time', ...cutoffs, train: 0, valid: 0, test: 0 };
  for (let r = 0; r < ts.length; r++) {
    const s = timeSplitOf(ts[r], cutoffs);
    split[r] = s;
    if (s === SPLIT_TRAIN) summary.train++;
    else if (s === SPLIT_VALID) summary.valid++;
    else summary.test++;
  }
  return summary;
}

/** The split code of one time. */
export function timeSplitOf(t: number, cutoffs: { validFrom: number; testFrom: number }): number {
  return t >= cutoffs.testFrom ? SPLIT_TEST : t >= cutoffs.validFrom ? SPLIT_VALID : SPLIT_TRAIN;
}
