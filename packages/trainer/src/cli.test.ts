// The CLI's rough edges as a new user meets them: `vireo --version`, a --data folder that does not
// exist, one default synthetic world for `vireo ingest` and `vireo start`, every command's --help, every command a
// message names, and an output path that is a file (one sentence and exit 2 before any work, not a Node stack trace
// after training started).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capture } from '@vireo/testkit/capture';
import { main } from './cli.ts';
import { DEFAULT_START } from './commands/start.ts';
import { loadDataset } from './ingest/dataset.ts';
import { ingestSynthetic, START_WORLD } from './ingest/synthetic.ts';
import { DEFAULT_OPTIONS } from './ingest/options.ts';

describe('vireo CLI', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const r = await capture(() => main(['--version']));
    expect(r).toEqual({ code: 0, out: `vireo ${version}\n`, err: '' });
  });

  it('a --data folder that does not exist says so', () => {
    expect(() => loadDataset('/nonexistent/vireo-data')).toThrow(/\/nonexistent\/vireo-data does not exist/);
  });

  it('ingest and start share one default world', () => {
    expect(DEFAULT_START).toMatchObject(START_WORLD);
  });

  // `vireo train ranking --help` printed "(default ${DEFAULT_CVR_WEIGHT})": an escaped placeholder, not the value.
  // The commands come from the CLI itself (`vireo --help`, then `usage: vireo train retrieval|ranking` for the
  // subcommands), so a new command is checked without anyone listing it here.
  it('every command and subcommand --help gives its values, not placeholders', async () => {
    const top = await capture(() => main(['--help']));
    const names = [...top.out.matchAll(/^ {2}vireo (\S+) /gm)].map((m) => m[1]);
    expect(names).toEqual(expect.arrayContaining(['start', 'ingest', 'train', 'eval', 'predict', 'refresh']));
    const helped: string[] = [];
    for (const name of names) {
      const r = await capture(() => main([name, '--help']));
      const subs = (r.out + r.err).match(new RegExp(`^usage: vireo ${name} \\[?(\\w+(?:\\|\\w+)+)\\]? `, 'm'));
      for (const command of subs ? subs[1].split('|').map((s) => `${name} ${s}`) : [name]) {
        const h = await capture(() => main([...command.split(' '), '--help']));
        expect(h.code, command).toBe(0);
        expect(h.out + h.err, command).toMatch(new RegExp(`^usage: vireo ${command} `, 'm'));
        expect(h.out + h.err, command).not.toMatch(/\$\{|\bundefined\b|\bNaN\b|\[object /);
        helped.push(command);
      }
    }
    expect(helped).toEqual(
      expect.arrayContaining(['train retrieval', 'train ranking', 'eval retrieval', 'eval ranking', 'bench kernels']),
    );
  });
});

// Before, `vireo publish` told the user to pass "the folder written by vireo export": there is no such command.
describe('vireo: the commands messages name', () => {
  it('every `vireo <command>` the sources name is a command', async () => {
    const top = await capture(() => main(['--help']));
    const commands = new Set([...top.out.matchAll(/^ {2}vireo (\S+) /gm)].map((m) => m[1]));
    // bench/schema.ts: "no case or vireo figure" (a benchmark table's column, not a command).
    const prose = new Set(['figure']);
    const src = fileURLToPath(new URL('.', import.meta.url));
    const named: string[] = [];
    for (const file of readdirSync(src, { recursive: true }) as string[]) {
      if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
      for (const m of readFileSync(join(src, file), 'utf8').matchAll(/\bvireo ([a-z]+)\b/g))
        if (!commands.has(m[1]) && !prose.has(m[1])) named.push(`${file}: vireo ${m[1]}`);
    }
    expect(named).toEqual([]);
  });
});

// Before, `--out some/file.csv` failed with ENOTDIR once training had started, and `vireo refresh --state FILE`
// with EEXIST: Node stack traces, exit 1.
describe('vireo: an output folder that is a file', () => {
  let dir: string;
  let data: string;
  let file: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vireo-cli-'));
    data = join(dir, 'data');
    await ingestSynthetic(
      { seed: 1, users: 20, items: 20, events: 300, categories: 3, dim: 4, days: 5 },
      { ...DEFAULT_OPTIONS, quiet: true, out: data },
    );
    file = join(dir, 'some.csv');
    writeFileSync(file, 'a,b\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const folderSentence = (flag: string, path: string) =>
    `${flag} ${path} is a file, not a folder: pass a folder (it is created if missing).\n`;

  it('vireo train ranking|retrieval --out FILE: one sentence, exit 2, before training', async () => {
    for (const model of ['ranking', 'retrieval']) {
      const r = await capture(() => main(['train', model, '--data', data, '--out', file, '--epochs', '1', '--quiet']));
      expect({ code: r.code, err: r.err }, model).toEqual({
        code: 2,
        err: `vireo train: ${folderSentence('--out', file)}`,
      });
    }
    const below = join(file, 'bundle');
    const r = await capture(() => main(['train', 'ranking', '--data', data, '--out', below, '--epochs', '1']));
    expect({ code: r.code, err: r.err }).toEqual({
      code: 2,
      err: `vireo train: --out ${below} cannot be created: ${file} is a file.\n`,
    });
  });

  it('vireo refresh --state FILE: one sentence, exit 2, before the pull', async () => {
    const flags = ['--edge', 'http://127.0.0.1:1', '--token', 't', '--data', data, '--once'];
    const r = await capture(() => main(['refresh', ...flags, '--state', file]));
    expect({ code: r.code, err: r.err }).toEqual({ code: 2, err: `vireo refresh: ${folderSentence('--state', file)}` });
  });
});
