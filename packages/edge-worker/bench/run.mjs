#!/usr/bin/env node
// Loopback benchmark of the Node edge (not a test): the server runs in its own process (with
// --workers 1, then 2), autocannon drives it from this one; beside it the bare Hono + better-sqlite3
// one-row handler (its GET rows taken between the edge's) and 100-event insert (bare-server.mjs), the stack's own
// limit. Routes: GET /v1/users/:id/features,
// POST /v1/features/online (100 users), POST /v1/events (100 events), and GET features during event batches (16
// connections each, at the same time). Beside it, in the same run,
// redis-benchmark GET/SET (and MGET of 100 keys) against a local redis-server, the reference
// design's online store, as the yardstick;
// and the same routes in-process through app.request(). Writes bench/results.json and bench/RESULTS.md.
// pnpm --filter @vireo/edge-worker bench:edge [-- --duration 10 --connections 32 --out RESULTS.md --results
// results.json --skip-in-process --workers 1,2 --only get,events --profile DIR (node --cpu-prof of the edge)
// --dist (the built dist/node/vireo-edge.js of `pnpm build` instead of the sources: profiles with line numbers)
// --bin PATH (another vireo-edge entry point, e.g. an earlier commit's bin/ beside its src/: a before/after)
// --cold (GET rows without reading every user first: the edge's kept answers and SQLite's pages not warmed)
// --client wrk|autocannon (what drives the GET rows; default wrk where installed: a C client on one thread, as
// redis-benchmark is, so that the load generator takes as little of the shared cores on each side)]
import autocannon from 'autocannon';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, getPriority, loadavg, totalmem, tmpdir, type as osType, release } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { eventBatch, ITEMS, onlineBody, percentiles, seedRows, USERS } from './workload.mjs';

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
    workers: { type: 'string' },
    dist: { type: 'boolean' },
    bin: { type: 'string' },
    cold: { type: 'boolean' },
    client: { type: 'string' },
  },
});
const DURATION = Number(flags.duration ?? 10);
const CONNECTIONS = Number(flags.connections ?? 32);
const WARMUP = Math.min(2, DURATION / 2);
const SECRET = 'bench-secret-0123456789abcdef-ghijklmnop';
const say = (m) => process.stderr.write(`bench: ${m}\n`);
/** wrk's version from its usage line ("wrk 4.1.0 [epoll] …", Debian's "wrk debian/4.1.0-3+b2 …"); null without wrk. */
const WRK_VERSION = (() => {
  const r = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  return r.error ? null : (/wrk (?:\S*\/)?(\d[\d.]*)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? '');
})();
const HAS_WRK = WRK_VERSION !== null;
/** What drives the GET rows: wrk (C, one thread) where installed, else autocannon (JS, in this process). */
const GET_CLIENT = flags.client ?? (HAS_WRK ? 'wrk' : 'autocannon');
if (!['wrk', 'autocannon'].includes(GET_CLIENT)) {
  process.stderr.write(`bench: --client must be wrk or autocannon, not '${GET_CLIENT}'.\n`);
  process.exit(2);
}
if (GET_CLIENT === 'wrk' && !HAS_WRK) {
  process.stderr.write('bench: --client wrk needs wrk on the PATH (apt-get install -y wrk).\n');
  process.exit(2);
}

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
async function startChild(args, ready = 'listening on') {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, VIREO_JWT_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((ok, fail) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes(ready)) ok();
    });
    child.once('exit', (code) => fail(new Error(`${args[0]} exited ${code}`)));
  });
  return child;
}

const startEdge = (dataDir, port, workers) =>
  startChild([
    ...(flags.profile ? ['--cpu-prof', '--cpu-prof-dir', flags.profile] : []),
    flags.bin ?? here(flags.dist ? '../dist/node/vireo-edge.js' : '../bin/vireo-edge.mjs'),
    '--port',
    String(port),
    '--data',
    dataDir,
    '--rate-limit',
    '0',
    '--quiet',
    ...(workers > 1 ? ['--workers', String(workers)] : []),
  ]);

async function stopChild(child) {
  child.kill('SIGTERM');
  await new Promise((ok) => (child.exitCode !== null ? ok() : child.once('exit', ok)));
}

/** CPU seconds used by this process's waited-for children so far (redis-benchmark), from /proc (Linux). */
function childCpuSeconds() {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return null;
  }
}

