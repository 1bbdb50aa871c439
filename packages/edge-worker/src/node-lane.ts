// The Node fast lane of GET /v1/users/:id/features (docs/ARCHITECTURE.md, "Node edge"): the edge's
// most frequent request, answered on node:http without building a Request, routing through Hono's
// seven middleware or building a Response. It answers only the plain success: a known token (verified
// before), the features:read scope, the caller's own user (or service), under the rate limit, no
// query string, no Origin when CORS is on. Anything else — a new token, a refusal, an error, a query —
// is left untouched to the Hono route, which answers it (and counts it) as always. The body is the
// route's own (readEntity), so both answer the same bytes (node-lane.test.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EdgeParts } from './app.ts';
import { actsFor, ADMIN_SCOPE, BEARER } from './middleware/auth.ts';
import { REQUEST_ID } from './middleware/request-log.ts';
import { subjectKey, type RateDecision } from './middleware/rate-limit.ts';
import { countEntityRead, readEntity, type EntityRead } from './routes/features.ts';

/** The path with a well-formed id (schemas.ts ID_PATTERN) and nothing after it. */
const PATH = /^\/v1\/users\/([A-Za-z0-9][A-Za-z0-9._:@+-]{0,127})\/features$/;
/** The route's label in metrics and logs, as Hono names it. */
const ROUTE = '/v1/users/:id/features';

/**
 * The lane over the app's parts: it answers a request and resolves true, or resolves false having sent
 * nothing (the caller then hands the request to Hono). Null when the rate limiter cannot be consulted
 * without taking (no peek).
 * @example const lane = userFeaturesLane(parts, { draining: () => false });
 */
export function userFeaturesLane(
  parts: EdgeParts,
  options: { draining: () => boolean },
): ((req: IncomingMessage, res: ServerResponse) => Promise<boolean>) | null {
  const { deps, verifier, rateLimiter, log } = parts;
  if (!verifier.cached || (rateLimiter && !rateLimiter.peek)) return null;
  const cached = verifier.cached.bind(verifier);
  const cors = parts.corsOrigins.length > 0;
  const labels = { method: 'GET', route: ROUTE, status: '200' };
  return async (req, res) => {
    const start = performance.now();
    const match = PATH.exec(req.url ?? '');
    // While draining, Hono's path adds Connection: close.
    if (!match || options.draining()) return false;
    const headers = req.headers;
    if (cors && headers.origin !== undefined) return false;
    const token = BEARER.exec(headers.authorization ?? '')?.[1];
    const principal = token === undefined ? undefined : cached(token);
    if (!principal) return false;
    const id = match[1];
    const scoped = principal.scopes.has('features:read') || principal.scopes.has(ADMIN_SCOPE);
    if (!scoped || !actsFor(principal, id)) return false;
    const key = subjectKey(principal);
    if (rateLimiter && !rateLimiter.peek!(key)) return false;
    let read: EntityRead;
    try {
      read = await readEntity(deps, 'user', id);
    } catch {
      // An answer over the size limit, a storage error: the route answers it with its error body.
      return false;
    }
    // Taken after the read (the read took nothing): refused here, the route refuses it again (429).
    if (rateLimiter && !(rateLimiter.take(key) as RateDecision).ok) return false;
    countEntityRead(deps.metrics, 'user', read);
    const given = headers['x-request-id'];
    const requestId = given !== undefined && REQUEST_ID.test(given as string) ? (given as string) : crypto.randomUUID();
    const body = JSON.stringify(read.body);
    // The headers of c.json() through @hono/node-server, in its order.
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-request-id': requestId,
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
    const seconds = (performance.now() - start) / 1000;
    deps.metrics.requests.inc(labels);
    deps.metrics.latency.observe(labels, seconds);
    log?.({
      level: 'info',
      msg: 'request',
      request_id: requestId,
      method: 'GET',
      path: match[0],
      route: ROUTE,
      status: 200,
      duration_ms: Math.round(seconds * 1e6) / 1e3,
      sub: principal.sub,
    });
    return true;
  };
}
