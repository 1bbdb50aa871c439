// The published build (vite.lib.config.ts) as an app's bundler sees it: every worker the library
// starts is `new Worker(new URL('./file.js', import.meta.url))`, the pattern Vite and webpack 5
// follow (docs/getting-started.md §5), naming a file of the package next to the chunk.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
let out: string;

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'vireo-runtime-lib-'));
  await build({
    configFile: join(here, '../vite.lib.config.ts'),
    logLevel: 'silent',
    build: { outDir: out, sourcemap: false },
  });
}, 120_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

const chunks = () =>
  readdirSync(out, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.js'))
    .map((f) => ({ file: f, code: readFileSync(join(out, f), 'utf8') }));

describe('the library build', () => {
  it('starts every worker from a URL relative to import.meta.url that names a file of the package', () => {
    const workers: string[] = [];
    for (const { file, code } of chunks()) {
      // Vite's root-relative form ("/assets/x.js", "" + import.meta.url) fails webpack's build.
      expect(code.includes('"" + import.meta.url'), `${file} starts a worker from a root-relative URL`).toBe(false);
      for (const m of code.matchAll(/new Worker\(\s*new URL\(([^)]*)\)/g)) {
        const call = /^\s*"(\.\/[^"]+\.js)",\s*import\.meta\.url\s*$/.exec(m[1]);
        expect(call, `${file}: new URL(${m[1]})`).not.toBeNull();
        const target = join(out, dirname(file), call![1]);
        expect(existsSync(target), `${file} → ${call![1]}`).toBe(true);
        workers.push(relative(out, target));
      }
    }
    expect(workers.sort()).toEqual([expect.stringMatching(/^assets\/hnsw\.worker-.+\.js$/), 'worker.js']);
  });
});