/** CPU seconds used so far by a process and its children (the cluster's workers), from /proc (Linux). */
function processCpuSeconds(pid) {
  try {
    const ticks = 100; // USER_HZ on Linux
    const one = (p) => {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / ticks;
    };
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return [pid, ...children].reduce((sum, p) => sum + one(p), 0);
  } catch {
    return null;
  }
}

/**
 * One autocannon run of DURATION seconds (after `warmup` seconds whose answers are not counted): req/s,
 * latency percentiles per response, and the CPU the load generator (this process) and the server took
 * during it, in cores (1 = one core busy the whole time), with the 1-minute load average at its end.
 */
async function cannon(label, url, connections, request, server, warmup = 0) {
  const run = (duration, samples) =>
    new Promise((ok, fail) => {
      const instance = autocannon({ url, connections, duration, requests: [request] }, (err, result) =>
        err ? fail(err) : ok(result),
      );
      if (samples) instance.on('response', (_client, _status, _bytes, ms) => samples.push(ms));
    });
  if (warmup > 0) await run(warmup, null);
  const samples = [];
  const cpu0 = process.cpuUsage();
  const server0 = processCpuSeconds(server.pid);
  const t0 = performance.now();
  const result = await run(DURATION, samples);
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const server1 = processCpuSeconds(server.pid);
  const good = result['2xx'];
  return {
    route: label,
    client: 'autocannon',
    connections,
    duration_s: DURATION,
    req_per_s: Math.round(good / DURATION),
    non_2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    ...percentiles(samples),
    ...cpuFigures((cpu.user + cpu.system) / 1e6, server0, server1, wall, good),
  };
}

const round2 = (x) => Math.round(x * 100) / 100;

/**
 * The CPU columns of a row: the client's and the server's cores over `wall` seconds, the server's CPU time per
 * answered request (what a request costs, whatever else runs on the machine), and the 1-minute load average.
 */
function cpuFigures(clientSeconds, server0, server1, wall, good) {
  const server = server0 === null || server1 === null ? null : server1 - server0;
  return {
    client_cpu_cores: clientSeconds === null ? null : round2(clientSeconds / wall),
    server_cpu_cores: server === null ? null : round2(server / wall),
    server_cpu_ms_per_req: server === null || good === 0 ? null : round2((server * 1000) / good),
    load_1m: round2(loadavg()[0]),
  };
}

/**
 * One wrk run (C, one thread) of DURATION seconds after `warmup` seconds, GETting `${prefix}${random user}${suffix}`:
 * the same figures as cannon(). wrk's own CPU is read from this process's reaped children (spawnSync waits for it),
 * its latency percentiles from its histogram (per response, like autocannon's).
 */
