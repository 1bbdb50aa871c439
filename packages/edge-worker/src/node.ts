// The Node adapter: SQLite + files storage, @hono/node-server, a JWT secret from the environment
// or the data folder, and a graceful stop (SIGTERM: stop accepting, finish in-flight requests,
// close the database).
import { getRequestListener, type ServerType } from '@hono/node-server';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { createApp, edgeParts, type AppOptions } from './app.ts';
import { userFeaturesLane } from './node-lane.ts';
import { workerManifestParser } from './manifest-parser.ts';
import { generateSecret, hs256Verifier, jwksVerifier, SCOPES, secretProblem, signHs256 } from './auth/jwt.ts';
import { tokenBucket } from './middleware/rate-limit.ts';
import { bufferedLogger, type Logger } from './middleware/request-log.ts';
import { openSqliteStorage } from './storage/sqlite.ts';
import type { EventStore } from './storage/types.ts';

/** Where the JWT secret comes from ('none': tokens are RS256 from a JWKS URL). */
export type SecretSource = {
  secret: string;
  origin: 'env' | 'data-folder' | 'generated' | 'none';
  path: string | null;
};

/** No usable secret: the message is one sentence saying what to do; the CLI exits 2. */
export class SecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretError';
  }
}

const SECRET_ADVICE = 'set VIREO_JWT_SECRET to at least 32 random characters (e.g. `openssl rand -hex 32`)';

/**
 * The HS256 secret: VIREO_JWT_SECRET when set (an empty, short or predictable one is refused);
 * else, with `dev`, `<data>/jwt-secret` (generated there, mode 600, when absent); else none when a
 * JWKS URL verifies tokens; else a SecretError.
 * @example const { secret } = resolveSecret('./.vireo', process.env, { dev: true });
 */
export function resolveSecret(
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
  options: { dev?: boolean; jwks?: boolean; generate?: boolean } = {},
): SecretSource {
  if (env.VIREO_JWT_SECRET !== undefined) {
    const problem = secretProblem(env.VIREO_JWT_SECRET);
    if (problem) throw new SecretError(`VIREO_JWT_SECRET is refused: ${problem}; ${SECRET_ADVICE}.`);
    return { secret: env.VIREO_JWT_SECRET, origin: 'env', path: null };
  }
  const path = join(dataDir, 'jwt-secret');
  if (options.dev) {
    if (existsSync(path)) {
      const secret = readFileSync(path, 'utf8').trim();
      const problem = secretProblem(secret);
      if (problem) throw new SecretError(`${path} is refused: ${problem}; delete it to generate a new one.`);
      return { secret, origin: 'data-folder', path };
    }
    if (options.generate === false)
      throw new SecretError(`There is no development secret in ${path}: start the edge with --dev once first.`);
    const secret = generateSecret();
    writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
    return { secret, origin: 'generated', path };
  }
  if (options.jwks) return { secret: '', origin: 'none', path: null };
  throw new SecretError(
    `No JWT secret: ${SECRET_ADVICE}, set VIREO_JWKS_URL, or pass --dev for a generated development secret.`,
  );
}

/**
 * A development token signed with `secret`: every scope, `service` included (it acts for any
 * user, as the local dashboard and `vireo start` need), 30 days.
 * @example const token = await developmentToken(secret);
 */
export async function developmentToken(
  secret: string,
  sub = 'dev',
  scopes: readonly string[] = SCOPES,
  ttlSeconds = 30 * 86400,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signHs256({ sub, scope: scopes.join(' '), iat: now, exp: now + ttlSeconds }, secret);
}

export type NodeServerOptions = {
  port?: number;
  host?: string;
  /** Data folder: edge.db (SQLite, WAL), blobs/ (model files), jwt-secret. Default ./.vireo */
  dataDir?: string;
  /** Verify RS256 tokens from this JWKS URL instead of HS256. */
  jwksUrl?: string | null;
  /** Use (or generate) a development secret in the data folder when VIREO_JWT_SECRET is unset. */
  dev?: boolean;
  /** Tokens must carry this `iss` (default $VIREO_JWT_ISSUER; unset: not checked). */
  issuer?: string | null;
  /** Tokens must carry this `aud` (default $VIREO_JWT_AUDIENCE; unset: not checked). */
  audience?: string | null;
  corsOrigins?: string[];
  /** Sustained requests/s per token subject; 0 turns the limiter off. Default 1000 (burst 2×). */
  rateLimitPerSecond?: number;
  /** SQLite synchronous: 'normal' survives a killed process, 'full' also power loss. Default 'normal'. */
  synchronous?: 'normal' | 'full';
  /** How long SIGTERM waits for in-flight requests, ms. Default 10,000. */
  drainTimeoutMs?: number;
  /**
   * How long an idle kept-alive connection stays open, ms. Default 130,000: longer than the idle timeout of the
   * proxies put in front (nginx's upstream keepalive and AWS load balancers 60 s, Caddy 2 min), so that the proxy,
   * never the edge, closes an idle connection. With Node's own 5 s a proxy sent requests on connections the edge
   * was closing: 502s.
   */
  keepAliveTimeoutMs?: number;
  log?: Logger | null;
  specModel?: string | null;
  env?: NodeJS.ProcessEnv;
  /** Extra createApp options (tests). */
  app?: Partial<AppOptions>;
  /** Answer plain GET /v1/users/:id/features on node:http, around Hono (node-lane.ts). Default true. */
  fastLane?: boolean;
  /**
   * Stores event batches with this instead of this process's own connection: a `--workers` worker hands them to
   * the primary (storage/cluster-ingest.ts). Default: this process's store, group-committed.
   */
  eventIngest?: EventStore['ingest'];
};

