// Progress for everything a person waits on, in one module (always on stderr):
//   progress()  a bar for long work in one process: step, rate, ETA and fields (loss, samples/s).
//               On a TTY it redraws in place; elsewhere one line every few seconds, so that CI logs
//               and `npm start | tee log` stay readable. Under VIREO_PROGRESS=json (set by `vireo start`
//               for its children) it writes one `@progress {json}` line at most every 250 ms instead.
//   Stages      `vireo start`'s stage lines: "[2/6] train …", a live bar fed by its children's
//               `@progress` lines (a line every few seconds when piped) and a summary line per stage.

export type Fields = Record<string, string | number>;

export interface Progress {
  /** Advances to `done` of `total` and shows the given fields. */
  update(done: number, fields?: Fields): void;
  /** Ends the bar with a final line. */
  finish(fields?: Fields): void;
}

/** What a child process reports about its bar: one JSON object per `@progress` line. */
export interface ProgressReport {
  label: string;
  done: number;
  total: number;
  /** Seconds since the bar started. */
  elapsed: number;
  fields: Fields;
  final?: boolean;
  /** What `done` and `total` count: training steps (the default) or bytes (an upload). */
  unit?: 'step' | 'bytes';
}

/** Where bars and stages write: process.stderr, or a fake in tests. */
export interface StageStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

export const PROGRESS_PREFIX = '@progress ';
/** Milliseconds between lines when the output is not a terminal. */
export const PIPED_EVERY_MS = 5000;

function fmtValue(v: string | number): string {
  if (typeof v !== 'number') return v;
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(4);
}

