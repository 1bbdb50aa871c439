// `vireo start`'s flags, in plain JavaScript so that scripts/bootstrap.mjs (`npm start`) can check
// them before it installs anything: a typo costs a second, not an install. start.ts parses with the
// same table (and checks the values).
import { parseArgs } from 'node:util';

export const START_FLAGS = /** @type {const} */ ({
  data: { type: 'string' },
  retrain: { type: 'boolean' },
  state: { type: 'string' },
  name: { type: 'string' },
  port: { type: 'string' },
  'demo-port': { type: 'string' },
  host: { type: 'string' },
  users: { type: 'string' },
  items: { type: 'string' },
  events: { type: 'string' },
  categories: { type: 'string' },
  epochs: { type: 'string' },
  'ranking-epochs': { type: 'string' },
  batch: { type: 'string' },
  'ranking-batch': { type: 'string' },
  'no-open': { type: 'boolean' },
  'no-history': { type: 'boolean' },
  'no-refresh': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
});

/**
 * The one-sentence mistake in `vireo start`'s arguments (an unknown flag, a missing value), or null.
 * @param {string[]} argv
 * @returns {string | null}
 */
export function startFlagsMistake(argv) {
  try {
    parseArgs({ args: argv, options: START_FLAGS, strict: true, allowPositionals: false });
    return null;
  } catch (err) {
    const known = Object.keys(START_FLAGS)
      .map((k) => `--${k}`)
      .join(', ');
    return `${String(/** @type {Error} */ (err).message)
      .split('\n')[0]
      .replace(/\.$/, '')} (known flags: ${known}).`;
  }
}
