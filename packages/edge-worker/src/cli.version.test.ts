// `vireo-edge --version` prints the edge's version and exits 0 (it used to start a server); a flag without its value
// is one sentence naming it and exit 2 (`--port -5` printed "Option '--port' argument is ambiguous.").
import { describe, expect, it, vi } from 'vitest';
import { EDGE_VERSION } from './app.ts';
import { main } from './cli.ts';

describe('vireo-edge --version', () => {
  it('prints the version', async () => {
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
      out += String(c);
      return true;
    });
    try {
      expect(await main(['--version'])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(out).toBe(`vireo-edge ${EDGE_VERSION}\n`);
  });

  it.each([
    [
      ['--port', '-5'],
      'vireo-edge: --port needs a value (one that starts with a dash is written --port=-1); see vireo-edge --help.\n',
    ],
    [['token', '--sub'], 'vireo-edge: --sub needs a value; see vireo-edge --help.\n'],
  ])('%j is one sentence and exit 2', async (argv, sentence) => {
    let err = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
      err += String(c);
      return true;
    });
    try {
      expect(await main(argv)).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(err).toBe(sentence);
  });
});
