// The real Node server (bin/vireo-edge.mjs) in a child process on a free loopback port:
// durability under SIGKILL while event batches are in flight, a clean SIGTERM drain, and the
// development secret and token printed at start.
import Database from 'better-sqlite3';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { signHs256 } from './auth/jwt.ts';
import { databasePath } from './storage/sqlite.ts';
import { makeBundle } from '../test/helpers.ts';

const BIN = fileURLToPath(new URL('../bin/vireo-edge.mjs', import.meta.url));
const SECRET = 'durability-test-secret-0123456789';

type Server = {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};
const running: ChildProcess[] = [];
const folders: string[] = [];

async function startServer(
  dataDir: string,
  env: Record<string, string> = { VIREO_JWT_SECRET: SECRET },
  flags: string[] = [],
): Promise<Server> {
  const child = spawn(
    process.execPath,
    [BIN, '--port', '0', '--host', '127.0.0.1', '--data', dataDir, '--rate-limit', '0', '--quiet', ...flags],
    {
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'VIREO_JWT_SECRET')), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) =>
    child.once('exit', (code, signal) => ok({ code, signal })),
  );
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`server did not start in 30 s: ${out} ${err}`)), 30_000);
    const check = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    };
    child.stdout!.on('data', check);
    exited.then(({ code }) => fail(new Error(`server exited (${code}): ${err}`)));
  });
  return { child, url, stdout: () => out, stderr: () => err, exited };
}

function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'vireo-edge-node-'));
  folders.push(dir);
  return dir;
}

afterEach(() => {
  for (const c of running.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of folders.splice(0)) rmSync(d, { recursive: true, force: true });
});

const TS = Date.now() - 60_000;
const batchOf = (worker: number, n: number, size: number) =>
  Array.from({ length: size }, (_, i) => ({
    event_id: `w${worker}-b${n}-e${i}`,
    user_id: `u${(worker * 7 + i) % 13}`,
    item_id: `i${i % 17}`,
    type: i % 5 === 0 ? 'view' : 'click',
    ts: TS + n * 100 + i,
  }));

