// `vireo-edge`: start the Node edge, mint a token, or write a wrangler.toml to deploy the edge to Cloudflare.
//   vireo-edge [--dev] [--port 8787] [--host 127.0.0.1] [--data ./.vireo] [--cors ORIGINS] [--rate-limit RPS] …
//   vireo-edge token --sub ID [--scope "features:read events:write"] [--ttl 1h] [--data ./.vireo]
//   vireo-edge init-worker [--out wrangler.toml] [--name vireo-edge] [--force]
import cluster from 'node:cluster';
import { mkdirSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { flagErrorMessage } from '@vireo/core';
import { resolve } from 'node:path';
import { SCOPES, signHs256 } from './auth/jwt.ts';
import { developmentToken, resolveSecret, SecretError, startNodeServer } from './node.ts';
import { EDGE_VERSION } from './app.ts';
import { ID_PATTERN } from './schemas.ts';
import { openSqliteStorage, SqliteUnavailableError } from './storage/sqlite.ts';
import { initWorker, InitWorkerError } from './deploy/init-worker.ts';
import { primaryIngest, serveWorkerIngest } from './storage/cluster-ingest.ts';

const USAGE = `usage:
  vireo-edge [flags]          start the edge (feature store, events, model registry) on Node
    --port N                  port (default 8787, or $PORT; 0 picks a free one)
    --host H                  address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
    --data DIR                data folder: SQLite database, model files, dev secret (default ./.vireo)
    --cors ORIGINS            comma-separated origins allowed by CORS, or '*' (default none)
    --rate-limit RPS          sustained requests/s per token subject, 0 = off (default 1000)
    --sync normal|full        SQLite durability: normal survives a crash of the process, full also power
                              loss (default normal)
    --spec-model NAME         model whose feature spec validates pushes (default: the last promoted)
    --workers N               serve from N processes (node:cluster) sharing the port and the SQLite database
                              (WAL); each takes 1/N of --rate-limit; the primary process writes every
                              worker's event batches (default 1)
    --keep-alive SECONDS      how long an idle kept-alive connection stays open (default 130: longer than the
                              idle timeout of the proxy in front: nginx and AWS load balancers 60 s, Caddy 120 s)
    --quiet                   no request logs
    --dev                     without VIREO_JWT_SECRET: generate (or reuse) a development secret in the
                              data folder and print a development token (every scope, service included)
  vireo-edge --version        print the version
  vireo-edge token [flags]    print a token signed with the edge's secret ($VIREO_JWT_SECRET or the --dev one)
    --sub ID (required)  --scope "S1 S2" (default "features:read events:write")  --ttl 1h|30m|2d|SECONDS (default 1h)
    --data DIR  --iss ISSUER  --aud AUDIENCE
  vireo-edge init-worker      write a wrangler.toml that deploys this package's Worker to Cloudflare (D1, KV, R2)
    --out FILE (default wrangler.toml)  --name WORKER (default vireo-edge)  --force (replace FILE)

environment: VIREO_JWT_SECRET (HS256 secret, 32+ random characters), VIREO_JWKS_URL (verify RS256 tokens
             instead), VIREO_JWT_ISSUER / VIREO_JWT_AUDIENCE (required iss / aud), VIREO_SPEC_MODEL.
scopes: features:read, events:write (a token acts for the user in its sub only), models:publish,
        service (act for any user: backends, never browsers), events:export and features:export (read
        every user's events and every entity's pushed features back: the trainer, never browsers).
`;

/** A mistake in the command line: one sentence, exit 2. */
export class CliError extends Error {}

/** The data folder, created if missing; a path that cannot be one is the user's mistake (one sentence). */
function dataFolder(dir: string): string {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR')
      throw new CliError(`--data ${dir}: a file is in the way, and the data folder must be a folder.`);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
      throw new CliError(`--data ${dir}: cannot create the data folder there (${code}); choose a writable place.`);
    throw err;
  }
  return dir;
}

