// Types of start-flags.mjs (plain JavaScript so that scripts/bootstrap.mjs can load it before any install).
type S = { readonly type: 'string' };
type B = { readonly type: 'boolean' };

export declare const START_FLAGS: {
  readonly data: S;
  readonly retrain: B;
  readonly state: S;
  readonly name: S;
  readonly port: S;
  readonly 'demo-port': S;
  readonly host: S;
  readonly users: S;
  readonly items: S;
  readonly events: S;
  readonly categories: S;
  readonly epochs: S;
  readonly 'ranking-epochs': S;
  readonly batch: S;
  readonly 'ranking-batch': S;
  readonly 'no-open': B;
  readonly 'no-history': B;
  readonly 'no-refresh': B;
  readonly help: { readonly type: 'boolean'; readonly short: 'h' };
};

/** The one-sentence mistake in `vireo start`'s arguments (an unknown flag, a missing value), or null. */
export declare function startFlagsMistake(argv: string[]): string | null;
