// The outermost middleware: a request id (taken from X-Request-Id when well-formed), one
// structured JSON log line per request, and the request metrics per route and status.
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Principal } from '../auth/jwt.ts';
import type { EdgeMetrics } from '../metrics.ts';

/** One structured log record. */
export type LogRecord = { level: 'info' | 'warn' | 'error'; msg: string; [field: string]: unknown };
export type Logger = (record: LogRecord) => void;

/** Writes one JSON line per record to console (stdout on Node, the log stream on Workers). */
export const consoleLogger: Logger = (record) =>
  console.log(JSON.stringify({ time: new Date().toISOString(), ...record }));

/**
 * A logger that buffers JSON lines and hands them to `write` in one chunk per event-loop turn (or
 * once 64 KiB are waiting): no write on a request's path. `flush()` writes what is left (on close).
 * @example const log = bufferedLogger((text) => process.stdout.write(text));
 */
export function bufferedLogger(
  write: (text: string) => void,
  options: { maxBytes?: number } = {},
): Logger & { flush(): void } {
  const maxBytes = options.maxBytes ?? 64 << 10;
  let lines: string[] = [];
  let bytes = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (lines.length === 0) return;
    const text = `${lines.join('\n')}\n`;
    lines = [];
    bytes = 0;
    write(text);
  };
  const log = (record: LogRecord) => {
    const line = JSON.stringify({ time: new Date().toISOString(), ...record });
    lines.push(line);
    bytes += line.length;
    if (bytes >= maxBytes) flush();
    else if (!scheduled) {
      scheduled = true;
      setTimeout(flush, 0);
    }
  };
  return Object.assign(log, { flush });
}

export type RequestLogOptions = {
  metrics: EdgeMetrics;
  /** Where records go; null logs nothing (metrics still count). */
  log: Logger | null;
  /** The clock for durations, in ms. Default performance.now. */
  now?: () => number;
};

/** A request id taken from X-Request-Id as it is (else a new UUID). */
export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The route pattern that matched (not a middleware's '/v1/*'), or '(unmatched)': bounded label values. */
function routeLabel(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) if (routes[i].method !== 'ALL') return routes[i].path;
  return '(unmatched)';
}

/**
 * @example app.use('*', requestLog({ metrics, log: consoleLogger }))
 */
export function requestLog(
  options: RequestLogOptions,
): MiddlewareHandler<{ Variables: { requestId: string; principal: Principal; unmatched: boolean } }> {
  const opts = { now: () => performance.now(), ...options };
  return async (c, next) => {
    const start = opts.now();
    const given = c.req.header('x-request-id');
    const requestId = given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    c.set('requestId', requestId);
    // Set before the handler, the header is part of the response c.json() builds; set after it,
    // Hono rebuilds the finished response around a stream (@hono/node-server then leaves its fast
    // path: ~10% of a feature read in the profile, docs/ARCHITECTURE.md "Node edge"). Responses
    // built without the context (none today) get it afterwards.
    c.header('X-Request-Id', requestId);
    await next();
    if (!c.res.headers.has('X-Request-Id')) c.header('X-Request-Id', requestId);
    const seconds = (opts.now() - start) / 1000;
    const route = c.get('unmatched') ? '(unmatched)' : routeLabel(c);
    const status = String(c.res.status);
    const labels = { method: c.req.method, route, status };
    opts.metrics.requests.inc(labels);
    opts.metrics.latency.observe(labels, seconds);
    if (opts.log) {
      const record: LogRecord = {
        level: c.res.status >= 500 ? 'error' : 'info',
        msg: 'request',
        request_id: requestId,
        method: c.req.method,
        path: c.req.path.length > 256 ? `${c.req.path.slice(0, 256)}…` : c.req.path,
        route,
        status: c.res.status,
        duration_ms: Math.round(seconds * 1e6) / 1e3,
        sub: c.get('principal')?.sub ?? null,
      };
      if (c.error) record.error = c.res.status >= 500 ? String(c.error.stack ?? c.error) : c.error.message;
      opts.log(record);
    }
  };
}
