// `vireo-edge --version` prints the edge's version and exits 0 (it used to start a server).
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
});
