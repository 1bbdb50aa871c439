// The CLIs' sentence for a command line node:util's parseArgs refuses. Before, `vireo train retrieval --epochs -1`
// printed "Option '--epochs' argument is ambiguous (known flags: …)", a list that holds the flag it complains of.
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { flagErrorMessage } from './errors.ts';

const options = { data: { type: 'string' }, epochs: { type: 'string' }, json: { type: 'boolean' } } as const;
const refusal = (args: string[]) => {
  try {
    parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (err) {
    return flagErrorMessage(err, Object.keys(options));
  }
  throw new Error(`parseArgs accepted ${args.join(' ')}`);
};

describe('flagErrorMessage', () => {
  it.each([
    [['--epoch', '3'], "Unknown option '--epoch': did you mean --epochs? (known flags: --data, --epochs, --json)."],
    // `vireo ingest --input DIR` (predict's name for it): ingest calls it --path, so it says so.
    [['--input', 'x'], "Unknown option '--input': did you mean --data? (known flags: --data, --epochs, --json)."],
    [['--seed', '1'], "Unknown option '--seed' (known flags: --data, --epochs, --json)."],
    [['--epochs', '-1'], '--epochs needs a value (one that starts with a dash is written --epochs=-1).'],
    [['--data', '--json'], '--data needs a value (one that starts with a dash is written --data=-1).'],
    [['--data'], '--data needs a value.'],
    [['--json=yes'], '--json is a switch and takes no value.'],
    [['stray'], "Unexpected argument 'stray': this command takes flags only (known flags: --data, --epochs, --json)."],
  ])('%j: %s', (args, sentence) => {
    expect(refusal(args)).toBe(sentence);
  });

  it('passes through what it does not know, as one sentence', () => {
    expect(flagErrorMessage(new Error('Something else.\nmore'), [])).toBe('Something else.');
  });
});