function wrk(label, url, connections, { prefix, suffix, headers = {} }, server, warmup = 0) {
  const dir = mkdtempSync(join(tmpdir(), 'vireo-bench-wrk-'));
  const script = join(dir, 'get.lua');
  writeFileSync(
    script,
    [
      `local prefix, suffix, users = ${JSON.stringify(prefix)}, ${JSON.stringify(suffix)}, ${USERS}`,
      'math.randomseed(1)',
      'request = function() return wrk.format("GET", prefix .. math.random(0, users - 1) .. suffix) end',
      'done = function(s, latency)',
      '  local e = s.errors',
      '  io.write(string.format("WRK {\\"requests\\":%d,\\"duration_us\\":%d," ..',
      '    "\\"p50\\":%d,\\"p90\\":%d,\\"p99\\":%d," ..',
      '    "\\"status\\":%d,\\"socket\\":%d,\\"timeout\\":%d}\\n", s.requests, s.duration, latency:percentile(50),',
      '    latency:percentile(90), latency:percentile(99), e.status, e.connect + e.read + e.write, e.timeout))',
      'end',
      '',
    ].join('\n'),
  );
  const args = (seconds) => [
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '--timeout',
    '10s',
    '-s',
    script,
    ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
    url,
  ];
  const run = (seconds) => {
    const r = spawnSync('wrk', args(seconds), { encoding: 'utf8' });
    const line = r.stdout?.split('\n').find((l) => l.startsWith('WRK '));
    if (r.status !== 0 || !line) throw new Error(`wrk failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`);
    return JSON.parse(line.slice(4));
  };
  try {
    if (warmup > 0) run(Math.max(1, Math.round(warmup)));
    const cpu0 = childCpuSeconds();
    const server0 = processCpuSeconds(server.pid);
    const t0 = performance.now();
    const w = run(DURATION);
    const wall = (performance.now() - t0) / 1000;
    const cpu1 = childCpuSeconds();
    const server1 = processCpuSeconds(server.pid);
    const good = w.requests - w.status;
    return {
      route: label,
      client: 'wrk',
      connections,
      duration_s: DURATION,
      req_per_s: Math.round(good / (w.duration_us / 1e6)),
      non_2xx: w.status,
      errors: w.socket,
      timeouts: w.timeout,
      p50_ms: w.p50 / 1000,
      p90_ms: w.p90 / 1000,
      p99_ms: w.p99 / 1000,
      ...cpuFigures(cpu0 === null || cpu1 === null ? null : cpu1 - cpu0, server0, server1, wall, good),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const GET_CONNECTIONS = [1, 32, 128];
/** The mixed rows: GET features and event batches driven at the same time, this many connections each. */
const MIXED_CONNECTIONS = 16;
const DURING = 'during';

/**
 * Reads every user `times` times, 16 requests in flight, before the GET rows (unless --cold): the rows then
 * measure warm caches (the edge's kept answers, SQLite's pages), as medians and P99 after warm-up should.
 * With --workers N each user is read N times (a worker keeps its own answers; which one answers is the kernel's).
 */
async function readEveryUser(urlOf, headers, times) {
  if (flags.cold) return;
  say(`reading each of ${USERS} users ${times === 1 ? 'once' : `${times} times`} first…`);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < USERS * times) {
        const res = await fetch(urlOf(`u${next++ % USERS}`), { headers });
        if (res.status !== 200) throw new Error(`warm-up read: ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      }
    }),
  );
}

/** The edge's rows with `workers` processes; `peerRows`, when given, receives the bare peer's GET rows, each taken
 * right after the edge's row at the same connections. */
async function loopback(token, workers, peerRows) {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-bench-'));
  const port = await freePort();
  const edge = await startEdge(dataDir, port, workers);
  const url = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  try {
    say(`loopback (${workers} worker${workers > 1 ? 's' : ''}): seeding 10,000 users, 10,000 items, 10,000 events…`);
    for (const rows of seedRows()) {
      const res = await fetch(`${url}/v1/features/push`, { method: 'POST', headers, body: JSON.stringify({ rows }) });
      if (res.status !== 200) throw new Error(`seed push: ${res.status} ${await res.text()}`);
    }
    for (let b = 0; b < 100; b++)
      await fetch(`${url}/v1/events`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ events: eventBatch(`seed${workers}-${b}`) }),
      });
    let batch = 0;
    const get = {
      method: 'GET',
      path: '/v1/users/u0/features',
      headers,
      setupRequest: (req) => ({ ...req, path: `/v1/users/u${Math.floor(Math.random() * USERS)}/features` }),
    };
    const events = {
      method: 'POST',
      path: '/v1/events',
      headers,
      setupRequest: (req) => ({
        ...req,
        body: JSON.stringify({ events: eventBatch(`lb${process.pid}-${workers}-${batch++}`) }),
      }),
    };
    const routes = [
      ['GET /v1/users/:id/features', get, GET_CONNECTIONS],
      [
        'POST /v1/features/online (100 users)',
        {
          method: 'POST',
          path: '/v1/features/online',
          headers,
          setupRequest: (req) => ({ ...req, body: JSON.stringify(onlineBody()) }),
        },
        workers === 1 ? [32, 1] : [],
      ],
      ['POST /v1/events (100 events)', events, workers === 1 ? [32, 1] : [32]],
    ];
    const out = [];
    const only = flags.only ? flags.only.split(',') : null;
    for (const [label, request, connections] of routes) {
      if (only && !only.some((o) => label.toLowerCase().includes(o.toLowerCase()))) continue;
      let peer = null;
      if (request === get) {
        await readEveryUser((id) => `${url}/v1/users/${id}/features`, headers, workers);
        if (peerRows) peer = await startBare();
      }
      try {
        for (const [i, c] of connections.entries()) {
          say(`loopback (${workers}): ${label}, ${c} connections, ${DURATION} s…`);
          const warm = i === 0 ? WARMUP : 0;
          const row =
            request === get && GET_CLIENT === 'wrk'
              ? wrk(label, url, c, { prefix: '/v1/users/u', suffix: '/features', headers: get.headers }, edge, warm)
              : await cannon(label, url, c, request, edge, warm);
          row.workers = workers;
          if (label.includes('events')) row.events_per_s = row.req_per_s * 100;
          out.push(row);
          if (peer) peerRows.push(await peer.row(c, i === 0 ? WARMUP : 0));
        }
      } finally {
        await peer?.stop();
      }
    }
    // Reads while batches are written: GET features and event batches at MIXED_CONNECTIONS each, at the same time.
    const mixed = [
      `GET /v1/users/:id/features ${DURING} POST /v1/events`,
      `POST /v1/events (100 events) ${DURING} GET`,
    ];
    if (!only || only.some((o) => mixed.some((m) => m.toLowerCase().includes(o.toLowerCase())))) {
      say(
        `loopback (${workers}): ${mixed[0]}, ${MIXED_CONNECTIONS} + ${MIXED_CONNECTIONS} connections, ${DURATION} s…`,
      );
      const rows = await Promise.all([
        cannon(mixed[0], url, MIXED_CONNECTIONS, get, edge, WARMUP),
        cannon(mixed[1], url, MIXED_CONNECTIONS, events, edge, WARMUP),
      ]);
      for (const row of rows) {
        // Both rows share the client's and the server's CPU: the cores are the pair's, per request means nothing.
        row.workers = workers;
        row.server_cpu_ms_per_req = null;
        if (row.route.startsWith('POST')) row.events_per_s = row.req_per_s * 100;
        out.push(row);
      }
    }
    return out;
  } finally {
    await stopChild(edge);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The peer: bare Hono + @hono/node-server + better-sqlite3 reading one row (bench/bare-server.mjs), started and
 * warmed (every user read once); `row(c, warmup)` measures it at c connections. loopback() runs its rows between the
 * edge's GET rows, so each ratio compares rows taken a few seconds apart on a machine whose speed drifts.
 */
async function startBare() {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-bench-bare-'));
  const port = await freePort();
  const server = await startChild([here('./bare-server.mjs'), '--port', String(port), '--data', dataDir]);
  const request = {
    method: 'GET',
    path: '/users/u0/features',
    setupRequest: (req) => ({ ...req, path: `/users/u${Math.floor(Math.random() * USERS)}/features` }),
  };
  try {
    await readEveryUser((id) => `http://127.0.0.1:${port}/users/${id}/features`, {}, 1);
  } catch (err) {
    await stopChild(server);
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    row(c, warmup) {
      say(`bare Hono + better-sqlite3: GET one row, ${c} connections, ${DURATION} s…`);
      const label = 'GET one row (bare Hono + better-sqlite3)';
      const url = `http://127.0.0.1:${port}`;
      return GET_CLIENT === 'wrk'
        ? wrk(label, url, c, { prefix: '/users/u', suffix: '/features' }, server, warmup)
        : cannon(label, url, c, request, server, warmup);
    },
    async stop() {
      await stopChild(server);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The peer's GET rows on their own (when no --workers 1 run took them between the edge's rows). */
async function bare() {
  const peer = await startBare();
  try {
    const out = [];
    for (const [i, c] of GET_CONNECTIONS.entries()) out.push(await peer.row(c, i === 0 ? WARMUP : 0));
    return out;
  } finally {
    await peer.stop();
  }
}

/**
 * The events peer: the same 100-event bodies stored as 100 rows of one table, one index; with `realtime`,
 * as the edge's rows (event, history, counters, activity) written one by one (bench/bare-server.mjs).
 */
async function bareEvents(realtime = false) {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-bench-bare-'));
  const port = await freePort();
  const server = await startChild([
    here('./bare-server.mjs'),
    '--port',
    String(port),
    '--data',
    dataDir,
    '--rows',
    '0',
    ...(realtime ? ['--realtime', '--items', String(ITEMS)] : []),
  ]);
  try {
    let batch = 0;
    const request = {
      method: 'POST',
      path: '/events',
      headers: { 'content-type': 'application/json' },
      setupRequest: (req) => ({
        ...req,
        body: JSON.stringify({ events: eventBatch(`bare${process.pid}-${batch++}`) }),
      }),
    };
    const out = [];
    for (const [i, c] of [32, 1].entries()) {
      const what = realtime ? "the edge's writes row by row" : 'one table';
      say(`bare Hono + better-sqlite3 (${what}): POST 100 events, ${c} connections, ${DURATION} s…`);
      const label = `POST 100 events (bare Hono + better-sqlite3${realtime ? `, ${what}` : ''})`;
      const row = await cannon(label, `http://127.0.0.1:${port}`, c, request, server, i === 0 ? WARMUP : 0);
      row.events_per_s = row.req_per_s * 100;
      out.push(row);
    }
    return out;
  } finally {
    await stopChild(server);
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
      const cpu0 = childCpuSeconds();
      const t0 = performance.now();
      const r = spawnSync(
        'redis-benchmark',
        ['-p', String(port), '-c', String(connections), '-n', String(n), '-d', '256', '-r', '10000', '--csv', ...args],
        { encoding: 'utf8' },
      );
      const wall = (performance.now() - t0) / 1000;
      const cpu1 = childCpuSeconds();
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
          // redis-benchmark's own CPU over the whole call (all its tests), in cores.
          client_cpu_cores: cpu0 === null || cpu1 === null ? null : Math.round(((cpu1 - cpu0) / wall) * 100) / 100,
          load_1m: Math.round(loadavg()[0] * 100) / 100,
        };
      });
    };
    say('redis-benchmark: GET/SET and MGET of 100 keys…');
    return {
      version: version.stdout.trim(),
      results: [
        ...run(null, CONNECTIONS, ['-t', 'get,set'], 400_000),
        ...run(null, 1, ['-t', 'get,set'], 100_000),
        ...run(null, 128, ['-t', 'get'], 400_000),
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
    warmup_s: WARMUP,
    get_warmup: flags.cold ? 'none (--cold)' : 'every user read once per worker before the GET rows',
    get_client: GET_CLIENT === 'wrk' ? `wrk ${WRK_VERSION} (one thread)` : 'autocannon',
  },
};
results.in_process = flags['skip-in-process'] ? [] : inProcess();
results.loopback = [];
const wantBare = !flags.only || flags.only.includes('get');
const peerRows = [];
for (const w of (flags.workers ?? '1,2').split(',').map(Number))
  results.loopback.push(...(await loopback(token, w, w === 1 && wantBare && peerRows.length === 0 ? peerRows : null)));
results.bare = !wantBare ? [] : peerRows.length > 0 ? peerRows : await bare();
const wantEvents = !flags.only || flags.only.includes('events');
results.bare_events = wantEvents ? await bareEvents() : [];
results.bare_realtime = wantEvents ? await bareEvents(true) : [];
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
  `Server: \`vireo-edge\` (\`--workers\` 1 and 2, SQLite WAL synchronous=normal, rate limit and request logs off), ` +
    `10,000 users and 10,000 items pushed, 10,000 events. Client: autocannon in a second process, ${DURATION} s ` +
    `per row (the GET rows: ${results.settings.get_client}); latency is measured per response by the client. GET ` +
    `rows: ${results.settings.get_warmup}. redis-server ` +
    `${results.redis.version ? results.redis.version.split(' ')[2] : ''} on the same machine ` +
    'with redis-benchmark (256-byte values).',
  '',
  '## Loopback (HTTP, second process)',
  '',
  '| route | workers | connections | req/s | events/s | P50 ms | P90 ms | P99 ms | client CPU | server CPU | ' +
    'server CPU ms / req | load |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...[...results.loopback, ...results.bare, ...results.bare_events, ...results.bare_realtime].map(
    (r) =>
      `| ${r.route} | ${r.workers ?? 1} | ${r.connections} | ${r.req_per_s} | ${r.events_per_s ?? ''} | ` +
      `${ms(r.p50_ms)} | ${ms(r.p90_ms)} | ${ms(r.p99_ms)} | ${r.client_cpu_cores} | ${r.server_cpu_cores} | ` +
      `${r.server_cpu_ms_per_req} | ${r.load_1m} |`,
  ),
  '',
  'CPU in cores (1 = one core busy for the whole row): the load generator (autocannon in this process, or wrk) ' +
    'and the server (with its workers); load = 1-minute load average at the end of the row.',
  '',
  '## redis-benchmark (the yardstick, same run)',
  '',
  ...(results.redis.results
    ? [
        '| command | connections | req/s | P50 ms | P99 ms | client CPU |',
        '|---|---:|---:|---:|---:|---:|',
        ...results.redis.results.map(
          (r) =>
            `| ${r.command} | ${r.connections} | ${r.req_per_s} | ${ms(r.p50_ms)} | ${ms(r.p99_ms)} | ` +
            `${r.client_cpu_cores} |`,
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
