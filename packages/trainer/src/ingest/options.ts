// What every source shares: output folder, split fractions, bad-row limit, and how to report.
import { progress, type Progress } from '../cli/progress.ts';
import { BadRows } from './errors.ts';

export interface IngestOptions {
  /** Output dataset folder. */
  out: string;
  /** Dataset name recorded in dataset.json (default: the source). */
  name?: string;
  /** More malformed rows than this stops the run (exit 1). */
  maxBadRows: number;
  /** Ranking split: the last fractions of rows by time for validation and test. */
  validFraction: number;
  testFraction: number;
  /** Retrieval split: positives a user needs to give one to valid (one fewer: test only). */
  minPositives: number;
  /** No progress bars. */
  quiet: boolean;
  /** Where notes for the user go (skipped rows); stderr in the CLI. */
  log: (line: string) => void;
}

export const DEFAULT_OPTIONS: Omit<IngestOptions, 'out'> = {
  maxBadRows: 10,
  validFraction: 0.1,
  testFraction: 0.1,
  minPositives: 3,
  quiet: false,
  log: () => {},
};

/**
 * A progress bar that only appears once the work has taken a second, so quick stages stay silent.
 * @example const bar = stage(opts, 'ratings', bytes); bar.update(done); bar.finish();
 */
export function stage(opts: Pick<IngestOptions, 'quiet'>, label: string, total: number): Progress {
  const start = performance.now();
  const bar = progress(label, total, { quiet: opts.quiet });
  let shown = false;
  return {
    update(done, fields) {
      if (!shown && performance.now() - start < 1000) return;
      shown = true;
      bar.update(done, fields);
    },
    finish(fields) {
      if (shown) bar.finish(fields);
    },
  };
}

/** The ledger of malformed rows for one run, logging each of the first few as it is found. */
export function badRowLedger(opts: Pick<IngestOptions, 'maxBadRows' | 'log'>): BadRows {
  const ledger = new BadRows(opts.maxBadRows);
  const add = ledger.add.bind(ledger);
  ledger.add = (file, line, reason) => {
    if (ledger.samples.length < ledger.keep) opts.log(`skipped ${file} line ${line}: ${reason}`);
    add(file, line, reason);
  };
  return ledger;
}