describe('the Node server', () => {
  it('keeps every event answered 202 exactly once across a SIGKILL under load', { timeout: 90_000 }, async () => {
    const dataDir = tempDir();
    const token = await signHs256(
      { sub: 'loader', scope: 'events:write features:read service', exp: Math.floor(Date.now() / 1000) + 600 },
      SECRET,
    );
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    let server = await startServer(dataDir);
    const acknowledged: Array<ReturnType<typeof batchOf>> = [];
    let failedInFlight = 0;
    let stop = false;
    const load = async (worker: number) => {
      for (let n = 0; !stop; n++) {
        const events = batchOf(worker, n, 50);
        try {
          const res = await fetch(`${server.url}/v1/events`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ events }),
          });
          if (res.status !== 202) throw new Error(`unexpected ${res.status}: ${await res.text()}`);
          const body = await res.json();
          expect(body).toMatchObject({ accepted: 50, duplicate: 0 });
          acknowledged.push(events);
        } catch (err) {
          if (!stop) throw err;
          failedInFlight++;
          return;
        }
      }
    };
    const workers = Array.from({ length: 6 }, (_, w) => load(w));
    // Kill once a good number of batches went through, with the six workers still sending.
    while (acknowledged.length < 60) await new Promise((ok) => setTimeout(ok, 20));
    stop = true;
    server.child.kill('SIGKILL');
    await Promise.all(workers);
    expect((await server.exited).signal).toBe('SIGKILL');
    const ids = acknowledged.flat().map((e) => e.event_id);
    expect(new Set(ids).size).toBe(ids.length);

    // Restart on the same folder: every acknowledged event is there once, with its real-time updates.
    server = await startServer(dataDir);
    const db = new Database(databasePath(dataDir), { readonly: true, fileMustExist: true });
    try {
      const present = db
        .prepare('SELECT count(*) FROM events WHERE event_id IN (SELECT value FROM json_each(?))')
        .pluck();
      expect(present.get(JSON.stringify(ids))).toBe(ids.length);
      // The events table may also hold batches committed just before the kill whose answer was lost;
      // whatever is there was applied to the real-time tables exactly once (same transaction).
      const perUser = db
        .prepare('SELECT user_id, count(*) AS n FROM events GROUP BY user_id ORDER BY user_id')
        .all() as Array<{ user_id: string; n: number }>;
      const activity = db
        .prepare("SELECT entity_id AS user_id, events AS n FROM activity WHERE entity = 'user' ORDER BY entity_id")
        .all();
      expect(activity).toEqual(perUser);
      const total = db.prepare('SELECT count(*) FROM events').pluck().get() as number;
      expect(total).toBeGreaterThanOrEqual(ids.length);
      expect(total - ids.length).toBeLessThanOrEqual(failedInFlight * 50);
    } finally {
      db.close();
    }
    // Re-sending every acknowledged batch changes nothing.
    for (const events of acknowledged.slice(0, 20)) {
      const res = await fetch(`${server.url}/v1/events`, { method: 'POST', headers, body: JSON.stringify({ events }) });
      expect(await res.json()).toMatchObject({ accepted: 0, duplicate: 50 });
    }
    const user = await (await fetch(`${server.url}/v1/users/u0/features`, { headers })).json();
    expect(user.realtime.event_count).toBeGreaterThan(0);
  });

  it("keeps an idle kept-alive connection open past Node's 5 s, for the proxy in front to close", {
    timeout: 60_000,
  }, async () => {
    // A proxy (nginx's upstream keepalive, a load balancer: 60 s idle) reuses a connection the edge has closed
    // under it when the edge closes first: a 502. Node closes idle connections after 5 s unless told otherwise.
    const server = await startServer(tempDir());
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<{ status: number; reused: boolean; socket: object }>((ok, fail) => {
        const req = httpRequest(`${server.url}/healthz`, { agent }, (res) => {
          res.resume();
          res.on('end', () => ok({ status: res.statusCode ?? 0, reused: req.reusedSocket, socket: req.socket! }));
        });
        req.on('error', fail);
        req.end();
      });
    try {
      const first = await get();
      expect(first.status).toBe(200);
      await new Promise((ok) => setTimeout(ok, 6_000));
      const second = await get();
      expect(second.status).toBe(200);
      expect(second.reused).toBe(true);
      expect(second.socket).toBe(first.socket);
    } finally {
      agent.destroy();
    }
    // The flag is checked like every other: one sentence, exit 2.
    const bad = spawnSync(process.execPath, [BIN, '--keep-alive', '0'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe("vireo-edge: --keep-alive must be an integer in [1, 3600], got '0'.");
  });

  it('refuses a --data path that is a file, in one sentence (it was an EEXIST stack trace)', () => {
    const file = join(tempDir(), 'edge.db');
    writeFileSync(file, '');
    for (const data of [file, join(file, 'below')]) {
      const run = spawnSync(process.execPath, [BIN, '--data', data, '--port', '0'], { encoding: 'utf8' });
      expect(run.status).toBe(2);
      expect(run.stderr).toBe(
        `vireo-edge: --data ${data}: a file is in the way, and the data folder must be a folder.\n`,
      );
    }
  });

  it('drains in-flight requests on SIGTERM, closes the database and exits 0', { timeout: 60_000 }, async () => {
    const dataDir = tempDir();
    const server = await startServer(dataDir);
    const token = await signHs256(
      { sub: 'drain', scope: 'events:write models:publish service', exp: Math.floor(Date.now() / 1000) + 600 },
      SECRET,
    );
    const auth = { authorization: `Bearer ${token}` };
    const weights = new Uint8Array(64 * 1024).map((_, i) => i % 251);
    const bundle = await makeBundle('slow', '1', { 'w.bin': weights });
    expect(
      (
        await fetch(`${server.url}/v1/models/slow/1/manifest.json`, {
          method: 'PUT',
          headers: auth,
          body: bundle.manifest,
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await fetch(`${server.url}/v1/events`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ events: batchOf(0, 0, 100) }),
        })
      ).status,
    ).toBe(202);
    // An upload trickling in over ~1 s: SIGTERM lands while the server is reading it.
    let pulls = 0;
    const chunks = 16;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (pulls === chunks) return controller.close();
        if (pulls > 0) await new Promise((ok) => setTimeout(ok, 60));
        controller.enqueue(weights.slice(pulls * 4096, ++pulls * 4096));
      },
    });
    const upload = fetch(`${server.url}/v1/models/slow/1/w.bin`, {
      method: 'PUT',
      headers: { ...auth, 'content-length': String(weights.length) },
      body,
      duplex: 'half',
    } as RequestInit);
    while (pulls < 3) await new Promise((ok) => setTimeout(ok, 10));
    server.child.kill('SIGTERM');
    const res = await upload;
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ result: 'stored' });
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.stderr()).toContain('SIGTERM: draining');
    expect(server.stderr()).toContain('stopped cleanly');
    // A clean close checkpoints the WAL into the database file.
    const wal = `${databasePath(dataDir)}-wal`;
    expect(!existsSync(wal) || statSync(wal).size === 0).toBe(true);
    const db = new Database(databasePath(dataDir), { readonly: true });
    expect(db.prepare('SELECT count(*) FROM events').pluck().get()).toBe(100);
    expect(db.prepare("SELECT uploaded_at IS NOT NULL FROM model_files WHERE name = 'slow'").pluck().get()).toBe(1);
    db.close();
  });

  it('with --dev, generates a development secret into the data folder and prints a working service token', {
    timeout: 60_000,
  }, async () => {
    const dataDir = tempDir();
    const server = await startServer(dataDir, {}, ['--dev']);
    const token = /development token[^:]*: (\S+)/.exec(server.stdout())?.[1];
    expect(token).toBeTruthy();
    expect(server.stderr()).toContain('generated a development secret');
    expect(statSync(join(dataDir, 'jwt-secret')).mode & 0o777).toBe(0o600);
    const res = await fetch(`${server.url}/v1/users/u1/features`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const health = await fetch(`${server.url}/healthz`);
    expect(await health.json()).toMatchObject({ status: 'ok', storage: 'sqlite' });
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });

  it('with --workers 2, serves from two processes sharing the port and the database, and replaces a dead one', {
    timeout: 150_000,
  }, async () => {
    const dataDir = tempDir();
    const server = await startServer(dataDir, { VIREO_JWT_SECRET: SECRET }, ['--workers', '2']);
    const token = await signHs256(
      {
        sub: 'svc',
        scope: 'features:read events:write models:publish service',
        exp: Math.floor(Date.now() / 1000) + 600,
      },
      SECRET,
    );
    // Each call on a new connection, which one of the workers accepts from the shared socket.
    const call = (method: string, path: string, body?: unknown) =>
      new Promise<{ status: number; text: string }>((ok, fail) => {
        const req = httpRequest(`${server.url}${path}`, {
          method,
          agent: false,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => ok({ status: res.statusCode ?? 0, text }));
        });
        // Not expected to fire (see "--workers under SIGKILL"), but a stuck call fails the test rather than hanging it.
        req.setTimeout(5_000, () => req.destroy(new Error('no answer in 5 s')));
        req.on('error', fail);
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
    const pids = new Set<string>();
    for (let i = 0; i < 40 && pids.size < 2; i++)
      pids.add(/vireo_process_info\{pid="(\d+)"\}/.exec((await call('GET', '/metrics')).text)![1]);
    expect(pids.size).toBe(2);
    expect(pids.has(String(server.child.pid))).toBe(false);
    const spend = async () => JSON.parse((await call('GET', '/v1/users/u1/features')).text).features.spend;
    const push = (value: number, ts: number) =>
      call('POST', '/v1/features/push', {
        rows: [{ entity: 'user', id: 'u1', features: { spend: value }, event_ts: ts }],
      });
    expect((await push(1, Date.now() - 5000)).status).toBe(200);
    // Both workers read (and cache) the row, then one of them writes: both answer the new value.
    for (let i = 0; i < 4; i++) expect(await spend()).toBe(1);
    expect((await push(2, Date.now() - 1000)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect(await spend()).toBe(2);
    // The same batch sent to both workers at once: stored once.
    const events = batchOf(9, 0, 40);
    const answers = await Promise.all([1, 2, 3, 4].map(() => call('POST', '/v1/events', { events })));
    const bodies = answers.map((a) => JSON.parse(a.text) as { accepted: number; duplicate: number });
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202]);
    expect(bodies.reduce((n, b) => n + b.accepted, 0)).toBe(40);
    expect(bodies.reduce((n, b) => n + b.duplicate, 0)).toBe(120);
    // A worker that dies is replaced: two processes serve again, one of them new.
    const [victim] = pids;
    process.kill(Number(victim), 'SIGKILL');
    const deadline = Date.now() + 60_000;
    let now = new Set<string>();
    while (Date.now() < deadline) {
      now = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const m = /vireo_process_info\{pid="(\d+)"\}/.exec(
          (await call('GET', '/metrics').catch(() => ({ text: '' }))).text,
        );
        if (m) now.add(m[1]);
      }
      if (now.size === 2 && !now.has(victim)) break;
      await new Promise((ok) => setTimeout(ok, 200));
    }
    expect(now.size).toBe(2);
    expect(now.has(victim)).toBe(false);
    expect(server.stderr()).toContain('starting another');
    expect(await spend()).toBe(2);
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.stderr()).toContain('stopped cleanly');
    const db = new Database(databasePath(dataDir), { readonly: true });
    expect(db.prepare('SELECT count(*) FROM events').pluck().get()).toBe(40);
    expect(db.prepare("SELECT events FROM activity WHERE entity = 'user' AND entity_id = 'u0'").pluck().get()).toBe(
      events.filter((e) => e.user_id === 'u0').length,
    );
    db.close();
  });
});

describe('--workers under SIGKILL', () => {
  it('answers or refuses every new connection after a worker is killed, leaving none hanging', {
    timeout: 90_000,
  }, async () => {
    const server = await startServer(tempDir(), { VIREO_JWT_SECRET: SECRET }, ['--workers', '2']);
    // One request per new connection; 'hung' when neither an answer nor an error came within 8 s.
    const call = () =>
      new Promise<string>((ok) => {
        const req = httpRequest(`${server.url}/metrics`, { agent: false });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => ok(/vireo_process_info\{pid="(\d+)"\}/.exec(text)?.[1] ?? 'answered'));
        });
        req.setTimeout(8_000, () => {
          ok('hung');
          req.destroy();
        });
        req.on('error', () => ok('refused'));
        req.end();
      });
    const pids = new Set<string>();
    for (let i = 0; i < 40 && pids.size < 2; i++) pids.add(await call());
    expect(pids.size).toBe(2);
    const [victim] = pids;
    process.kill(Number(victim), 'SIGKILL');
    // Connections opened as the primary learns of the death: one of them is handed to the dead worker.
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => sleep(i * 5).then(call)));
    expect(answers.filter((a) => a === 'hung')).toEqual([]);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });
});

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
