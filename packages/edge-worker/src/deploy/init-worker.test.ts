// `vireo-edge init-worker`: the wrangler.toml it writes points into the package (main, migrations_dir) from where
// it is written, keeps every binding of the package's own wrangler.toml, and refuses to replace a file or take a
// name Cloudflare would refuse. The packed package is deployed with wrangler in examples/shop's cli.e2e.test.ts.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initWorker, PACKAGE_DIR, workerConfig, workerEntry } from './init-worker.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'vireo-init-worker-'));
  dirs.push(d);
  return d;
};
const value = (toml: string, key: string) => JSON.parse(new RegExp(`^${key} = (.*)$`, 'm').exec(toml)?.[1] ?? 'null');

describe('vireo-edge init-worker', () => {
  it('points main and migrations_dir into the package, relative to the file, with every binding kept', () => {
    const out = join(tmp(), 'app', 'edge');
    mkdirSync(out, { recursive: true });
    const toml = workerConfig({ outDir: out, name: 'shop-edge' });
    expect(value(toml, 'name')).toBe('shop-edge');
    expect(resolve(out, value(toml, 'main'))).toBe(workerEntry());
    expect(resolve(out, value(toml, 'migrations_dir'))).toBe(resolve(PACKAGE_DIR, 'migrations'));
    const template = readFileSync(join(PACKAGE_DIR, 'wrangler.toml'), 'utf8');
    for (const binding of ['DB', 'FEATURE_CACHE', 'MODELS']) expect(toml).toContain(`binding = "${binding}"`);
    expect(toml).toContain('name = "RATE_LIMITER"');
    expect(toml.split('\n').filter((l) => l.startsWith('['))).toEqual(
      template.split('\n').filter((l) => l.startsWith('[')),
    );
  });

  it('takes the source in a checkout and the built Worker in the installed package', () => {
    const pkg = tmp();
    mkdirSync(join(pkg, 'src'));
    mkdirSync(join(pkg, 'dist/worker'), { recursive: true });
    writeFileSync(join(pkg, 'src/worker.ts'), '');
    writeFileSync(join(pkg, 'dist/worker/worker.js'), '');
    expect(workerEntry(pkg, true)).toBe(join(pkg, 'src/worker.ts'));
    expect(workerEntry(pkg, false)).toBe(join(pkg, 'dist/worker/worker.js'));
    rmSync(join(pkg, 'dist'), { recursive: true });
    expect(workerEntry(pkg, false)).toBe(join(pkg, 'src/worker.ts'));
    rmSync(join(pkg, 'src'), { recursive: true });
    expect(() => workerEntry(pkg, false)).toThrow(/has neither dist\/worker\/worker\.js nor src\/worker\.ts/);
  });

  it('writes the file once, then refuses to replace it without --force; refuses a bad name or folder', () => {
    const dir = tmp();
    const out = join(dir, 'wrangler.toml');
    expect(initWorker({ out, name: 'vireo-edge', force: false })).toMatch(
      /^wrote .*wrangler\.toml: the Worker vireo-edge/,
    );
    writeFileSync(out, 'mine');
    expect(() => initWorker({ out, name: 'vireo-edge', force: false })).toThrow(/exists: pass --force to replace it/);
    expect(readFileSync(out, 'utf8')).toBe('mine');
    initWorker({ out, name: 'vireo-edge', force: true });
    expect(readFileSync(out, 'utf8')).toMatch(/^main = /m);
    expect(() => initWorker({ out: join(dir, 'x.toml'), name: 'Shop Edge', force: false })).toThrow(
      /--name must be a Worker name/,
    );
    expect(() => initWorker({ out: join(dir, 'no/such/w.toml'), name: 'e', force: false })).toThrow(/does not exist/);
  });
});
