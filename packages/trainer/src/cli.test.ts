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
  it.each([
    'start',
    'ingest',
    'train retrieval',
    'train ranking',
    'eval retrieval',
    'eval ranking',
    'predict',
    'publish',
    'refresh',
    'token',
    'doctor',
    'bench',
  ])('vireo %s --help gives its values, not placeholders', async (command) => {
    const r = await capture(() => main([...command.split(' '), '--help']));
    expect(r.code).toBe(0);
    expect(r.out + r.err).toMatch(/^usage: vireo /m);
    expect(r.out + r.err).not.toMatch(/\$\{|\bundefined\b|\bNaN\b|\[object /);
  });
});
