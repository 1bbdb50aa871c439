// The Node fast lane of GET /v1/users/:id/features (docs/ARCHITECTURE.md, "Node edge"): the edge's
// most frequent request, answered on node:http without building a Request, routing through Hono's
// seven middleware or building a Response. It answers only the plain success: a known token (verified
// before), the features:read scope, the caller's own user (or service), under the rate limit, no
// query string, no Origin when CORS is on. Anything else — a new token, a refusal, an error, a query —
// is left untouched to the Hono route, which answers it (and counts it) as always. The body is the
// route's own (readEntity), so both answer the same bytes (node-lane.test.ts).
//
// Encoded answers are kept by user id (answerCache). A write on the edge's own connection drops the
// answers of the users it touched (Storage.watch: a push, an event batch); any other write (another
// `--workers` process, a deletion by hand: the storage's version() moves) empties the cache before
// the next answer (docs/ARCHITECTURE.md, "Node edge").
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EdgeParts } from './app.ts';
import { actsFor, ADMIN_SCOPE, BEARER } from './middleware/auth.ts';
import { REQUEST_ID } from './middleware/request-log.ts';
import { subjectKey, type RateDecision } from './middleware/rate-limit.ts';
import { countEntityRead, readEntity, type EntityCounts, type EntityRead } from './routes/features.ts';
import { topCategories } from './features/rows.ts';
import { decay } from './storage/sql.ts';

/**
 * The path with a well-formed id (schemas.ts ID_PATTERN) as is, and nothing after it. A percent-encoded id
 * (`auth0%7Cx`) is left to the route, whose path and param decoding this lane does not repeat.
 */
const PATH = /^\/v1\/users\/([A-Za-z0-9][A-Za-z0-9._:@+|-]{0,127})\/features$/;
/** The route's label in metrics and logs, as Hono names it. */
const ROUTE = '/v1/users/:id/features';

/** A cached answer: its text, or (a user with category counters) the text around the two time-dependent parts. */
type Answer = {
  parts: string[];
  counters: NonNullable<EntityRead['counters']> | null;
  /** What the answer counts in metrics (countEntityRead). */
  counts: EntityCounts;
  /** What it counts against the cache's bound (characters): its text, its id, ~32 per counter. */
  size: number;
};

/** Stands for a time-dependent value while an answer is encoded; split out afterwards. */
const SLOT = `vireo-slot-${randomBytes(16).toString('hex')}`;

/** The counts of a read without its body (kept answers hold their text only). */
const countsOf = ({ found, present, notFound, stale }: EntityRead): EntityCounts => ({
  found,
  present,
  notFound,
  stale,
});

/**
 * The answer of `read` with what depends on the time of the read left out: a user's category
 * counters decay with it (storage/sql.ts), and `top_categories` is ranked from them. Null when the
 * answer cannot be split (a slot text found in the data).
 */
function encodeAnswer(read: EntityRead): Answer | null {
  const body = read.body;
  if (!read.counters?.length || !body.realtime) {
    const text = JSON.stringify(body);
    return { parts: [text], counters: null, counts: countsOf(read), size: text.length + body.id.length };
  }
  // Same keys in the same order (an existing key keeps its place), the two values replaced.
  const features = Object.assign(Object.create(null), body.features, { top_categories: SLOT });
  const realtime = { ...body.realtime, category_counts: SLOT };
  const parts = JSON.stringify({ ...body, features, realtime }).split(`"${SLOT}"`);
  if (parts.length !== 3) return null;
  const size = parts[0].length + parts[1].length + parts[2].length + body.id.length + 32 * read.counters.length;
  return { parts, counters: read.counters, counts: countsOf(read), size };
}

/** The text of a cached answer at time `now`: what readEntity would answer then, byte for byte. */
function answerText(answer: Answer, now: number, halfLifeMs: number): string {
  if (!answer.counters) return answer.parts[0];
  // Built like storage/sql.ts users(): the same keys in the same order, the same arithmetic.
  const categories: Record<string, number> = {};
  for (const c of answer.counters) categories[c.key] = decay(c.value, c.updatedAt, now, halfLifeMs);
  const [head, middle, tail] = answer.parts;
  return head + JSON.stringify(topCategories(categories)) + middle + JSON.stringify(categories) + tail;
}