function intFlag(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new CliError(`--${name} must be an integer in [${min}, ${max}], got '${value}'.`);
  return n;
}

function parse(argv: string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<
      string,
      string | boolean | undefined
    >;
  } catch (err) {
    throw new CliError(`${flagErrorMessage(err, Object.keys(options)).replace(/\.$/, '')}; see vireo-edge --help.`);
  }
}

/** Parses a duration: 90 (seconds), 30m, 1h, 2d. */
export function parseTtl(value: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(value.trim());
  const seconds = m
    ? Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd']
    : NaN;
  if (!Number.isSafeInteger(seconds) || seconds < 1 || seconds > 10 * 365 * 86400)
    throw new CliError(`--ttl must be a duration such as 90, 30m, 1h or 2d (at most 10 years), got '${value}'.`);
  return seconds;
}

/**
 * `token --sub ID --scope "..." --ttl 1h`: a token signed with the edge's secret (VIREO_JWT_SECRET,
 * else the development secret of the data folder), printed on stdout. Returns the exit code.
 * @example await tokenCommand(['--sub', 'u1', '--scope', 'features:read events:write', '--ttl', '1h']);
 */
export async function tokenCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const v = parse(argv, {
    data: { type: 'string' },
    sub: { type: 'string' },
    scope: { type: 'string' },
    ttl: { type: 'string' },
    iss: { type: 'string' },
    aud: { type: 'string' },
  });
  const sub = v.sub as string | undefined;
  if (!sub) throw new CliError('--sub is required: the user id the token acts for (e.g. --sub u1).');
  const scopes = ((v.scope as string) ?? 'features:read events:write').split(/\s+/).filter(Boolean);
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s) && s !== 'admin');
  if (unknown.length > 0)
    throw new CliError(`--scope: unknown scope '${unknown[0]}': expected some of ${SCOPES.join(', ')}.`);
  // A visitor's token acts for the user in its sub: an id the routes refuse would make a token refused everywhere.
  if (!scopes.includes('service') && !scopes.includes('admin') && !ID_PATTERN.test(sub))
    throw new CliError(
      `--sub '${sub}' is not a user id the edge takes (letters, digits and . _ : @ + - |, at most 128 characters, ` +
        'starting with a letter or digit); a token with the service scope may have any sub.',
    );
  const ttl = parseTtl((v.ttl as string) ?? '1h');
  const dataDir = resolve((v.data as string) ?? env.VIREO_DATA ?? './.vireo');
  const { secret } = resolveSecret(dataDir, env, { dev: true, generate: false });
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    sub,
    scope: scopes.join(' '),
    iat: now,
    exp: now + ttl,
    ...(((v.iss as string) ?? env.VIREO_JWT_ISSUER) ? { iss: (v.iss as string) ?? env.VIREO_JWT_ISSUER } : {}),
    ...(((v.aud as string) ?? env.VIREO_JWT_AUDIENCE) ? { aud: (v.aud as string) ?? env.VIREO_JWT_AUDIENCE } : {}),
  };
  process.stdout.write(`${await signHs256(claims, secret)}\n`);
  return 0;
}

