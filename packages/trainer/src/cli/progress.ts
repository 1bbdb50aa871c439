// A progress bar for long work: rate, ETA and extra fields (loss, samples/s). Redraws in place on a
// TTY; elsewhere one line every few seconds so that CI logs stay readable. Always on stderr.

export interface Progress {
  /** Advances to `done` of `total` and shows the given fields. */
  update(done: number, fields?: Record<string, string | number>): void;
  /** Ends the bar with a final line. */
  finish(fields?: Record<string, string | number>): void;
}

function fmt(fields: Record<string, string | number> = {}): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(4)) : v}`)
    .join('  ');
}

/**
 * Starts a progress bar labelled `label` over `total` units.
 * @example const bar = progress('train', steps); bar.update(i, { loss }); bar.finish();
 */
export function progress(
  label: string,
  total: number,
  opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {},
): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY);
  const start = performance.now();
  let lastDraw = 0;
  const draw = (done: number, fields?: Record<string, string | number>, final = false) => {
    if (opts.quiet) return;
    const now = performance.now();
    if (!final && now - lastDraw < (tty ? 100 : 5000)) return;
    lastDraw = now;
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const elapsed = (now - start) / 1000;
    const eta = frac > 0 ? elapsed * (1 / frac - 1) : 0;
    const bar = '█'.repeat(Math.round(frac * 24)).padEnd(24, '░');
    const line =
      `${label} ${bar} ${(frac * 100).toFixed(0).padStart(3)}%  ${done}/${total}  ` +
      `${elapsed.toFixed(1)}s${final ? '' : ` eta ${eta.toFixed(0)}s`}  ${fmt(fields)}`;
    stream.write(tty ? `\r\x1b[2K${line}${final ? '\n' : ''}` : `${line}\n`);
  };
  return { update: (done, fields) => draw(done, fields), finish: (fields) => draw(total, fields, true) };
}
