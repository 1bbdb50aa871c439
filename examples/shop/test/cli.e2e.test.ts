// The `vireo` CLI as a user installs it: the tarball of @vireo/trainer that scripts/pack.mjs packs, installed
// with npm into the scratch shop outside the workspace (test/scratch.ts, shared with shop.e2e.test.ts), then
// run through `npx vireo` as its README says: --version, doctor (every kernel against its CPU reference on
// this machine's WebGPU adapter, SwiftShader without a GPU), a tiny synthetic world ingested and trained into
// a bundle, predict --example and predict on that bundle, token, and the repository-only commands.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, inject, test } from 'vitest';
import { npmEnv, run } from './scratch.ts';

const work = inject('shopWork');
const app = inject('shopApp');
const cliPackage = join(app, 'node_modules/@vireo/trainer');
const vireo = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
  run('npx', ['--no-install', 'vireo', ...args], app, extra);

/** `npx vireo ARGS` expected to fail: its exit code and stderr. */
function vireoFails(args: string[]): { status: number; stderr: string } {
  try {
    execFileSync('npx', ['--no-install', 'vireo', ...args], {
      cwd: app,
      env: npmEnv(),
      stdio: 'pipe',
      encoding: 'utf8',
    });
  } catch (err) {
    const e = err as { status: number; stderr: string };
    return { status: e.status, stderr: e.stderr };
  }
  throw new Error(`vireo ${args.join(' ')} succeeded`);
}

describe('the vireo CLI installed from its tarball', () => {
  test('the package is the built CLI: dist/ only, the private packages bundled, what it imports declared', () => {
    const pkg = JSON.parse(readFileSync(join(cliPackage, 'package.json'), 'utf8'));
    expect(pkg.bin).toEqual({ vireo: './dist/vireo.js' });
    expect(existsSync(join(cliPackage, 'src'))).toBe(false);
    for (const p of ['core', 'kernels', 'models']) expect(existsSync(join(app, 'node_modules/@vireo', p))).toBe(false);
    expect(Object.keys(pkg.dependencies).sort()).toEqual([
      '@vireo/edge-worker',
      'hyparquet',
      'protobufjs',
      'webgpu',
      'zod',
    ]);
    expect(vireo(['--version']).trim()).toBe(`vireo ${pkg.version}`);
  });

  test('doctor: every kernel within tolerance on this WebGPU adapter', () => {
    const report = JSON.parse(vireo(['doctor', '--json', '--seed', '7'])) as {
      ok: boolean;
      kernels: { kernel: string; ok: boolean; maxError: number; tolerance: number }[];
    };
    expect(report.kernels.length).toBeGreaterThanOrEqual(10);
    for (const k of report.kernels) expect(k.maxError, k.kernel).toBeLessThanOrEqual(k.tolerance);
    expect(report.ok).toBe(true);
  });

  // Ranking first, then retrieval into the same folder: a ranker trained alone scores rows through the item columns
  // it keeps (before, predict refused every row without items.safetensors), and training retrieval afterwards keeps
  // the ranker in the manifest (before, the manifest listed only the retrieval files).
  test('ingest → train ranking → predict → train retrieval into the same bundle → predict', () => {
    const data = join(work, 'cli-data');
    const bundle = join(work, 'cli-bundle');
    const world = ['--users', '30', '--items', '40', '--events', '1500', '--categories', '4'];
    vireo(['ingest', '--source', 'synthetic', ...world, '--out', data, '--quiet']);
    const tiny = ['--epochs', '1', '--batch', '64', '--quiet'];
    const ranking = ['--dim', '4', '--bottom', '8', '--top', '8', '--tower', ''];
    vireo(['train', 'ranking', '--data', data, '--out', bundle, ...tiny, ...ranking]);
    const files = () =>
      (JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')) as { files: { name: string }[] }).files
        .map((f) => f.name)
        .sort();
    expect(files()).not.toContain('items.safetensors');

    const rows = join(work, 'cli-rows.csv');
    vireo(['predict', '--bundle', bundle, '--example', rows]);
    const examples = readFileSync(rows, 'utf8').trim().split('\n').length - 1; // minus the header
    expect(examples).toBeGreaterThan(0);
    const score = () => {
      const scored = vireo(['predict', '--bundle', bundle, '--input', rows, '--json'])
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { line: number; pCtr?: number; error?: string });
      expect(scored).toHaveLength(examples);
      for (const r of scored) {
        expect(r.error, `line ${r.line}`).toBeUndefined();
        expect(r.pCtr).toBeGreaterThan(0);
        expect(r.pCtr).toBeLessThan(1);
      }
      return scored.map((r) => r.pCtr);
    };
    const alone = score();

    const retrieval = ['--dim', '8', '--field-dim', '8', '--hidden', '8', '--skip-eval'];
    vireo(['train', 'retrieval', '--data', data, '--out', bundle, ...tiny, ...retrieval]);
    expect(files()).toEqual(expect.arrayContaining(['items.safetensors', 'ranking.safetensors', 'ranking.onnx']));
    // The same ranker and the same item columns (now read from items.safetensors): the same scores.
    expect(score()).toEqual(alone);
  });

  test('token: signed with VIREO_JWT_SECRET, for the sub and scopes asked', async () => {
    const secret = randomBytes(32).toString('hex');
    const token = vireo(['token', '--sub', 'alice', '--scope', 'features:read', '--ttl', '10m'], {
      VIREO_JWT_SECRET: secret,
    }).trim();
    const jose = (await import(
      pathToFileURL(createRequire(join(app, 'package.json')).resolve('jose')).href
    )) as typeof import('jose');
    const { payload } = await jose.jwtVerify(token, new TextEncoder().encode(secret));
    expect(payload.sub).toBe('alice');
    expect(payload.scope).toBe('features:read');
    expect(payload.exp! - payload.iat!).toBe(600);
  });

  test('start and bench, which drive the repository, say so in one sentence and exit 2', () => {
    for (const name of ['start', 'bench']) {
      const { status, stderr } = vireoFails([name]);
      expect(status).toBe(2);
      expect(stderr).toContain('clone of the Vireo repository');
      expect(stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
