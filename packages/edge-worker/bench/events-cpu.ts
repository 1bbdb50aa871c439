// CPU per POST /v1/events request, in process (not a test): `app.request()` posts of 100-event
// batches from CONC concurrent loops on a seeded SQLite store, and the CPU of every thread of this
// process per request (checkpoint thread included), which a busy machine inflates far less than
// wall time. Give several package roots for a before/after in one run (rounds interleaved), e.g. an
// earlier commit unpacked with `git archive REV packages/edge-worker | tar -x -C /tmp/before` and
// its node_modules linked in: node --import tsx bench/events-cpu.ts . /tmp/before/packages/edge-worker
// A root may end in @PAGE_SIZE (SqliteStorageOptions.pageSize, e.g. `. .@4096`: one code, two page sizes).
// Environment: CONC (32), N requests per round (640), ROUNDS (3), SYNC (normal | full).
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { eventBatch, seedRows } from './workload.mjs';

const SECRET = 'bench-secret-0123456789abcdef-ghijklmnop';
const roots = process.argv.length > 2 ? process.argv.slice(2) : ['.'];
const CONC = Number(process.env.CONC ?? 32);
const N = Number(process.env.N ?? 640);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

async function setup(arg: string) {
  const [path, page] = arg.split('@');
  const root = resolve(path);
  const { createApp } = await import(`${root}/src/app.ts`);
  const { hs256Verifier, signHs256 } = await import(`${root}/src/auth/jwt.ts`);
  const { openSqliteStorage } = await import(`${root}/src/storage/sqlite.ts`);
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-events-cpu-'));
  const synchronous = process.env.SYNC === 'full' ? 'full' : 'normal';
  const storage = openSqliteStorage({ dataDir, synchronous, ...(page ? { pageSize: Number(page) } : {}) });
  const app = createApp({ storage, verifier: hs256Verifier(SECRET), log: null });
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const token = await signHs256(
    { sub: 'bench', scope: 'features:read events:write models:publish service', exp },
    SECRET,
  );
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  for (const rows of seedRows())
    await app.request('/v1/features/push', { method: 'POST', headers, body: JSON.stringify({ rows }) });
  for (let b = 0; b < 100; b++)
    await app.request('/v1/events', { method: 'POST', headers, body: JSON.stringify({ events: eventBatch(`s${b}`) }) });
  return { root: arg, app, headers, storage, dataDir, cpu: [] as number[] };
}

const runs = [];
for (const root of roots) runs.push(await setup(root));
for (let round = 0; round < ROUNDS; round++)
  for (const run of runs) {
    const bodies = Array.from({ length: N }, (_, b) => JSON.stringify({ events: eventBatch(`r${round}-${b}`) }));
    let next = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONC }, async () => {
        while (next < N) {
          const res = await run.app.request('/v1/events', {
            method: 'POST',
            headers: run.headers,
            body: bodies[next++],
          });
          if (res.status !== 202) throw new Error(`${res.status} ${await res.text()}`);
        }
      }),
    );
    const wall = (performance.now() - t0) / N;
    const used = process.cpuUsage(cpu0);
    run.cpu.push((used.user + used.system) / 1000 / N);
    const cpu = run.cpu.at(-1)?.toFixed(2);
    console.log(`${run.root}: ${cpu} ms CPU, ${wall.toFixed(2)} ms wall per request; load ${loadavg()[0].toFixed(1)}`);
  }
for (const run of runs) {
  const sorted = [...run.cpu].sort((a, b) => a - b);
  console.log(
    `${run.root}: median ${sorted[sorted.length >> 1].toFixed(2)} ms CPU per 100-event request (${CONC} concurrent)`,
  );
  await run.storage.close();
  rmSync(run.dataDir, { recursive: true, force: true });
}
