// When better-sqlite3's native module cannot load (its install script was blocked, as pnpm 10+ and npm's
// allowScripts do by default, or it was built for another Node), `vireo-edge` says what to run in one sentence
// and exits 1. Before, it died with bindings.js's stack trace ("Could not locate the bindings file. Tried: …").
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

vi.mock('better-sqlite3', () => ({
  default: class {
    constructor() {
      throw new Error(
        'Could not locate the bindings file. Tried:\n → /app/node_modules/better-sqlite3/build/better_sqlite3.node',
      );
    }
  },
}));

const { main } = await import('./cli.ts');
const { isNativeLoadError } = await import('./storage/sqlite.ts');
const dir = mkdtempSync(join(tmpdir(), 'vireo-edge-native-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('vireo-edge without a loadable SQLite driver', () => {
  it('says to rebuild better-sqlite3, in one sentence, exit 1', async () => {
    let err = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
      err += String(c);
      return true;
    });
    try {
      expect(await main(['--dev', '--port', '0', '--quiet', '--data', dir])).toBe(1);
    } finally {
      spy.mockRestore();
    }
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toMatch(/^vireo-edge: the SQLite driver cannot load \(Could not locate the bindings file\)/);
    expect(err).toContain("run 'npm rebuild better-sqlite3' (with pnpm: 'pnpm approve-builds'");
  });

  it('tells a driver that cannot load from a database problem', () => {
    const abi = 'The module was compiled against a different Node.js version using NODE_MODULE_VERSION 115.';
    expect(isNativeLoadError(new Error(abi))).toBe(true);
    expect(isNativeLoadError(new Error('SQLITE_CORRUPT: database disk image is malformed'))).toBe(false);
    expect(isNativeLoadError(new Error('unable to open database file'))).toBe(false);
  });
});
