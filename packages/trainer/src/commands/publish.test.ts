// `vireo publish` (packages/trainer/src/commands/publish.ts) against a real Node edge on loopback.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main as vireo } from '../cli.ts';
import { signHs256 } from '@vireo/edge-worker';
import { startNodeServer, type RunningServer } from '@vireo/edge-worker/node';
import { makeBundle, safetensorsBytes, type TestBundle } from '@vireo/edge-worker/testing';

const SECRET = 'publish-test-secret-0123456789-abcdefgh';

function writeBundle(root: string, bundle: TestBundle): string {
  const dir = join(root, `${bundle.name}-${bundle.version}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), bundle.manifest);
  for (const [file, bytes] of Object.entries(bundle.files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), bytes);
  }
  return dir;
}

async function run(argv: string[]) {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await vireo(['publish', ...argv]), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('vireo publish', () => {
  let edge: RunningServer;
  let root: string;
  let token: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'vireo-publish-'));
    edge = await startNodeServer({
      port: 0,
      dataDir: join(root, 'edge'),
      log: null,
      env: { VIREO_JWT_SECRET: SECRET },
    });
    token = await signHs256(
      { sub: 'ci', scope: 'models:publish features:read', exp: Math.floor(Date.now() / 1000) + 600 },
      SECRET,
    );
  });
  afterAll(async () => {
    await edge.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('uploads every file, promotes, prints the version; a second run uploads nothing', async () => {
    // (Whole safetensors files: the edge checks their headers as they stream in.)
    const big = safetensorsBytes(3 << 18);
    const dir = writeBundle(
      root,
      await makeBundle('ranker', '3', {
        'ranking.safetensors': big,
        'items/items.safetensors': safetensorsBytes(2),
      }),
    );
    const first = await run(['--bundle', dir, '--edge', edge.url, '--token', token, '--promote', '--quiet']);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toContain('published ranker@3');
    expect(first.out).toContain('promoted ranker@3');
    expect(first.out.trim().split('\n').at(-1)).toBe('3');
    const latest = await fetch(`${edge.url}/v1/models/ranker/latest`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(latest.headers.get('vireo-model-version')).toBe('3');
    const file = await fetch(`${edge.url}/v1/models/ranker/3/ranking.safetensors`, {
      headers: { authorization: `Bearer ${token}` },
    });
    // (Buffer.equals: vitest's deep equality walks a 3 MB array element by element, for tens of seconds)
    expect(Buffer.from(await file.arrayBuffer()).equals(Buffer.from(big))).toBe(true);
    const again = await run(['--bundle', dir, '--edge', edge.url, '--token', token, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({
      name: 'ranker',
      version: '3',
      uploaded: [],
      skipped: ['ranking.safetensors', 'items/items.safetensors'],
      promoted: false,
    });
  });

  it('refuses a bundle whose files do not match its manifest, before uploading', async () => {
    const bundle = await makeBundle('ranker', '4', { 'w.bin': new TextEncoder().encode('good') });
    const dir = writeBundle(root, bundle);
    writeFileSync(join(dir, 'w.bin'), 'evil');
    const r = await run(['--bundle', dir, '--edge', edge.url, '--token', token]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vireo publish: w\.bin has sha256 [0-9a-f]{64} but manifest\.json says/);
    expect(
      (await fetch(`${edge.url}/v1/models/ranker/4/manifest.json`, { headers: { authorization: `Bearer ${token}` } }))
        .status,
    ).toBe(404);
  });

  it('exits non-zero with one line: missing flags, no manifest, bad token, an existing version', async () => {
    expect((await run(['--edge', edge.url, '--token', token])).err).toContain('--bundle DIR is required');
    // Before, the sentence named `vireo export`, a command that does not exist.
    expect(await run(['--bundle', join(root, 'missing'), '--edge', edge.url, '--token', token])).toEqual({
      code: 2,
      out: '',
      err:
        `vireo publish: ${join(root, 'missing')} has no manifest.json: pass a bundle folder (vireo train retrieval ` +
        '--out or vireo train ranking --out writes one).\n',
    });
    expect((await run(['--bundle', root, '--edge', 'ftp://x', '--token', token])).err).toContain('http(s) URL');
    const dir = writeBundle(root, await makeBundle('ranker', '5'));
    const reader = await signHs256(
      { sub: 'r', scope: 'features:read', exp: Math.floor(Date.now() / 1000) + 600 },
      SECRET,
    );
    const denied = await run(['--bundle', dir, '--edge', edge.url, '--token', reader]);
    expect(denied.code).toBe(1);
    expect(denied.err).toContain('403 insufficient_scope');
    expect(denied.err.trim().split('\n')).toHaveLength(1);
    await run(['--bundle', dir, '--edge', edge.url, '--token', token, '--quiet']);
    const other = writeBundle(
      join(root, 'other'),
      await makeBundle('ranker', '5', { 'different.bin': new TextEncoder().encode('x') }),
    );
    const conflict = await run(['--bundle', other, '--edge', edge.url, '--token', token]);
    expect(conflict.code).toBe(1);
    expect(conflict.err).toContain('409 version_exists');
  });
});
