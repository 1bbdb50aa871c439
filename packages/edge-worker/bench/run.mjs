#!/usr/bin/env node
// Loopback benchmark of the Node edge (not a test): the server runs in its own process, autocannon
// drives it from this one. Routes: GET /v1/users/:id/features, POST /v1/features/online (100 users),
// POST /v1/events (100 events). Beside it, in the same run, redis-benchmark GET/SET (and MGET of
// 100 keys) against a local redis-server, the reference design's online store, as the yardstick;
// and the same routes in-process through app.request(). Writes bench/results.json and bench/RESULTS.md.
// pnpm --filter @vireo/edge-worker bench:edge [-- --duration 10 --connections 32 --out RESULTS.md --results
// results.json --skip-in-process]
import autocannon from 'autocannon';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, getPriority, loadavg, totalmem, tmpdir, type as osType, release } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { eventBatch, onlineBody, percentiles, seedRows, USERS } from './workload.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string' },
    connections: { type: 'string' },
    'skip-redis': { type: 'boolean' },
    out: { type: 'string' },
    results: { type: 'string' },
    'skip-in-process': { type: 'boolean' },
    profile: { type: 'string' },
    only: { type: 'string' },
  },
});
const DURATION = Number(flags.duration ?? 10);
const CONNECTIONS = Number(flags.connections ?? 32);
const SECRET = 'bench-secret-0123456789abcdef-ghijklmnop';
const say = (m) => process.stderr.write(`bench: ${m}\n`);

async function freePort() {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

function calibrate() {
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    let x = 0;
    for (let i = 0; i < 1e7; i++) x = (x + i * i) % 1_000_003;
    best = Math.min(best, performance.now() - t0 + (x < 0 ? 1 : 0));
  }
  return Math.round(best);
}

function machine() {
  const c = cpus();
  let lscpu = '';
  try {
    lscpu = spawnSync('lscpu', [], { encoding: 'utf8' }).stdout ?? '';
  } catch {
    /* not Linux */
  }
  const field = (name) => (new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(lscpu)?.[1] ?? '').trim();
  return {
    cpu: c[0]?.model ?? 'unknown',
    logical_cpus: c.length,
    hypervisor: field('Hypervisor vendor') || null,
    memory_gb: Math.round(totalmem() / 2 ** 30),
    os: `${osType()} ${release()}`,
    node: process.version,
    load_average_at_start: loadavg().map((x) => Math.round(x * 100) / 100),
    nice: getPriority(),
    // A plain JS loop (best of 5), to compare machines: lower is faster.
    calibration_loop_1e7_ms: calibrate(),
  };
}

