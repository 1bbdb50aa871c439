// Argument parsing shared by every `vireo` command: strict flags, one-sentence errors.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake the user made (bad flag, missing file, bad data): printed as one line, exit code 2. */
import { UsageError, flagErrorMessage } from '@vireo/core';

export { UsageError };

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses argv against the declared options; unknown flags and missing values become a UsageError.
 * @example const { values } = parseFlags(argv, { json: { type: 'boolean' } }, 'vireo doctor');
 */
export function parseFlags<O extends Options>(argv: string[], options: O, command: string, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (err) {
    void command;
    throw new UsageError(flagErrorMessage(err, Object.keys(options)));
  }
}

/** Parses a numeric flag, failing with a sentence that names the flag. */
export function numberFlag(
  value: string | undefined,
  name: string,
  fallback: number,
  opts: { integer?: boolean; min?: number; max?: number } = {},
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  const ok =
    Number.isFinite(n) &&
    (!opts.integer || Number.isInteger(n)) &&
    (opts.min === undefined || n >= opts.min) &&
    (opts.max === undefined || n <= opts.max);
  if (!ok) {
    const kind = opts.integer ? 'an integer' : 'a number';
    const range =
      opts.min !== undefined || opts.max !== undefined ? ` in [${opts.min ?? '-∞'}, ${opts.max ?? '∞'}]` : '';
    throw new UsageError(`--${name} must be ${kind}${range}, got '${value}'.`);
  }
  return n;
}
