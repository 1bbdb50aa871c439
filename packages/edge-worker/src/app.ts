// The edge as one platform-free Hono app (Web standards only): node.ts and worker.ts bind a
// storage and serve it. Every client mistake is a 4xx { error: { code, message, details } };
// a 500 means a bug in the edge and is logged with its stack.
import { OpenAPIHono } from '@hono/zod-openapi';
import { formatIssues, MAX_EVENT_FUTURE_MS } from '@vireo/core';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import type { TokenVerifier } from './auth/jwt.ts';
import { ApiError, codeForStatus, errorBody } from './errors.ts';
import { specResolver } from './features/spec.ts';
import { EdgeMetrics } from './metrics.ts';
import { bearerAuth } from './middleware/auth.ts';
import { rateLimit, type RateLimiter } from './middleware/rate-limit.ts';
import { consoleLogger, requestLog, type Logger } from './middleware/request-log.ts';
import type { AppEnv, EdgeApp, Limits, RouteDeps } from './routes/deps.ts';
import { eventRoutes } from './routes/events.ts';
import { exportRoutes } from './routes/export.ts';
import { featureExportRoutes } from './routes/feature-export.ts';
import { featureRoutes } from './routes/features.ts';
import { inlineManifestParser, type ManifestParser } from './registry/manifest.ts';
import { modelRoutes } from './routes/models.ts';
import { systemRoutes } from './routes/system.ts';
import type { RealtimeOptions, Storage } from './storage/types.ts';

export const EDGE_VERSION = '0.1.0';

const DAY = 86_400_000;

/** Default real-time feature settings. */
export const DEFAULT_REALTIME: RealtimeOptions = {
  historyLength: 50,
  itemHalfLifeMs: 7 * DAY,
  userCategoryHalfLifeMs: 3 * DAY,
  categoryFeature: 'category',
};

/** Default limits. */
export const DEFAULT_LIMITS: Limits = {
  eventsBodyBytes: 1 << 20,
  pushBodyBytes: 2 << 20,
  onlineBodyBytes: 256 << 10,
  // Parsed on the event loop: 4 MiB is ~20-50 ms of JSON.parse here (vocabularies are checked in
  // slices between which other requests run); see docs/ARCHITECTURE.md, "Bounded work".
  manifestBytes: 4 << 20,
  responseBytes: 4 << 20,
  onlineCells: 10_000,
  pushValues: 5_000,
  maxSequenceLength: 4096,
  maxVocabulary: 250_000,
  maxVocabularyTotal: 500_000,
  modelFileBytes: 4 * 1024 ** 3,
  maxEventFutureMs: MAX_EVENT_FUTURE_MS,
};

export type AppOptions = {
  storage: Storage;
  /** Verifies bearer tokens (hs256Verifier or jwksVerifier). */
  verifier: TokenVerifier;
  /** Per-subject limiter; null turns rate limiting off. */
  rateLimiter?: RateLimiter | null;
  /** Origins allowed by CORS ('*' for any); empty: no CORS headers. */
  corsOrigins?: string[];
  /** Request logs; null logs nothing. Default: JSON lines on console. */
  log?: Logger | null;
  /** Share metrics across apps (e.g. one per Worker isolate). Default: a new registry. */
  metrics?: EdgeMetrics;
  realtime?: Partial<RealtimeOptions>;
  limits?: Partial<Limits>;
  /** The model whose feature spec applies when a request names none. Default: the last promoted model. */
  specModel?: string | null;
  /** True while the server drains (for /healthz). */
  isDraining?: () => boolean;
  /** Parses manifests; default: on this thread (node.ts passes a worker thread's). */
  parseManifest?: ManifestParser;
  /** The clock, in ms since the epoch. */
  now?: () => number;
};

/** What the app answers from; node-lane.ts answers its fast lane from the same parts, so the same way. */
export type EdgeParts = {
  deps: RouteDeps;
  verifier: TokenVerifier;
  rateLimiter: RateLimiter | null;
  log: Logger | null;
  corsOrigins: string[];
};

/** The options with their defaults filled in. */
export function edgeParts(options: AppOptions): EdgeParts {
  const now = options.now ?? (() => Date.now());
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const parseManifest = options.parseManifest ?? inlineManifestParser;
  return {
    deps: {
      storage: options.storage,
      specs: specResolver(options.storage, { defaultModel: options.specModel ?? null, now, limits, parseManifest }),
      parseManifest,
      metrics: options.metrics ?? new EdgeMetrics(),
      realtime: { ...DEFAULT_REALTIME, ...options.realtime },
      limits,
      now,
    },
    verifier: options.verifier,
    rateLimiter: options.rateLimiter ?? null,
    log: options.log === undefined ? consoleLogger : options.log,
    corsOrigins: options.corsOrigins ?? [],
  };
}

/** What a validation target is called in a message: the body, not "json". */
const TARGET_NAMES: Record<string, string> = { json: 'body', param: 'path', query: 'query', header: 'headers' };

