// One benchmark harness: warm up, then time many runs and report the median and P99.
// Speed is never asserted in tests; it is measured here, beside a peer measured in the same run.

export interface Timing {
  /** Milliseconds per run. */
  median: number;
  p99: number;
  runs: number;
}

export interface MeasureOptions {
  warmup?: number;
  /** At least this many timed runs… */
  minRuns?: number;
  /** …and keep going until this many milliseconds have passed (capped by maxRuns). */
  minMs?: number;
  maxRuns?: number;
}

/** The q-quantile (0..1) of sorted values, nearest rank. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * Times `fn` (awaited) after warm-up; returns median and P99 in milliseconds.
 * @example const t = await measure(() => gpuCall(), { warmup: 5, minRuns: 30 });
 */
export async function measure(fn: () => unknown, opts: MeasureOptions = {}): Promise<Timing> {
  const { warmup = 3, minRuns = 10, minMs = 300, maxRuns = 1000 } = opts;
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < maxRuns && (times.length < minRuns || performance.now() - start < minMs)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: quantile(times, 0.5), p99: quantile(times, 0.99), runs: times.length };
}

/** Formats a table of rows (arrays of cells) with a header, right-aligning numbers. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmtNum(c) : c)))];
  const widths = header.map((_, j) => Math.max(...cells.map((r) => String(r[j] ?? '').length)));
  const line = (r: (string | number)[]) => '| ' + r.map((c, j) => String(c).padEnd(widths[j])).join(' | ') + ' |';
  return [line(cells[0]), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...cells.slice(1).map(line)].join(
    '\n',
  );
}

/** Numbers for tables: 3 significant digits, no exponent for ordinary magnitudes. */
export function fmtNum(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return '0';
  const a = Math.abs(n);
  if (a >= 1000) return n.toFixed(0);
  if (a >= 1e-3) return n.toPrecision(3);
  return n.toExponential(2);
}
