// Errors ingest reports to the user (one sentence, no stack) and the bad-row ledger every source
// shares: a malformed row is counted and skipped, the first few are kept with their line numbers,
// and more than `maxBadRows` stops the run.
import { UsageError } from '../cli/args.ts';

/** Bad input the user can fix: a missing file, a wrong layout, a flag. Exit code 2. */
export class IngestError extends UsageError {
  constructor(message: string, exitCode = 2) {
    super(message, exitCode);
    this.name = 'IngestError';
  }
}

/** One skipped row, as shown to the user and recorded in dataset.json. */
export interface BadRow {
  file: string;
  /** 1-based line number in the file (for Parquet: 1-based row number). */
  line: number;
  reason: string;
}

/** Counts malformed rows, keeps the first `keep`, and fails past `maxBadRows`. */
export class BadRows {
  count = 0;
  readonly samples: BadRow[] = [];
  /** Lines already counted, so that a second pass over the same file can skip them silently. */
  readonly lines = new Map<string, Set<number>>();

  constructor(
    readonly maxBadRows: number,
    readonly keep = 5,
  ) {}

  /** Records a bad row; throws an IngestError (exit 1) once there are more than `maxBadRows`. */
  add(file: string, line: number, reason: string): void {
    this.count++;
    let set = this.lines.get(file);
    if (!set) this.lines.set(file, (set = new Set()));
    set.add(line);
    if (this.samples.length < this.keep) this.samples.push({ file, line, reason });
    if (this.count > this.maxBadRows) {
      const first = this.samples[0];
      throw new IngestError(
        `more than ${this.maxBadRows} malformed rows (the first: ${first.file} ` +
          `line ${first.line}: ${first.reason}); fix the input or raise --max-bad-rows.`,
        1,
      );
    }
  }

  /** True when `line` of `file` was counted bad in an earlier pass. */
  has(file: string, line: number): boolean {
    return this.lines.get(file)?.has(line) ?? false;
  }

  /** The summary written to dataset.json. */
  toJSON(): { count: number; samples: BadRow[] } {
    return { count: this.count, samples: this.samples };
  }
}
