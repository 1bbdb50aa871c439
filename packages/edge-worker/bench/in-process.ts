// In-process latency of the hot routes: app.request() on a seeded SQLite store, no network.
// Run by bench/run.mjs (through tsx); prints one JSON line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../src/app.ts';
import { hs256Verifier, signHs256 } from '../src/auth/jwt.ts';
import { openSqliteStorage } from '../src/storage/sqlite.ts';
import { seedRows, eventBatch, onlineBody, percentiles } from './workload.mjs';

const SECRET = 'bench-secret-0123456789abcdef-ghijklmnop';
const dataDir = mkdtempSync(join(tmpdir(), 'vireo-bench-inproc-'));
const storage = openSqliteStorage({ dataDir });
const app = createApp({ storage, verifier: hs256Verifier(SECRET), log: null });
const token = await signHs256(
  {
    sub: 'bench',
    scope: 'features:read events:write models:publish service',
    exp: Math.floor(Date.now() / 1000) + 3600,
  },
  SECRET,
);
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

for (const rows of seedRows()) {
  const res = await app.request('/v1/features/push', { method: 'POST', headers, body: JSON.stringify({ rows }) });
  if (res.status !== 200) throw new Error(`seed: ${res.status} ${await res.text()}`);
}
for (let b = 0; b < 100; b++)
  await app.request('/v1/events', {
    method: 'POST',
    headers,
    body: JSON.stringify({ events: eventBatch(`seed${b}`) }),
  });

async function time(label: string, n: number, make: (i: number) => [string, RequestInit]) {
  const samples: number[] = [];
  for (let i = 0; i < n + 200; i++) {
    const [path, init] = make(i);
    const t0 = performance.now();
    const res = await app.request(path, init);
    await res.arrayBuffer();
    const ms = performance.now() - t0;
    if (res.status >= 300) throw new Error(`${label}: ${res.status}`);
    if (i >= 200) samples.push(ms);
  }
  return { route: label, ...percentiles(samples) };
}

const rnd = (n: number) => Math.floor(Math.random() * n);
const results = [
  await time('GET /v1/users/:id/features', 5000, () => [`/v1/users/u${rnd(10_000)}/features`, { headers }]),
  await time('POST /v1/features/online (100 users)', 1000, () => [
    '/v1/features/online',
    { method: 'POST', headers, body: JSON.stringify(onlineBody()) },
  ]),
  await time('POST /v1/events (100 events)', 1000, (i) => [
    '/v1/events',
    { method: 'POST', headers, body: JSON.stringify({ events: eventBatch(`ip${i}`) }) },
  ]),
];
await storage.close();
rmSync(dataDir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(results)}\n`);