function fmtFields(fields: Fields = {}): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k} ${fmtValue(v)}`)
    .join(' · ');
}

/** "812 B", "6.7 MB". */
export function fmtBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const [v, u] = n < 1e6 ? [n / 1e3, 'kB'] : n < 1e9 ? [n / 1e6, 'MB'] : [n / 1e9, 'GB'];
  return `${v.toFixed(v < 10 ? 1 : 0)} ${u}`;
}

/** "42 s", "3 min 05 s". */
export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 9.95) return `${s.toFixed(1)} s`;
  const whole = Math.round(s); // rounded first, so that 59.6 s past a minute carries into the next one
  if (whole < 60) return `${whole} s`;
  const m = Math.floor(whole / 60);
  return `${m} min ${String(whole - 60 * m).padStart(2, '0')} s`;
}

/**
 * One bar line: `label ███░░ 45% step 120/300 · loss 0.52 · samples/s 1,234 · 12 s · eta 15 s`.
 * @example barLine({ label: 'train', done: 1, total: 4, elapsed: 2, fields: {} }) // 'train ██░░ 25% …'
 */
export function barLine(r: ProgressReport, width = 20): string {
  const frac = r.total > 0 ? Math.min(1, Math.max(0, r.done / r.total)) : 1;
  const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '░');
  const eta = frac > 0 && frac < 1 ? r.elapsed * (1 / frac - 1) : null;
  const fields = fmtFields(r.fields);
  const count = r.unit === 'bytes' ? `${fmtBytes(r.done)} of ${fmtBytes(r.total)}` : `step ${r.done}/${r.total}`;
  return (
    `${r.label} ${bar} ${(frac * 100).toFixed(0).padStart(3)}% ${count}` +
    `${fields ? ` · ${fields}` : ''} · ${fmtSeconds(r.elapsed)}` +
    `${r.final ? '' : ` · eta ${eta === null ? '?' : fmtSeconds(eta)}`}`
  );
}

/** Cuts `s` to `width` visible characters, keeping its colour codes (and resetting them). */
export function truncate(s: string, width: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const esc = /^\x1b\[[0-9;]*m/.exec(s.slice(i));
    if (esc) {
      out += esc[0];
      i += esc[0].length - 1;
      continue;
    }
    if (visible >= width) return `${out}\x1b[0m`;
    out += s[i];
    visible++;
  }
  return out;
}

/** Parses a child's `@progress {json}` line; null for any other line. */
export function parseProgressLine(line: string): ProgressReport | null {
  const at = line.indexOf(PROGRESS_PREFIX);
  if (at < 0) return null;
  try {
    const r = JSON.parse(line.slice(at + PROGRESS_PREFIX.length)) as ProgressReport;
    return typeof r.label === 'string' && Number.isFinite(r.done) && Number.isFinite(r.total) ? r : null;
  } catch {
    return null;
  }
}

/** A child's CPU time at its exit, for `vireo start`'s stage summaries: `@cpu {"seconds":12.3}`. */
export const CPU_PREFIX = '@cpu ';

/** This process's CPU seconds so far: every thread (on SwiftShader the shaders run in Dawn's threads). */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Under VIREO_PROGRESS=json (a child of `vireo start`), writes a `@cpu` line when this process exits. */
export function reportCpuAtExit(env = process.env, stream: StageStream = process.stderr): void {
  if (env.VIREO_PROGRESS !== 'json') return;
  process.once('exit', () => stream.write(`${CPU_PREFIX}${JSON.stringify({ seconds: cpuSeconds() })}\n`));
}

/** The seconds of a `@cpu` line, or null for any other line. */
export function parseCpuLine(line: string): number | null {
  if (!line.startsWith(CPU_PREFIX)) return null;
  try {
    const seconds = (JSON.parse(line.slice(CPU_PREFIX.length)) as { seconds?: unknown }).seconds;
    return typeof seconds === 'number' && Number.isFinite(seconds) ? seconds : null;
  } catch {
    return null;
  }
}

/**
 * Starts a progress bar labelled `label` over `total` units.
 * @example const bar = progress('train', steps); bar.update(i, { loss }); bar.finish();
 */
export function progress(
  label: string,
  total: number,
  opts: { quiet?: boolean; stream?: StageStream; json?: boolean; unit?: 'step' | 'bytes' } = {},
): Progress {
  const stream = opts.stream ?? process.stderr;
  const json = opts.json ?? process.env.VIREO_PROGRESS === 'json';
  const tty = Boolean(stream.isTTY) && !json;
  const start = performance.now();
  let lastDraw = Number.NEGATIVE_INFINITY;
  const draw = (done: number, fields: Fields = {}, final = false) => {
    if (opts.quiet && !json) return;
    const now = performance.now();
    if (!final && now - lastDraw < (json ? 250 : tty ? 100 : PIPED_EVERY_MS)) return;
    lastDraw = now;
    const r: ProgressReport = {
      label,
      done,
      total,
      elapsed: (now - start) / 1000,
      fields,
      ...(final ? { final } : {}),
      ...(opts.unit && opts.unit !== 'step' ? { unit: opts.unit } : {}),
    };
    if (json) stream.write(`${PROGRESS_PREFIX}${JSON.stringify(r)}\n`);
    else stream.write(tty ? `\r\x1b[2K${barLine(r, 24)}${final ? '\n' : ''}` : `${barLine(r, 24)}\n`);
  };
  return { update: (done, fields) => draw(done, fields), finish: (fields) => draw(total, fields, true) };
}

// ---------------------------------------------------------------------------------------------
// Stages of `vireo start`

export class Stages {
  private index = 0;
  private current: {
    prefix: string;
    t0: number;
    note: string;
    /** The running bars by label (two children may train at once). */
    bars: Map<string, ProgressReport>;
    lastLine: number;
    timer: ReturnType<typeof setInterval> | null;
    /** CPU seconds of the stage's children that have exited (their `@cpu` lines). */
    cpu: number;
    /** This process's CPU seconds when the stage began. */
    cpu0: number;
  } | null = null;
  private readonly tty: boolean;

  constructor(
    private readonly total: number,
    private readonly stream: StageStream = process.stderr,
    private readonly pipedEveryMs = PIPED_EVERY_MS,
    /** Whether a stage's CPU time includes this process's own (`vireo start`: yes; tests: no). */
    private readonly ownCpu = false,
  ) {
    this.tty = stream.isTTY === true;
  }

  private style(code: string, s: string): string {
    return this.tty ? `\x1b[${code}m${s}\x1b[0m` : s;
  }
  bold = (s: string) => this.style('1', s);
  dim = (s: string) => this.style('2', s);
  green = (s: string) => this.style('32', s);
  red = (s: string) => this.style('31', s);

  /** Starts the next stage: on a TTY a line that redraws; piped, a line now and one every few seconds. */
  begin(name: string, what: string): void {
    this.index++;
    const prefix = `${this.dim(`[${this.index}/${this.total}]`)} ${this.bold(name.padEnd(8))} ${what}`;
    const timer = setInterval(() => this.tick(), this.tty ? 250 : Math.min(1000, this.pipedEveryMs));
    timer.unref?.();
    this.current = {
      prefix,
      t0: Date.now(),
      note: '',
      bars: new Map(),
      lastLine: Date.now(),
      timer,
      cpu: 0,
      cpu0: this.ownCpu ? cpuSeconds() : 0,
    };
    if (this.tty) this.redraw();
    else this.stream.write(`${prefix} …\n`);
  }

  /** A free-text note on the running stage (shown until the next note or bar). */
  note(fragment: string): void {
    if (!this.current) return;
    this.current.note = fragment.trim().slice(0, 80);
  }

  /** The running stage's bar (from this process, or a child's `@progress` line). */
  bar(r: ProgressReport): void {
    if (!this.current) return;
    this.current.bars.set(r.label, r);
    this.current.note = '';
  }

  /**
   * Takes one line of a child's output: a progress report feeds the bar, a `@cpu` line adds to the
   * stage's CPU time; returns whether it was either.
   */
  feed(line: string): boolean {
    const cpu = parseCpuLine(line);
    if (cpu !== null) {
      if (this.current) this.current.cpu += cpu;
      return true;
    }
    const r = parseProgressLine(line);
    if (r) this.bar(r);
    return r !== null;
  }

  /** A summary line inside the running stage (e.g. one model of the train stage done). */
  detail(text: string): void {
    if (!this.current) return;
    this.stream.write(`${this.tty ? '\r\x1b[2K' : ''}         ${this.green('·')} ${text}\n`);
    if (this.tty) this.redraw();
  }

  private status(): string {
    const c = this.current!;
    const s = (Date.now() - c.t0) / 1000;
    if (c.bars.size > 0) {
      const bars = [...c.bars.values()].map((r) => barLine(r, c.bars.size > 1 ? 10 : 20));
      return `${bars.join(' │ ')} ${this.dim(`(stage ${fmtSeconds(s)})`)}`;
    }
    return this.dim(`${fmtSeconds(s)}${c.note ? ` ${c.note}` : ''}`);
  }

  private tick(): void {
    const c = this.current;
    if (!c) return;
    if (this.tty) {
      this.redraw();
      return;
    }
    if (Date.now() - c.lastLine < this.pipedEveryMs) return;
    c.lastLine = Date.now();
    this.stream.write(`${c.prefix} ${this.status()}\n`);
  }

  private redraw(): void {
    const c = this.current;
    if (!c) return;
    // One terminal row, or the \r redraw would leave a trail of wrapped lines.
    const columns = (this.stream as { columns?: number }).columns ?? 160;
    const line = `${c.prefix} ${this.status()}`;
    this.stream.write(`\r\x1b[2K${truncate(line, columns - 1)}`);
  }

  /** Ends the running stage with its summary line. */
  end(result: string): void {
    const c = this.current;
    if (!c) return;
    if (c.timer) clearInterval(c.timer);
    const s = (Date.now() - c.t0) / 1000;
    // CPU seconds beside the wall time: what the stage costs on an idle machine, however loaded this one is.
    const cpu = c.cpu + (this.ownCpu ? cpuSeconds() - c.cpu0 : 0);
    const took = `${fmtSeconds(s)}${cpu >= 0.05 ? `, ${cpu.toFixed(cpu < 10 ? 1 : 0)} CPU-s` : ''}`;
    this.stream.write(
      `${this.tty ? '\r\x1b[2K' : ''}${c.prefix} ${this.green('✓')} ${result} ${this.dim(`(${took})`)}\n`,
    );
    this.current = null;
  }

  /** Ends the running stage with a failure line and the one-sentence reason. */
  fail(stage: string, why: string): void {
    const c = this.current;
    if (c?.timer) clearInterval(c.timer);
    this.stream.write(
      `${this.tty && c ? '\r\x1b[2K' : ''}${c ? `${c.prefix} ${this.red('✗')}\n` : ''}` +
        `${this.red(this.bold(`vireo start: the ${stage} stage failed: ${why}`))}\n`,
    );
    this.current = null;
  }

  /** Ends the running stage, if any, because the user stopped it (Ctrl-C). */
  stopped(): void {
    const c = this.current;
    if (c?.timer) clearInterval(c.timer);
    this.stream.write(`${this.tty ? '\r\x1b[2K' : ''}${c ? `${c.prefix} ${this.dim('stopped')}\n` : ''}`);
    this.stream.write('vireo start: stopped.\n');
    this.current = null;
  }
}
