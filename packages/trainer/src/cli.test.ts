// The CLI's rough edges as a new user meets them: `vireo --version`, a --data folder that does not
// exist, one default synthetic world for `vireo ingest` and `vireo start`, every command's --help.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { capture } from '@vireo/testkit/capture';
import { main } from './cli.ts';
import { DEFAULT_START } from './commands/start.ts';
import { loadDataset } from './ingest/dataset.ts';
import { START_WORLD } from './ingest/synthetic.ts';

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
