// The CLI's rough edges as a new user meets them: `vireo --version`, a --data folder that does not
// exist, one default synthetic world for `vireo ingest` and `vireo start`.
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { main } from './cli.ts';
import { DEFAULT_START } from './commands/start.ts';
import { loadDataset } from './ingest/dataset.ts';
import { START_WORLD } from './ingest/synthetic.ts';

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  const e = vi
    .spyOn(process.stderr, 'write')
    .mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  try {
    return { code: await fn(), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

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
});
