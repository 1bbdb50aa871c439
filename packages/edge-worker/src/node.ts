// The Node adapter: SQLite + files storage, @hono/node-server, a JWT secret from the environment
// or the data folder, and a graceful stop (SIGTERM: stop accepting, finish in-flight requests,
// close the database).
import { serve, type ServerType } from '@hono/node-server';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { createApp, type AppOptions } from './app.ts';
import { generateSecret, hs256Verifier, jwksVerifier, signHs256, SCOPES } from './auth/jwt.ts';
import { tokenBucket } from './middleware/rate-limit.ts';
import type { Logger } from './middleware/request-log.ts';
import { openSqliteStorage } from './storage/sqlite.ts';

/** Where the JWT secret comes from. */
export type SecretSource = { secret: string; origin: 'env' | 'data-folder' | 'generated'; path: string | null };

/** The HS256 secret: VIREO_JWT_SECRET, else `<data>/jwt-secret`, else a new one written there (mode 600). */
export function resolveSecret(dataDir: string, env: NodeJS.ProcessEnv = process.env): SecretSource {
  if (env.VIREO_JWT_SECRET) return { secret: env.VIREO_JWT_SECRET, origin: 'env', path: null };
  const path = join(dataDir, 'jwt-secret');
  if (existsSync(path)) return { secret: readFileSync(path, 'utf8').trim(), origin: 'data-folder', path };
  const secret = generateSecret();
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return { secret, origin: 'generated', path };
}

/**
 * A development token (every scope, 30 days) signed with `secret`.
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
  corsOrigins?: string[];
  /** Sustained requests/s per token subject; 0 turns the limiter off. Default 1000 (burst 2×). */
  rateLimitPerSecond?: number;
  /** SQLite synchronous: 'normal' survives a killed process, 'full' also power loss. Default 'normal'. */
  synchronous?: 'normal' | 'full';
  /** How long SIGTERM waits for in-flight requests, ms. Default 10,000. */
  drainTimeoutMs?: number;
  log?: Logger | null;
  specModel?: string | null;
  env?: NodeJS.ProcessEnv;
  /** Extra createApp options (tests). */
  app?: Partial<AppOptions>;
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
  const storage = openSqliteStorage({ dataDir, synchronous: options.synchronous ?? 'normal' });
  const secret = resolveSecret(dataDir, env);
  const jwksUrl = options.jwksUrl ?? env.VIREO_JWKS_URL ?? null;
  const rate = options.rateLimitPerSecond ?? 1000;
  let draining = false;
  let inFlight = 0;

  const app = createApp({
    storage,
    verifier: jwksUrl ? jwksVerifier({ url: jwksUrl }) : hs256Verifier(secret.secret),
    rateLimiter: rate > 0 ? tokenBucket({ ratePerSecond: rate }) : null,
    corsOrigins: options.corsOrigins ?? [],
    log: options.log,
    specModel: options.specModel ?? env.VIREO_SPEC_MODEL ?? null,
    isDraining: () => draining,
    ...options.app,
  });

  const server = await new Promise<ServerType>((ok, fail) => {
    const s = serve(
      {
        fetch: async (request: Request) => {
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
        port: options.port ?? 8787,
        hostname: options.host ?? '127.0.0.1',
      },
      () => ok(s),
    );
    s.once('error', fail);
  });
  const http = server as Server;
  // Slow or stuck clients cannot hold a connection forever.
  http.headersTimeout = 30_000;
  http.requestTimeout = 300_000;
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
        await storage.close();
      })();
      return closing;
    },
  };
}
