// The progress module: bar lines, the JSON lines children send to `vireo start`, the piped cadence,
// and the stage lines (a live bar fed by a child, a summary per stage, "stopped" on Ctrl-C).
import { describe, expect, test } from 'vitest';
import { startFlagsMistake } from '../../bin/start-flags.mjs';
import {
  barLine,
  CPU_PREFIX,
  fmtSeconds,
  parseCpuLine,
  parseProgressLine,
  progress,
  reportCpuAtExit,
  Stages,
  truncate,
} from './progress.ts';

/** A stream that records what is written, as a terminal (isTTY) or a pipe. */
function sink(isTTY = false) {
  const out: string[] = [];
  return { out, stream: { isTTY, write: (s: string) => out.push(s) > 0 } };
}

describe('progress', () => {
  test('a bar line has the step, the fields, the elapsed time and an ETA', () => {
    const line = barLine({
      label: 'train',
      done: 25,
      total: 100,
      elapsed: 10,
      fields: { loss: 0.5, 'samples/s': 1234 },
    });
    expect(line).toContain('25% step 25/100');
    expect(line).toContain('loss 0.5000');
    expect(line).toContain('samples/s 1,234');
    expect(line).toContain('10 s');
    expect(line).toContain('eta 30 s'); // a quarter done in 10 s: 30 s to go
    expect(barLine({ label: 't', done: 4, total: 4, elapsed: 75, fields: {}, final: true })).not.toContain('eta');
    expect(fmtSeconds(75)).toBe('1 min 15 s');
    // Rounded before splitting: it printed "27 min 60 s" and "60 s".
    expect(fmtSeconds(27 * 60 + 59.6)).toBe('28 min 00 s');
    expect(fmtSeconds(59.7)).toBe('1 min 00 s');
    expect(fmtSeconds(9.96)).toBe('10 s');
    expect(fmtSeconds(9.94)).toBe('9.9 s');
  });

  test('piped, a bar writes at most a line every few seconds, and always its final line', () => {
    const { out, stream } = sink(false);
    const bar = progress('train', 1000, { stream, json: false });
    for (let i = 1; i <= 1000; i++) bar.update(i, { loss: 1 / i });
    bar.finish({ loss: 0.001 });
    expect(out).toHaveLength(2); // the first update, then the final line
    expect(out.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true);
    expect(out[1]).toContain('100% step 1000/1000');
  });

  test('for `vireo start`, a bar writes @progress JSON lines that parse back (even when --quiet)', () => {
    const { out, stream } = sink(false);
    const bar = progress('train ranking', 10, { stream, json: true, quiet: true });
    bar.update(3, { loss: 0.7 });
    bar.finish({ 'valid AUC': 0.7 });
    const reports = out.map((l) => parseProgressLine(l.trim()));
    expect(reports[0]).toMatchObject({ label: 'train ranking', done: 3, total: 10, fields: { loss: 0.7 } });
    expect(reports.at(-1)).toMatchObject({ done: 10, final: true });
    expect(parseProgressLine('wrote bundle/ (retrieval.safetensors)')).toBeNull();
    expect(parseProgressLine('@progress {not json')).toBeNull();
  });

  // `vireo publish` drew 'step 6723150/6723150' for the bytes it uploaded.
  test('a bar over bytes counts them as bytes, also after a @progress round trip', () => {
    const { out, stream } = sink(false);
    const bar = progress('publish vireo@1', 6_723_150, { stream, json: false, unit: 'bytes' });
    bar.finish();
    expect(out[0]).toContain('100% 6.7 MB of 6.7 MB');
    expect(out[0]).not.toContain('step');
    const piped = sink(false);
    progress('publish', 2_500, { stream: piped.stream, json: true, unit: 'bytes' }).finish();
    const report = parseProgressLine(piped.out[0].trim());
    expect(report && barLine(report)).toContain('2.5 kB of 2.5 kB');
  });

  test('truncate keeps a terminal line to one row without breaking its colours', () => {
    expect(truncate('\x1b[1mabcdef\x1b[0m', 3)).toBe('\x1b[1mabc\x1b[0m');
    expect(truncate('abc', 10)).toBe('abc');
  });
});

