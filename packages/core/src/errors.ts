// The error a user's own mistake raises (a bad flag, a missing file, a bundle that is not one): its
// message is one sentence saying what to do; the CLIs print it alone and exit with `exitCode` (2).

/** A mistake of the user's, not a bug: printed as its one-sentence message, never as a stack trace. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * One sentence for a command line that node:util's parseArgs refused, naming the flag: an unknown one (with the
 * flags there are), a flag without its value (a value that starts with a dash is written `--flag=-1`), a value given
 * to a switch, a stray argument.
 * @example flagErrorMessage(err, ['data', 'epochs']) // "--epochs needs a value; …"
 */
export function flagErrorMessage(err: unknown, flags: readonly string[]): string {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0].replace(/\.$/, '');
  const flag = /'(-{1,2}[^' <]+)/.exec(message)?.[1];
  const known = flags.map((f) => `--${f}`).join(', ') || 'none';
  if (flag && /^Unknown option/.test(message)) return `Unknown option '${flag}' (known flags: ${known}).`;
  if (flag && /argument is ambiguous/.test(message))
    return `${flag} needs a value (one that starts with a dash is written ${flag}=-1).`;
  if (flag && /argument missing/.test(message)) return `${flag} needs a value.`;
  if (flag && /does not take an argument/.test(message)) return `${flag} is a switch and takes no value.`;
  const stray = /^Unexpected argument '([^']*)'/.exec(message);
  if (stray) return `Unexpected argument '${stray[1]}': this command takes flags only (known flags: ${known}).`;
  return `${message}.`;
}