async function start(argv: string[]): Promise<number | null> {
  const v = parse(argv, {
    port: { type: 'string' },
    host: { type: 'string' },
    data: { type: 'string' },
    cors: { type: 'string' },
    'rate-limit': { type: 'string' },
    sync: { type: 'string' },
    'spec-model': { type: 'string' },
    quiet: { type: 'boolean' },
    dev: { type: 'boolean' },
    workers: { type: 'string' },
    'keep-alive': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const sync = (v.sync as string) ?? 'normal';
  if (sync !== 'normal' && sync !== 'full') throw new CliError(`--sync must be normal or full, got '${sync}'.`);
  const workers = intFlag(v.workers as string, 'workers', 1, 1, 256);
  const port = intFlag((v.port as string) ?? process.env.PORT, 'port', 8787, 0, 65535);
  const rate = intFlag(v['rate-limit'] as string, 'rate-limit', 1000, 0, 10_000_000);
  const keepAlive = intFlag(v['keep-alive'] as string, 'keep-alive', 130, 1, 3600);
  const dataDir = dataFolder((v.data as string) ?? process.env.VIREO_DATA ?? './.vireo');
  if (workers > 1 && cluster.isPrimary) return primary(argv, workers, { dataDir, dev: v.dev === true, sync });
  const edge = await startNodeServer({
    port,
    host: (v.host as string) ?? '127.0.0.1',
    dataDir,
    corsOrigins: ((v.cors as string) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    // Each worker accepts about 1/N of the connections: each limits its share.
    rateLimitPerSecond: cluster.isWorker && rate > 0 ? Math.max(1, Math.ceil(rate / workers)) : rate,
    synchronous: sync,
    keepAliveTimeoutMs: keepAlive * 1000,
    specModel: (v['spec-model'] as string) ?? null,
    log: v.quiet ? null : undefined,
    dev: v.dev === true,
    // --workers: the primary writes every worker's event batches (storage/cluster-ingest.ts).
    eventIngest: cluster.isWorker && workers > 1 ? primaryIngest() : undefined,
  });
  const say = (line: string) => process.stderr.write(`vireo-edge: ${line}\n`);
  if (cluster.isWorker) {
    // The primary prints the banner once; a worker reports where it listens and drains on SIGTERM.
    process.send?.({ listening: edge.url });
    process.on('SIGTERM', () =>
      edge.close().then(
        () => process.exit(0),
        () => process.exit(1),
      ),
    );
    process.on('SIGINT', () => undefined);
    return null;
  }
  say(`data in ${edge.dataDir} (SQLite WAL, synchronous=${sync}); API description at ${edge.url}/openapi.json`);
  if (edge.secret.origin === 'generated' || edge.secret.origin === 'data-folder') {
    const what = edge.secret.origin === 'generated' ? 'generated a development secret' : 'using the development secret';
    say(`--dev: ${what} in ${edge.secret.path} (set VIREO_JWT_SECRET in production)`);
    // The label has no ':' before the token (scripts read what follows the first ': ').
    process.stdout.write(
      `development token (every scope, service included, 30 days): ${await developmentToken(edge.secret.secret)}\n`,
    );
  }
  // Last line: scripts wait for it.
  process.stdout.write(`vireo-edge listening on ${edge.url}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: draining in-flight requests…`);
    edge.close().then(
      () => {
        say('stopped cleanly (database closed).');
        process.exit(0);
      },
      (err) => {
        say(`stop failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return null;
}

/**
 * The primary of `--workers N`: creates the data folder's secret (--dev) and schema once, forks N
 * workers that share the port (node:cluster) and the SQLite database (WAL), writes their event batches
 * (storage/cluster-ingest.ts), prints the banner when all listen, replaces a worker that dies, and on
 * SIGTERM/SIGINT stops them all (each drains), then closes its own connection.
 */
async function primary(
  argv: string[],
  workers: number,
  o: { dataDir: string; dev: boolean; sync: string },
): Promise<number | null> {
  const say = (line: string) => process.stderr.write(`vireo-edge: ${line}\n`);
  const dataDir = resolve(o.dataDir);
  const secret = resolveSecret(dataDir, process.env, { dev: o.dev, jwks: Boolean(process.env.VIREO_JWKS_URL) });
  // Migrations run here once, not in N processes at the same time. The primary keeps its connection: it writes the
  // workers' event batches, one group commit for all (storage/cluster-ingest.ts).
  const writer = openSqliteStorage({ dataDir, synchronous: o.sync === 'full' ? 'full' : 'normal', readCacheRows: 0 });
  // Each worker accepts its own connections from the shared socket (SCHED_NONE) rather than the primary
  // handing them over (round-robin): a connection handed to a worker as it is killed is never answered
  // nor closed (the primary waits forever for the dead worker's reply; node.test.ts, "--workers under
  // SIGKILL"). One accept at a time per worker (UV_TCP_SINGLE_ACCEPT) spreads a burst of connections.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  process.env.UV_TCP_SINGLE_ACCEPT ??= '1';
  cluster.setupPrimary({ exec: process.argv[1], args: argv, silent: false });
  let stopping = false;
  const urls: string[] = [];
  const fork = () => {
    const worker = cluster.fork();
    serveWorkerIngest(worker, writer.events.ingest);
    worker.on('message', (m: { listening?: string }) => {
      if (typeof m?.listening === 'string') urls.push(m.listening);
    });
    return worker;
  };
  const started = Array.from({ length: workers }, fork);
  const failed = await new Promise<boolean>((ok) => {
    const check = setInterval(() => {
      if (urls.length >= workers) {
        clearInterval(check);
        ok(false);
      }
    }, 10);
    for (const w of started)
      w.once('exit', () => {
        if (urls.length < workers) {
          clearInterval(check);
          ok(true);
        }
      });
  });
  if (failed) {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    say('a worker exited before listening (see its message above).');
    await writer.close();
    return 1;
  }
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    say(`worker ${worker.process.pid} exited (${signal ?? code}); starting another.`);
    fork();
  });
  say(
    `${workers} workers; data in ${dataDir} (SQLite WAL, synchronous=${o.sync}); ` +
      `API description at ${urls[0]}/openapi.json`,
  );
  if (secret.origin === 'generated' || secret.origin === 'data-folder') {
    const what = secret.origin === 'generated' ? 'generated a development secret' : 'using the development secret';
    say(`--dev: ${what} in ${secret.path} (set VIREO_JWT_SECRET in production)`);
    process.stdout.write(
      `development token (every scope, service included, 30 days): ${await developmentToken(secret.secret)}\n`,
    );
  }
  process.stdout.write(`vireo-edge listening on ${urls[0]}\n`);
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: draining in-flight requests in ${workers} workers…`);
    const all = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
    let left = all.length;
    // The workers drain first (their in-flight batches still reach this writer), then the writer closes.
    const done = () =>
      writer.close().then(
        () => {
          say('stopped cleanly (databases closed).');
          process.exit(0);
        },
        (err) => {
          say(`stop failed: ${(err as Error).message}`);
          process.exit(1);
        },
      );
    if (left === 0) return void done();
    for (const w of all) {
      w.once('exit', () => {
        if (--left === 0) void done();
      });
      w.kill('SIGTERM');
    }
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return null;
}

/** Runs the CLI; returns the exit code, or null while the server runs. */
export async function main(argv: string[]): Promise<number | null> {
  try {
    if (argv[0] === 'token') return await tokenCommand(argv.slice(1));
    if (argv[0] === 'init-worker') {
      const v = parse(argv.slice(1), { out: { type: 'string' }, name: { type: 'string' }, force: { type: 'boolean' } });
      process.stdout.write(
        initWorker({
          out: (v.out as string) ?? 'wrangler.toml',
          name: (v.name as string) ?? 'vireo-edge',
          force: v.force === true,
        }),
      );
      return 0;
    }
    if (argv[0] === '--version' || argv[0] === '-v') {
      process.stdout.write(`vireo-edge ${EDGE_VERSION}\n`);
      return 0;
    }
    if (argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
      process.stdout.write(USAGE);
      return 0;
    }
    return await start(argv);
  } catch (err) {
    // The user's mistakes exit 2; a SQLite driver that cannot load (the machine's, not the command line's) exits 1.
    if ([CliError, SecretError, InitWorkerError, SqliteUnavailableError].some((c) => err instanceof c)) {
      process.stderr.write(`vireo-edge: ${(err as Error).message}\n`);
      return err instanceof SqliteUnavailableError ? 1 : 2;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      process.stderr.write(`vireo-edge: cannot listen: ${(err as Error).message}; choose another --port or --host.\n`);
      return 1;
    }
    throw err;
  }
}