export type RunningServer = {
  url: string;
  port: number;
  dataDir: string;
  secret: SecretSource;
  server: ServerType;
  /** Stops accepting, waits for in-flight requests (up to the drain timeout), closes the database. */
  close(): Promise<void>;
};

/**
 * Starts the edge on Node.
 * @example const edge = await startNodeServer({ port: 8787, dataDir: './.vireo' }); console.log(edge.url);
 */
export async function startNodeServer(options: NodeServerOptions = {}): Promise<RunningServer> {
  const env = options.env ?? process.env;
  const dataDir = resolve(options.dataDir ?? './.vireo');
  const jwksUrl = options.jwksUrl ?? (env.VIREO_JWKS_URL || null);
  mkdirSync(dataDir, { recursive: true });
  const secret = resolveSecret(dataDir, env, { dev: options.dev, jwks: jwksUrl !== null });
  const claims = {
    issuer: options.issuer ?? (env.VIREO_JWT_ISSUER || null),
    audience: options.audience ?? (env.VIREO_JWT_AUDIENCE || null),
  };
  const storage = openSqliteStorage({
    dataDir,
    synchronous: options.synchronous ?? 'normal',
    groupCommit: options.eventIngest === undefined,
  });
  if (options.eventIngest) storage.events.ingest = options.eventIngest;
  const rate = options.rateLimitPerSecond ?? 1000;
  let draining = false;
  let inFlight = 0;

  const manifests = workerManifestParser();
  // Request logs leave in one write per event-loop turn, off the requests' path.
  const buffered = options.log === undefined ? bufferedLogger((text) => process.stdout.write(text)) : null;
  const appOptions: AppOptions = {
    storage,
    parseManifest: manifests.parse,
    verifier: jwksUrl ? jwksVerifier({ url: jwksUrl, ...claims }) : hs256Verifier(secret.secret, claims),
    rateLimiter: rate > 0 ? tokenBucket({ ratePerSecond: rate }) : null,
    corsOrigins: options.corsOrigins ?? [],
    log: buffered ?? options.log,
    specModel: options.specModel ?? env.VIREO_SPEC_MODEL ?? null,
    isDraining: () => draining,
    ...options.app,
  };
  const parts = edgeParts(appOptions);
  const app = createApp(appOptions, parts);
  const hono = getRequestListener(
    async (request: Request) => {
      inFlight++;
      try {
        const res = await app.fetch(request);
        // Tell keep-alive clients to reconnect elsewhere once draining.
        if (draining) res.headers.set('Connection', 'close');
        return res;
      } finally {
        inFlight--;
      }
    },
    { hostname: options.host ?? '127.0.0.1' },
  );
  const lane = options.fastLane === false ? null : userFeaturesLane(parts, { draining: () => draining });
  // Plain feature reads of one user take the fast lane; what it does not answer, and everything else, Hono does.
  const http = createServer((req, res) => {
    if (!lane || req.method !== 'GET' || !req.url?.startsWith('/v1/users/')) return hono(req, res);
    inFlight++;
    lane(req, res).then(
      (answered) => {
        inFlight--;
        if (!answered) hono(req, res);
      },
      () => {
        inFlight--;
        if (!res.headersSent) hono(req, res);
      },
    );
  });
  await new Promise<void>((ok, fail) => {
    http.once('error', fail);
    http.listen(options.port ?? 8787, options.host ?? '127.0.0.1', () => {
      http.off('error', fail);
      ok();
    });
  });
  const server: ServerType = http;
  // Slow or stuck clients cannot hold a connection forever.
  http.headersTimeout = 30_000;
  http.requestTimeout = 300_000;
  http.keepAliveTimeout = options.keepAliveTimeoutMs ?? 130_000;
  const { port } = http.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    dataDir,
    secret,
    server,
    close() {
      closing ??= (async () => {
        draining = true;
        const closed = new Promise<void>((ok) => http.close(() => ok()));
        const deadline = Date.now() + (options.drainTimeoutMs ?? 10_000);
        // Idle keep-alive connections hold close() open: shut them as they become idle.
        while (
          !(await Promise.race([
            closed.then(() => true),
            new Promise<boolean>((ok) => setTimeout(() => ok(false), 50)),
          ]))
        ) {
          http.closeIdleConnections();
          if (Date.now() > deadline) {
            http.closeAllConnections();
            break;
          }
        }
        await closed;
        while (inFlight > 0 && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 10));
        buffered?.flush();
        await storage.close();
        await manifests.close();
      })();
      return closing;
    },
  };
}