// ------------------------------------------------------------------------------------------------
// In-process (app.request, no network)
function inProcess() {
  say('in-process: seeding and timing app.request()…');
  const r = spawnSync(process.execPath, ['--import', 'tsx', here('./in-process.ts')], {
    cwd: here('..'),
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`in-process run failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

// ------------------------------------------------------------------------------------------------
// Loopback: the real server in a child process
async function startEdge(dataDir, port) {
  const child = spawn(
    process.execPath,
    [
      ...(flags.profile ? ['--cpu-prof', '--cpu-prof-dir', flags.profile] : []),
      here('../bin/vireo-edge.mjs'),
      '--port',
      String(port),
      '--data',
      dataDir,
      '--rate-limit',
      '0',
      '--quiet',
    ],
    {
      env: { ...process.env, VIREO_JWT_SECRET: SECRET },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise((ok, fail) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('listening on')) ok();
    });
    child.once('exit', (code) => fail(new Error(`edge exited ${code}`)));
  });
  return child;
}

function cannon(label, url, connections, request) {
  return new Promise((ok, fail) => {
    const samples = [];
    const instance = autocannon({ url, connections, duration: DURATION, requests: [request] }, (err, result) => {
      if (err) return fail(err);
      const good = result['2xx'];
      ok({
        route: label,
        connections,
        duration_s: DURATION,
        req_per_s: Math.round(good / DURATION),
        non_2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        ...percentiles(samples),
      });
    });
    instance.on('response', (_client, _status, _bytes, ms) => samples.push(ms));
  });
}

async function loopback(token) {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-bench-'));
  const port = await freePort();
  const edge = await startEdge(dataDir, port);
  const url = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  try {
    say('loopback: seeding 10,000 users, 10,000 items, 10,000 events…');
    for (const rows of seedRows()) {
      const res = await fetch(`${url}/v1/features/push`, { method: 'POST', headers, body: JSON.stringify({ rows }) });
      if (res.status !== 200) throw new Error(`seed push: ${res.status} ${await res.text()}`);
    }
    for (let b = 0; b < 100; b++)
      await fetch(`${url}/v1/events`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ events: eventBatch(`seed${b}`) }),
      });
    let batch = 0;
    const routes = [
      [
        'GET /v1/users/:id/features',
        {
          method: 'GET',
          path: '/v1/users/u0/features',
          headers,
          setupRequest: (req) => ({ ...req, path: `/v1/users/u${Math.floor(Math.random() * USERS)}/features` }),
        },
      ],
      [
        'POST /v1/features/online (100 users)',
        {
          method: 'POST',
          path: '/v1/features/online',
          headers,
          setupRequest: (req) => ({ ...req, body: JSON.stringify(onlineBody()) }),
        },
      ],
      [
        'POST /v1/events (100 events)',
        {
          method: 'POST',
          path: '/v1/events',
          headers,
          setupRequest: (req) => ({
            ...req,
            body: JSON.stringify({ events: eventBatch(`lb${process.pid}-${batch++}`) }),
          }),
        },
      ],
    ];
    const out = [];
    const only = flags.only ? flags.only.split(',') : null;
    for (const [label, request] of routes) {
      if (only && !only.some((o) => label.toLowerCase().includes(o.toLowerCase()))) continue;
      say(`loopback: ${label}, ${CONNECTIONS} connections, ${DURATION} s…`);
      out.push(await cannon(label, url, CONNECTIONS, request));
      say(`loopback: ${label}, 1 connection, ${DURATION} s…`);
      out.push(await cannon(label, url, 1, request));
    }
    return out;
  } finally {
    edge.kill('SIGTERM');
    await new Promise((ok) => edge.once('exit', ok));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------------
// redis-benchmark against a local redis-server
async function redis() {
  if (flags['skip-redis']) return { skipped: 'skipped with --skip-redis' };
  const version = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (version.status !== 0)
    return { skipped: 'redis-server not installed (apt-get install -y redis-server redis-tools)' };
  const port = await freePort();
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  try {
    for (
      let i = 0;
      i < 50 && spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() !== 'PONG';
      i++
    )
      await new Promise((ok) => setTimeout(ok, 100));
    // Keys for MGET, values of 256 bytes (about one feature row).
    const keys = Array.from({ length: 100 }, (_, i) => `feat:${i}`);
    spawnSync('redis-cli', ['-p', String(port), 'mset', ...keys.flatMap((k) => [k, 'x'.repeat(256)])]);
    const run = (label, connections, args, n) => {
      const r = spawnSync(
        'redis-benchmark',
        ['-p', String(port), '-c', String(connections), '-n', String(n), '-d', '256', '-r', '10000', '--csv', ...args],
        { encoding: 'utf8' },
      );
      const lines = r.stdout.trim().split('\n');
      const head = lines[0].replace(/"/g, '').split(',');
      return lines.slice(1).map((line) => {
        const cells = line.replace(/"/g, '').split(',');
        const row = Object.fromEntries(head.map((h, i) => [h, cells[i]]));
        return {
          command: label ?? row.test,
          connections,
          req_per_s: Math.round(Number(row.rps)),
          p50_ms: Number(row.p50_latency_ms),
          p99_ms: Number(row.p99_latency_ms),
          max_ms: Number(row.max_latency_ms),
        };
      });
    };
    say('redis-benchmark: GET/SET and MGET of 100 keys…');
    return {
      version: version.stdout.trim(),
      results: [
        ...run(null, CONNECTIONS, ['-t', 'get,set'], 400_000),
        ...run(null, 1, ['-t', 'get,set'], 100_000),
        ...run('MGET (100 keys)', CONNECTIONS, ['mget', ...keys], 50_000),
        ...run('MGET (100 keys)', 1, ['mget', ...keys], 20_000),
      ],
    };
  } finally {
    server.kill('SIGTERM');
  }
}

// ------------------------------------------------------------------------------------------------
const startedAt = new Date().toISOString();
const info = machine();
const { signHs256 } = await import('tsx/esm/api').then(({ register }) => {
  register();
  return import('../src/auth/jwt.ts');
});
const token = await signHs256(
  {
    sub: 'bench',
    scope: 'features:read events:write models:publish service',
    exp: Math.floor(Date.now() / 1000) + 3600,
  },
  SECRET,
);
const results = {
  started_at: startedAt,
  machine: info,
  settings: {
    duration_s: DURATION,
    connections: CONNECTIONS,
    sqlite_synchronous: 'normal',
    rate_limit: 'off',
    request_logs: 'off',
  },
};
results.in_process = flags['skip-in-process'] ? [] : inProcess();
results.loopback = await loopback(token);
results.redis = await redis();
results.machine.load_average_at_end = loadavg().map((x) => Math.round(x * 100) / 100);
writeFileSync(flags.results ?? here('./results.json'), `${JSON.stringify(results, null, 2)}\n`);

const ms = (x) => (x === undefined ? '' : x.toFixed(3));
const md = [
  '# Edge benchmark results',
  '',
  `Run ${startedAt} with \`pnpm --filter @vireo/edge-worker bench:edge\` (bench/run.mjs; raw numbers in results.json).`,
  '',
  `Machine: ${info.cpu}, ${info.logical_cpus} logical ` +
    `CPUs${info.hypervisor ? ` (${info.hypervisor} VM)` : ''}, ${info.memory_gb} GB, ${info.os}, Node ${info.node}.`,
  `Load average at start ${info.load_average_at_start.join(' / ')}, at end ` +
    `${results.machine.load_average_at_end.join(' / ')}; process niceness ` +
    `${info.nice}; calibration loop (1e7 iterations of plain JS) ${info.calibration_loop_1e7_ms} ms.`,
  '',
  `Server: \`vireo-edge\` (one Node process, SQLite WAL synchronous=normal, rate limit and request logs off), ` +
    `10,000 users and 10,000 items pushed, 10,000 events. Client: autocannon in a second process, ${DURATION} s ` +
    `per row; latency is measured per response by the client. redis-server ` +
    `${results.redis.version ? results.redis.version.split(' ')[2] : ''} on the same machine ` +
    'with redis-benchmark (256-byte values).',
  '',
  '## Loopback (HTTP, second process)',
  '',
  '| route | connections | req/s | P50 ms | P90 ms | P99 ms |',
  '|---|---:|---:|---:|---:|---:|',
  ...results.loopback.map(
    (r) => `| ${r.route} | ${r.connections} | ${r.req_per_s} | ${ms(r.p50_ms)} | ${ms(r.p90_ms)} | ${ms(r.p99_ms)} |`,
  ),
  '',
  '## redis-benchmark (the yardstick, same run)',
  '',
  ...(results.redis.results
    ? [
        '| command | connections | req/s | P50 ms | P99 ms |',
        '|---|---:|---:|---:|---:|',
        ...results.redis.results.map(
          (r) => `| ${r.command} | ${r.connections} | ${r.req_per_s} | ${ms(r.p50_ms)} | ${ms(r.p99_ms)} |`,
        ),
      ]
    : [`(${results.redis.skipped})`]),
  '',
  '## In-process (app.request(), one at a time, no network)',
  '',
  '| route | n | P50 ms | P90 ms | P99 ms |',
  '|---|---:|---:|---:|---:|',
  ...results.in_process.map((r) => `| ${r.route} | ${r.n} | ${ms(r.p50_ms)} | ${ms(r.p90_ms)} | ${ms(r.p99_ms)} |`),
  '',
];
writeFileSync(here(flags.out ?? './RESULTS.generated.md'), md.join('\n'));
process.stdout.write(md.join('\n'));