describe('Stages (vireo start)', () => {
  test('piped: a line per stage, the child bar every few seconds, a summary line, then stopped', async () => {
    const { out, stream } = sink(false);
    const stages = new Stages(2, stream, 30);
    stages.begin('data', 'synthetic world');
    stages.end('written');
    stages.begin('train', 'retrieval and ranking');
    expect(
      stages.feed('@progress {"label":"train retrieval","done":5,"total":20,"elapsed":5,"fields":{"loss":2}}'),
    ).toBe(true);
    expect(stages.feed('some log line')).toBe(false);
    await new Promise((r) => setTimeout(r, 120));
    stages.detail('retrieval NDCG@10 0.090');
    stages.stopped();
    const text = out.join('');
    expect(text).toMatch(/\[1\/2\] data +synthetic world …\n/);
    expect(text).toMatch(/\[1\/2\] data +synthetic world ✓ written \(\d/);
    expect(text).toMatch(/\[2\/2\] train +retrieval and ranking train retrieval .* 25% step 5\/20 · loss 2 ·/);
    expect(text).toContain('eta 15 s');
    expect(text).toContain('· retrieval NDCG@10 0.090');
    expect(text.trimEnd().endsWith('vireo start: stopped.')).toBe(true);
    expect(text).not.toContain('\r');
  });

  test("a stage's summary gives its children's CPU seconds beside the wall time", () => {
    const { out, stream } = sink(false);
    const stages = new Stages(2, stream);
    stages.begin('train', 'retrieval and ranking');
    expect(stages.feed(`${CPU_PREFIX}{"seconds":30.4}`)).toBe(true);
    expect(stages.feed(`${CPU_PREFIX}{"seconds":12}`)).toBe(true);
    stages.end('version 1');
    stages.begin('edge', 'local edge');
    stages.end('http://127.0.0.1:8787');
    const text = out.join('');
    expect(text).toMatch(/train +retrieval and ranking ✓ version 1 \([\d.]+ s, 42 CPU-s\)/);
    expect(text).toMatch(/edge +local edge ✓ http:\/\/127.0.0.1:8787 \([\d.]+ s\)\n/);
    expect(parseCpuLine('@cpu {"seconds":1.5}')).toBe(1.5);
    expect(parseCpuLine('@cpu {"seconds":"x"}')).toBeNull();
    expect(parseCpuLine('@cpu {oops')).toBeNull();
    expect(parseCpuLine('epoch 1: loss 2')).toBeNull();
  });

  test('a child of vireo start reports its CPU seconds at exit; run by hand it does not', () => {
    const lines: string[] = [];
    const before = process.listenerCount('exit');
    reportCpuAtExit({}, { write: (s: string) => lines.push(s) > 0 });
    expect(process.listenerCount('exit')).toBe(before);
    reportCpuAtExit({ VIREO_PROGRESS: 'json' }, { write: (s: string) => lines.push(s) > 0 });
    const listener = process.listeners('exit').at(-1) as (code: number) => void;
    process.removeListener('exit', listener);
    listener(0);
    expect(lines).toHaveLength(1);
    expect(parseCpuLine(lines[0].trim())).toBeGreaterThan(0);
  });

  test('a failure names its stage in one sentence', () => {
    const { out, stream } = sink(false);
    const stages = new Stages(1, stream);
    stages.begin('edge', 'local edge');
    stages.fail('edge', 'port 8787 is taken.');
    expect(out.join('')).toContain('vireo start: the edge stage failed: port 8787 is taken.');
  });
});

describe('start flags before anything is installed (scripts/bootstrap.mjs)', () => {
  test('a typo is one sentence naming the known flags; good flags pass', () => {
    expect(startFlagsMistake(['--epoch', '3'])).toMatch(/^Unknown option '--epoch' \(known flags: .*--epochs/);
    expect(startFlagsMistake(['--data'])).toMatch(/--data/);
    expect(startFlagsMistake(['--epochs', '2', '--no-open', '--data', 'movielens:/x'])).toBeNull();
  });
});