/**
 * One zod issue ("path: message") as a sentence's end: the body itself is not a "(root)", and zod's "Invalid
 * input: " prefix says nothing the message does not.
 * @example plain('(root): Invalid input: expected object, received array') // 'expected object, received array'
 */
function plain(issue: string): string {
  return issue
    .replace(/^\(root\): /, '')
    .replace(/: Invalid input: /, ': ')
    .replace(/^Invalid input: /, '')
    .replace(/: Invalid input$/, ': not a value it takes');
}

/**
 * Builds the edge app over a storage.
 * @example
 * const app = createApp({ storage: openSqliteStorage({ dataDir: '.vireo' }), verifier: hs256Verifier(secret) });
 * const res = await app.request('/healthz');
 */
export function createApp(options: AppOptions, parts: EdgeParts = edgeParts(options)): EdgeApp {
  const { deps, log } = parts;
  const metrics = deps.metrics;
  const app: EdgeApp = new OpenAPIHono<AppEnv>({
    // Validation failures of params, query and body: 400 with every issue listed.
    defaultHook: (result) => {
      if (!result.success) {
        const issues = formatIssues(result.error).slice(0, 50);
        throw new ApiError(
          'invalid_request',
          `Invalid ${TARGET_NAMES[result.target] ?? result.target}: ${plain(issues[0])}`,
          {
            target: result.target,
            issues,
          },
        );
      }
    },
  });

  app.use('*', requestLog({ metrics, log }));
  if (parts.corsOrigins.length > 0) {
    const origins = parts.corsOrigins;
    app.use(
      '*',
      cors({
        origin: origins.includes('*') ? '*' : origins,
        allowHeaders: ['Authorization', 'Content-Type', 'Range', 'If-None-Match', 'If-Range', 'X-Request-Id'],
        allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
        exposeHeaders: [
          'ETag',
          'Content-Range',
          'Content-Length',
          'Retry-After',
          'X-Request-Id',
          'Vireo-Model-Version',
        ],
        maxAge: 600,
      }),
    );
  } else {
    // A browser's preflight to an edge without origins met the token check ("This route needs a token"),
    // which sent whoever read it after tokens; it is the CORS configuration that is missing.
    app.use('*', async (c, next) => {
      if (c.req.method === 'OPTIONS' && c.req.header('access-control-request-method') !== undefined)
        throw new ApiError(
          'cors_not_allowed',
          'This edge allows no cross-origin requests: start it with --cors ORIGIN (VIREO_CORS_ORIGINS on Workers).',
        );
      await next();
    });
  }
  app.use('/v1/*', bearerAuth({ verifier: parts.verifier }));
  if (parts.rateLimiter)
    app.use('/v1/*', rateLimit({ limiter: parts.rateLimiter, onLimited: () => metrics.rateLimited.inc() }));

  systemRoutes(app, deps, {
    isDraining: options.isDraining ?? (() => false),
    version: EDGE_VERSION,
    problem: () => parts.verifier.problem ?? null,
  });
  featureRoutes(app, deps);
  eventRoutes(app, deps);
  exportRoutes(app, deps);
  featureExportRoutes(app, deps);
  modelRoutes(app, deps);

  // A path the edge serves, asked with a method it does not take, is a 405 naming the ones it does (with `Allow`).
  let routes: Array<{ pattern: RegExp; method: string }> | null = null;
  const allowedMethods = (path: string): string[] => {
    // `:name` is one segment, `:name{.+}` (a model file's path) the rest; other segments are literal.
    const segment = (s: string) =>
      s.startsWith(':') ? (s.includes('{') ? '.+' : '[^/]+') : s.replace(/[.+?^${}()|[\]\\*]/g, '\\$&');
    routes ??= app.routes
      .filter((r) => r.method !== 'ALL')
      .map((r) => ({ method: r.method, pattern: new RegExp(`^${r.path.split('/').map(segment).join('/')}$`) }));
    return [...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method))];
  };
  app.notFound((c) => {
    c.set('unmatched', true);
    const allowed = allowedMethods(c.req.path);
    if (allowed.length > 0)
      return c.json(
        errorBody(
          'method_not_allowed',
          `${c.req.path.slice(0, 200)} takes ${allowed.join(', ')}, not ${c.req.method.slice(0, 16)}.`,
        ),
        405,
        { allow: allowed.join(', ') },
      );
    return c.json(
      errorBody('not_found', `No route ${c.req.method} ${c.req.path.slice(0, 200)}: see /openapi.json.`),
      404,
    );
  });

  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json(err.body(), err.status, err.headers);
    if (err instanceof HTTPException && err.status < 500) {
      const malformed = err.status === 400 && /json/i.test(err.message);
      return c.json(
        errorBody(
          malformed ? 'invalid_json' : codeForStatus(err.status),
          malformed ? 'The request body is not valid JSON.' : err.message || 'Bad request.',
        ),
        err.status,
      );
    }
    return c.json(
      errorBody(
        'internal',
        `Internal error (request ${c.get('requestId') ?? 'unknown'}): this is a bug in the edge, not in your request.`,
      ),
      500,
    );
  });

  return app;
}
