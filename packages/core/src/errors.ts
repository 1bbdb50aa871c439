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
