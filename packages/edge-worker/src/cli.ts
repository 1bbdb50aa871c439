// `vireo-edge`: start the Node edge, or mint a token.
//   vireo-edge [--port 8787] [--host 127.0.0.1] [--data ./.vireo] [--cors ORIGINS] [--rate-limit RPS] [--sync normal|full] [--quiet]
//   vireo-edge token [--data ./.vireo] [--sub NAME] [--scope "features:read events:write"] [--ttl SECONDS]
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolve } from 'node:path';
import { SCOPES, signHs256 } from './auth/jwt.ts';
import { developmentToken, resolveSecret, startNodeServer } from './node.ts';
import { EDGE_VERSION } from './app.ts';

const USAGE = `usage:
  vireo-edge [flags]          start the edge (feature store, events, model registry) on Node
    --port N                  port (default 8787, or $PORT; 0 picks a free one)
    --host H                  address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
    --data DIR                data folder: SQLite database, model files, dev secret (default ./.vireo)
    --cors ORIGINS            comma-separated origins allowed by CORS, or '*' (default none)
    --rate-limit RPS          sustained requests/s per token subject, 0 = off (default 1000)
    --sync normal|full        SQLite durability: normal survives a crash of the process, full also power loss (default normal)
    --spec-model NAME         model whose feature spec validates pushes (default: the last promoted)
    --quiet                   no request logs
  vireo-edge --version        print the version
  vireo-edge token [flags]    print a token signed with the edge's secret
    --data DIR  --sub NAME (default dev)  --scope "S1 S2" (default all)  --ttl SECONDS (default 2592000)

environment: VIREO_JWT_SECRET (HS256 secret; else one is generated into the data folder),
             VIREO_JWKS_URL (verify RS256 tokens instead), VIREO_SPEC_MODEL.
`;

class CliError extends Error {}

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
    throw new CliError(`${(err as Error).message.split('\n')[0]} (see vireo-edge --help).`);
  }
}

async function token(argv: string[]): Promise<number> {
  const v = parse(argv, {
    data: { type: 'string' },
    sub: { type: 'string' },
    scope: { type: 'string' },
    ttl: { type: 'string' },
  });
  const dataDir = resolve((v.data as string) ?? './.vireo');
  const { secret } = resolveSecret(dataDir);
  const scopes = ((v.scope as string) ?? SCOPES.join(' ')).split(/\s+/).filter(Boolean);
  const ttl = intFlag(v.ttl as string, 'ttl', 30 * 86400, 1, 10 * 365 * 86400);
  const now = Math.floor(Date.now() / 1000);
  process.stdout.write(
    `${await signHs256({ sub: (v.sub as string) ?? 'dev', scope: scopes.join(' '), iat: now, exp: now + ttl }, secret)}\n`,
  );
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
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const sync = (v.sync as string) ?? 'normal';
  if (sync !== 'normal' && sync !== 'full') throw new CliError(`--sync must be normal or full, got '${sync}'.`);
  const edge = await startNodeServer({
    port: intFlag((v.port as string) ?? process.env.PORT, 'port', 8787, 0, 65535),
    host: (v.host as string) ?? '127.0.0.1',
    dataDir: (v.data as string) ?? process.env.VIREO_DATA ?? './.vireo',
    corsOrigins: ((v.cors as string) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    rateLimitPerSecond: intFlag(v['rate-limit'] as string, 'rate-limit', 1000, 0, 10_000_000),
    synchronous: sync,
    specModel: (v['spec-model'] as string) ?? null,
    log: v.quiet ? null : undefined,
  });
  const say = (line: string) => process.stderr.write(`vireo-edge: ${line}\n`);
  say(`data in ${edge.dataDir} (SQLite WAL, synchronous=${sync}); API description at ${edge.url}/openapi.json`);
  if (edge.secret.origin !== 'env') {
    say(
      `${edge.secret.origin === 'generated' ? 'generated a development secret' : 'using the development secret'} in ${edge.secret.path} (set VIREO_JWT_SECRET in production)`,
    );
    process.stdout.write(`development token (all scopes, 30 days): ${await developmentToken(edge.secret.secret)}\n`);
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

/** Runs the CLI; returns the exit code, or null while the server runs. */
export async function main(argv: string[]): Promise<number | null> {
  try {
    if (argv[0] === 'token') return await token(argv.slice(1));
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
    if (err instanceof CliError) {
      process.stderr.write(`vireo-edge: ${err.message}\n`);
      return 2;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      process.stderr.write(`vireo-edge: cannot listen: ${(err as Error).message}; choose another --port or --host.\n`);
      return 1;
    }
    throw err;
  }
}
