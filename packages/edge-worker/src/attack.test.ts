// The attack suite on Node (SQLite + files), plus what only a real Node server shows: how long
// /healthz waits while the heaviest requests the edge accepts run, the secrets the CLI refuses,
// and the temporary files a killed upload leaves.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runAttackCases } from './attack.case.ts';
import { nodeTestApp } from '../test/node-test-app.ts';
import { openSqliteStorage } from './storage/sqlite.ts';
import { ALL_SCOPES, apiEvent, makeBundle, safetensorsBytes, token } from '../test/helpers.ts';

runAttackCases('node (sqlite + files)', async (options) => {
  const t = nodeTestApp(options);
  return { app: t.app, cleanup: t.cleanup };
});

const BIN = fileURLToPath(new URL('../bin/vireo-edge.mjs', import.meta.url));
const SECRET = 'attack-suite-secret-0123456789-abcdefgh';
const folders: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'vireo-edge-attack-'));
  folders.push(dir);
  return dir;
};
afterAll(() => {
  for (const d of folders.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** CPU time (user + system) of a process's main thread so far, in ms (Linux /proc; 10 ms ticks). */
function mainThreadCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const envWithout = (over: Record<string, string>) => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VIREO_'))),
  ...over,
});

describe('the Node server under attack', () => {
  it('keeps /healthz answering within 100 ms while the heaviest accepted and refused requests run', {
    timeout: 180_000,
  }, async () => {
    const dataDir = tempDir();
    const child = spawn(process.execPath, [BIN, '--port', '0', '--data', dataDir, '--rate-limit', '0', '--quiet'], {
      env: envWithout({ VIREO_JWT_SECRET: SECRET }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((ok, fail) => {
        let out = '';
        child.stdout!.on('data', (d) => {
          out += d;
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) ok(m[1]);
        });
        child.once('exit', (code) => fail(new Error(`server exited ${code}`)));
      });
      const now = Math.floor(Date.now() / 1000);
      const { signHs256 } = await import('./auth/jwt.ts');
      const service = await signHs256({ sub: 'backend', scope: ALL_SCOPES, exp: now + 600 }, SECRET);
      const user = await signHs256({ sub: 'u1', scope: 'features:read events:write', exp: now + 600 }, SECRET);
      const call = async (path: string, init: RequestInit & { token?: string } = {}) => {
        const res = await fetch(`${url}${path}`, {
          ...init,
          headers: {
            authorization: `Bearer ${init.token ?? service}`,
            'content-type': 'application/json',
            ...(init.headers as Record<string, string>),
          },
        });
        const bytes = (await res.arrayBuffer()).byteLength;
        return { status: res.status, bytes };
      };
      const big = Array.from({ length: 900 }, (_, i) => `${i}`.padEnd(1000, 'x'));
      expect(
        (
          await call('/v1/features/push', {
            method: 'POST',
            body: JSON.stringify({ rows: [{ entity: 'user', id: 'u1', features: { big } }] }),
          })
        ).status,
      ).toBe(200);
      const users = Array.from({ length: 1000 }, (_, i) => `u${i}`);
      const vocabulary = Array.from({ length: 240_000 }, (_, i) => `item-${i}`);
      const manifest = JSON.parse(new TextDecoder().decode((await makeBundle('big', '1')).manifest));
      manifest.vocabularies.genres = vocabulary;
      // Every body is built before /healthz is probed: the probe runs in this process too.
      const bodies = {
        amplification: JSON.stringify({
          features: Array(256).fill('user:big'),
          entities: { user_id: Array(1000).fill('u1') },
        }),
        largestLookup: JSON.stringify({
          features: Array.from({ length: 10 }, (_, i) => `user:f${i}`),
          entities: { user_id: users },
        }),
        manifest: JSON.stringify(manifest),
        tooBig: ' '.repeat((4 << 20) + 10),
        push: JSON.stringify({
          rows: users.slice(0, 250).map((id) => ({
            entity: 'user',
            id,
            features: Object.fromEntries(Array.from({ length: 20 }, (_, j) => [`f${j}`, j])),
          })),
        }),
        events: JSON.stringify({
          events: users.map((u, i) => apiEvent(`h${i}`, { user_id: u, ts: Date.now() - 1000 })),
        }),
      };
      const weights = safetensorsBytes(2 << 20);
      const weightsBundle = await makeBundle('weights', '1', { 'w.safetensors': weights });
      // Warm up (the first request of each route loads and compiles its code).
      await call('/v1/features/online', {
        method: 'POST',
        body: JSON.stringify({ features: ['user:a'], entities: { user_id: ['u1'] } }),
      });
      await call('/v1/events', {
        method: 'POST',
        body: JSON.stringify({ events: [apiEvent('warm', { ts: Date.now() })] }),
      });
      await call('/v1/models/warm/1/manifest.json', { method: 'PUT', body: (await makeBundle('warm', '1')).manifest });
      const attacks: Array<[string, () => Promise<{ status: number; bytes: number }>]> = [
        [
          'online: 256 × the 0.9 MB value × 1,000 ids',
          () => call('/v1/features/online', { method: 'POST', token: user, body: bodies.amplification }),
        ],
        [
          'online: 1,000 users × 10 features (the largest accepted)',
          () => call('/v1/features/online', { method: 'POST', body: bodies.largestLookup }),
        ],
        [
          'manifest: 240,000-value vocabulary (~3.6 MB)',
          () => call('/v1/models/big/1/manifest.json', { method: 'PUT', body: bodies.manifest }),
        ],
        ['manifest: over 4 MiB', () => call('/v1/models/big/2/manifest.json', { method: 'PUT', body: bodies.tooBig })],
        ['push: 250 rows × 20 features', () => call('/v1/features/push', { method: 'POST', body: bodies.push })],
        ['events: 1,000 in one batch', () => call('/v1/events', { method: 'POST', body: bodies.events })],
        [
          'safetensors upload: 8 MB',
          async () => {
            await call('/v1/models/weights/1/manifest.json', { method: 'PUT', body: weightsBundle.manifest });
            return call('/v1/models/weights/1/w.safetensors', { method: 'PUT', body: weights });
          },
        ],
      ];
      const report: string[] = [];
      let worst = 0;
      for (const [name, attack] of attacks) {
        // Two measures of how long the attack can hold the server's event loop; either one under the
        // bound shows that it cannot hold it longer. (1) The CPU time of the server's main thread
        // while the attack runs alone: no stretch of blocking is longer (worker threads, the hashing
        // pool and I/O are not counted), whatever else loads the machine. (2) The longest /healthz
        // answer, probed every 5 ms during the attack, best of up to three runs (the edge's own
        // blocking is in every run, a pause of a busy machine's scheduler is not).
        const before = mainThreadCpuMs(child.pid!);
        const result = await attack();
        const cpuMs = mainThreadCpuMs(child.pid!) - before;
        expect(result.status, name).toBeLessThan(500);
        let best = Infinity;
        let ms = 0;
        for (let trial = 0; trial < 3 && best >= 100; trial++) {
          let running = true;
          let longest = 0;
          const probe = (async () => {
            while (running) {
              const t0 = performance.now();
              await fetch(`${url}/healthz`).then((r) => r.arrayBuffer());
              longest = Math.max(longest, performance.now() - t0);
              await new Promise((ok) => setTimeout(ok, 5));
            }
          })();
          const t0 = performance.now();
          await attack();
          ms = performance.now() - t0;
          running = false;
          await probe;
          best = Math.min(best, longest);
        }
        const held = Math.min(best, cpuMs);
        worst = Math.max(worst, held);
        report.push(
          `${name}: ${result.status}, ${result.bytes} bytes, ${ms.toFixed(0)} ms; main thread ${cpuMs} ms of CPU, ` +
            `/healthz worst ${best.toFixed(1)} ms`,
        );
      }
      console.log(`event loop held at most ${worst.toFixed(1)} ms by one attack:\n  ${report.join('\n  ')}`);
      expect(worst, report.join('\n')).toBeLessThan(100);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses a missing, empty, short or predictable secret with one sentence and exit 2', {
    timeout: 60_000,
  }, () => {
    const cases: Array<[Record<string, string>, string[], RegExp]> = [
      [{}, [], /No JWT secret: set VIREO_JWT_SECRET .* or pass --dev/],
      [{ VIREO_JWT_SECRET: '' }, [], /VIREO_JWT_SECRET is refused: the JWT secret is empty/],
      [{ VIREO_JWT_SECRET: 'short-secret' }, [], /at least 32 are needed/],
      [{ VIREO_JWT_SECRET: 'ab'.repeat(20) }, [], /too predictable/],
      [{ VIREO_JWT_SECRET: '' }, ['--dev'], /the JWT secret is empty/],
    ];
    for (const [env, flags, message] of cases) {
      const r = spawnSync(process.execPath, [BIN, '--port', '0', '--data', tempDir(), ...flags], {
        env: envWithout(env),
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).not.toContain('token');
    }
  });

  it('mints tokens with vireo-edge token --sub --scope --ttl, and refuses a missing --sub', {
    timeout: 30_000,
  }, async () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, [BIN, 'token', ...args], {
        env: envWithout({ VIREO_JWT_SECRET: SECRET }),
        encoding: 'utf8',
      });
    const ok = run(['--sub', 'u7', '--scope', 'features:read', '--ttl', '1h']);
    expect(ok.status, ok.stderr).toBe(0);
    const { hs256Verifier } = await import('./auth/jwt.ts');
    const p = await hs256Verifier(SECRET).verify(ok.stdout.trim());
    expect([p.sub, [...p.scopes]]).toEqual(['u7', ['features:read']]);
    expect(p.exp - Date.now() / 1000).toBeGreaterThan(3500);
    expect(run(['--scope', 'features:read']).status).toBe(2);
    expect(run(['--sub', 'u7', '--scope', 'everything']).status).toBe(2);
    expect(run(['--sub', 'u7', '--ttl', 'forever']).status).toBe(2);
    // A visitor's sub is its user id: one the edge refuses as an id made a token that every route answered 400.
    const spaced = run(['--sub', 'jane doe']);
    expect([spaced.status, spaced.stderr]).toEqual([
      2,
      "vireo-edge: --sub 'jane doe' is not a user id the edge takes (letters, digits and . _ : @ + - |, at most " +
        '128 characters, starting with a letter or digit); a token with the service scope may have any sub.\n',
    ]);
    expect(run(['--sub', 'auth0|5f3a9b']).status).toBe(0);
    expect(run(['--sub', 'CI bot', '--scope', 'service features:read']).status).toBe(0);
  });

  it('removes the temporary files of killed uploads when the storage opens', async () => {
    const dataDir = tempDir();
    openSqliteStorage({ dataDir }).close();
    const tmp = join(dataDir, 'blobs', '.tmp');
    mkdirSync(tmp, { recursive: true });
    writeFileSync(join(tmp, 'killed-upload'), 'half a file');
    const storage = openSqliteStorage({ dataDir });
    expect(existsSync(join(tmp, 'killed-upload'))).toBe(false);
    await storage.close();
  });

  it('keeps an upload that was cut off mid-stream out of the registry', async () => {
    const t = nodeTestApp();
    try {
      const auth = { authorization: `Bearer ${await token(ALL_SCOPES)}` };
      const bytes = safetensorsBytes(4096);
      const bundle = await makeBundle('cut', '1', { 'w.safetensors': bytes });
      await t.app.request('/v1/models/cut/1/manifest.json', { method: 'PUT', headers: auth, body: bundle.manifest });
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes.slice(0, 1000));
          controller.error(new Error('client went away'));
        },
      });
      const res = await t.app.request('/v1/models/cut/1/w.safetensors', {
        method: 'PUT',
        headers: auth,
        body,
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBeGreaterThanOrEqual(400);
      const v = await t.storage.models.getVersion('cut', '1');
      expect(v!.files[0].uploadedAt).toBeNull();
    } finally {
      await t.cleanup();
    }
  });
});
