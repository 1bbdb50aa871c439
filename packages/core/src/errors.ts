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
  if (flag && /^Unknown option/.test(message)) {
    const near = nearestFlag(flag.replace(/^-+/, ''), flags);
    return `Unknown option '${flag}'${near ? `: did you mean --${near}?` : ''} (known flags: ${known}).`;
  }
  if (flag && /argument is ambiguous/.test(message))
    return `${flag} needs a value (one that starts with a dash is written ${flag}=-1).`;
  if (flag && /argument missing/.test(message)) return `${flag} needs a value.`;
  if (flag && /does not take an argument/.test(message)) return `${flag} is a switch and takes no value.`;
  const stray = /^Unexpected argument '([^']*)'/.exec(message);
  if (stray) return `Unexpected argument '${stray[1]}': this command takes flags only (known flags: ${known}).`;
  return `${message}.`;
}

/** Names other commands use for what a flag here is called: `vireo predict --input` is `vireo ingest --path`. */
const FLAG_SYNONYMS: Record<string, readonly string[]> = {
  input: ['path', 'data', 'bundle'],
  path: ['input', 'data'],
  file: ['path', 'input'],
  dir: ['data', 'out', 'bundle'],
  output: ['out'],
  model: ['bundle', 'name'],
  url: ['edge'],
};

/** The known flag a mistyped one most likely meant: one or two edits away, or a name used elsewhere for it. */
function nearestFlag(name: string, flags: readonly string[]): string | undefined {
  const synonym = FLAG_SYNONYMS[name]?.find((s) => flags.includes(s));
  if (synonym) return synonym;
  let best: string | undefined;
  let bestDistance = name.length <= 4 ? 1 : 2;
  for (const f of flags) {
    const d = editDistance(name, f);
    if (d <= bestDistance && (best === undefined || d < editDistance(name, best))) [best, bestDistance] = [f, d];
  }
  return best;
}

/** Levenshtein distance between two short strings. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}