/**
 * Answers by user id, least recently used dropped first, bounded by their characters (~2 bytes
 * each); one answer over 1/64 of the bound is not kept.
 */
export function answerCache(maxChars: number) {
  const map = new Map<string, Answer>();
  let chars = 0;
  return {
    get size() {
      return map.size;
    },
    get chars() {
      return chars;
    },
    get(id: string): Answer | undefined {
      const hit = map.get(id);
      if (hit) {
        map.delete(id);
        map.set(id, hit);
      }
      return hit;
    },
    set(id: string, answer: Answer) {
      if (answer.size > maxChars / 64) return;
      const old = map.get(id);
      if (old) {
        map.delete(id);
        chars -= old.size;
      }
      while (chars + answer.size > maxChars && map.size > 0) {
        const [oldest, dropped] = map.entries().next().value as [string, Answer];
        map.delete(oldest);
        chars -= dropped.size;
      }
      map.set(id, answer);
      chars += answer.size;
    },
    delete(id: string) {
      const old = map.get(id);
      if (!old) return;
      map.delete(id);
      chars -= old.size;
    },
    clear() {
      map.clear();
      chars = 0;
    },
  };
}

/**
 * The lane over the app's parts: it answers a request and resolves true, or resolves false having sent
 * nothing (the caller then hands the request to Hono). Null when the rate limiter cannot be consulted
 * without taking (no peek).
 * @example const lane = userFeaturesLane(parts, { draining: () => false });
 */
export function userFeaturesLane(
  parts: EdgeParts,
  options: { draining: () => boolean; cacheChars?: number },
): ((req: IncomingMessage, res: ServerResponse) => Promise<boolean>) | null {
  const { deps, verifier, rateLimiter, log } = parts;
  if (!verifier.cached || (rateLimiter && !rateLimiter.peek)) return null;
  const cached = verifier.cached.bind(verifier);
  // Without a storage version and its watch (no read cache, D1) nothing is kept: every answer is read.
  const { storage } = deps;
  const version = storage.watch && storage.version?.bind(storage);
  const answers =
    version && (options.cacheChars ?? 16_000_000) > 0 ? answerCache(options.cacheChars ?? 16_000_000) : null;
  let seen = -1;
  // Moves whenever answers are dropped: a read that saw it move is not kept, for the write that moved
  // it may have come after the read's statements (they ran in an earlier turn of the microtask queue).
  let drops = 0;
  storage.watch?.((touched) => {
    if (!answers || touched.user.length === 0) return;
    for (const id of touched.user) answers.delete(id);
    drops++;
  });
  const halfLife = deps.realtime.userCategoryHalfLifeMs;
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
    let answer: Answer | null | undefined;
    if (answers) {
      // Asked at every request (the storage looks for another connection's commit once per turn of the event
      // loop): a write committed before this request arrived is never missed.
      const current = version!();
      if (current !== seen) {
        answers.clear();
        seen = current;
        drops++;
      }
      answer = answers.get(id);
    }
    const now = deps.now();
    if (!answer) {
      const before = drops;
      try {
        answer = encodeAnswer(await readEntity(deps, 'user', id, {}, now));
      } catch {
        // An answer over the size limit, a storage error: the route answers it with its error body.
        return false;
      }
      if (!answer) return false;
      // Not kept when answers were dropped while this one read (an own write, told at once, or another
      // request saw a newer version). Another connection's write that nobody saw yet moves version():
      // the next request empties the cache.
      if (answers && drops === before) answers.set(id, answer);
    }
    // Taken after the read (the read took nothing): refused here, the route refuses it again (429).
    if (rateLimiter && !(rateLimiter.take(key) as RateDecision).ok) return false;
    countEntityRead(deps.metrics, 'user', answer.counts);
    const given = headers['x-request-id'];
    const requestId = given !== undefined && REQUEST_ID.test(given as string) ? (given as string) : crypto.randomUUID();
    const body = answerText(answer, now, halfLife);
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
