// How the engine says that the edge (or the server of a bundle folder) refused a request or could
// not be reached: one EdgeError with a stable `code` and one sentence that carries the edge's own
// message ({ error: { code, message } }, docs/edge-api.md), never a bare "Failed to fetch".
// Also the checks of what a page passes to recommend / observe, which fail at once with a
// TypeError or a RangeError, and the token's user (a JWT's `sub`) read without verifying it.

/**
 * The edge (or the server of a bundle folder) refused a request, or could not be reached.
 * `code` is the edge's error code (`model_not_found`, `token_expired`, `invalid_token`,
 * `unauthorized`, `insufficient_scope`, `forbidden_user`, `rate_limited`, …), `http_<status>`
 * for an answer without the edge's error body, `unreachable` (network error, CORS, a refused
 * connection) or `timeout` (no answer within the engine's `requestTimeoutMs`). recommend() and
 * observe() throw it with `forbidden_user` before any request when the token (a JWT) is for
 * another user than the `userId` they are given (unless it has the `service` or `admin` scope).
 * @example
 * try { await createEngine({ model: 'shop', edge, token }); }
 * catch (err) { if (err instanceof EdgeError && err.code === 'token_expired') location.reload(); }
 */
export class EdgeError extends Error {
  constructor(
    message: string,
    /** The edge's error code, `http_<status>`, `unreachable` or `timeout`. */
    readonly code: string,
    /** The HTTP status of the answer (the one the edge gives for `forbidden_user`); undefined without one. */
    readonly status?: number,
    /** The URL requested. */
    readonly url?: string,
  ) {
    super(message);
    this.name = 'EdgeError';
  }
}

const errorMessage = (err: unknown) => (err instanceof Error ? err.message || err.name : String(err));

/** The EdgeError for a non-2xx answer: its status, and the edge's code and message when the body has them. */
export async function httpError(res: Response, url: string, what: string): Promise<EdgeError> {
  let code = `http_${res.status}`;
  let said = '';
  try {
    const body = JSON.parse(await res.text()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === 'string') code = body.error.code;
    if (typeof body.error?.message === 'string') said = body.error.message;
  } catch {
    // Not the edge's JSON (a CDN, a proxy): the status says it.
  }
  const hint =
    code === 'token_expired'
      ? ' Give the engine a new token from your backend (docs/tokens.md).'
      : res.status === 401 || res.status === 403
        ? ' Check the token (docs/tokens.md).'
        : '';
  const text = said ? `: ${said.replace(/\.?$/, '.')}` : '.';
  const label = code === `http_${res.status}` ? `${res.status}` : `${res.status} (${code})`;
  return new EdgeError(`${what} failed with HTTP ${label}${text}${hint}`, code, res.status, url);
}

/**
 * fetch() that throws an EdgeError: `unreachable` for a network error, `timeout` when no answer
 * (its headers) came within `timeoutMs`, the edge's code for a non-2xx answer.
 */
export async function fetchOrThrow(
  f: typeof fetch,
  url: string,
  init: RequestInit,
  what: string,
  timeoutMs?: number,
): Promise<Response> {
  const ctl = timeoutMs !== undefined && timeoutMs > 0 ? new AbortController() : null;
  const timer = ctl ? setTimeout(() => ctl.abort(), timeoutMs) : undefined;
  let res: Response;
  try {
    res = await f(url, ctl ? { ...init, signal: ctl.signal } : init);
  } catch (err) {
    if (ctl?.signal.aborted)
      throw new EdgeError(
        `${what} failed: no answer from ${originOf(url)} within ${timeoutMs} ms.`,
        'timeout',
        undefined,
        url,
      );
    throw new EdgeError(
      `${what} failed: ${originOf(url)} could not be reached (${errorMessage(err)})${corsHint(err, url)}.`,
      'unreachable',
      undefined,
      url,
    );
  } finally {
    clearTimeout(timer);
  }
  if (!res.ok) throw await httpError(res, url, what);
  return res;
}

/**
 * In a page (or a worker: `location` is there), fetch rejects a CORS refusal with the same
 * TypeError as a server that is down, and the console alone says which: name both, and the
 * page's origin the edge must allow. Nothing for the page's own origin, nor outside a browser
 * (Node has no CORS).
 */
function corsHint(err: unknown, url: string): string {
  const page = (globalThis as { location?: { origin?: string } }).location?.origin;
  const crossOrigin = /^https?:\/\//i.test(url) && originOf(url) !== page; // a relative URL is the page's
  if (!(err instanceof TypeError) || !page || page === 'null' || !crossOrigin) return '';
  return `: it is down, or it does not allow this page's origin ${page} (CORS; start the edge with --cors ${page})`;
}

/** The origin of a URL for a message (`https://edge.example`), or the URL itself when it has none. */
export function originOf(url: string): string {
  try {
    const origin = new URL(url).origin;
    return origin === 'null' ? url : origin;
  } catch {
    return url;
  }
}

/** Throws a TypeError for an `edge` that is not an http(s) URL ('localhost:8787' reads as the scheme 'localhost:'). */
export function requireEdgeUrl(edge: unknown): void {
  if (edge === undefined) return;
  requireId(edge, 'edge');
  let protocol: string;
  try {
    protocol = new URL(edge).protocol;
  } catch {
    return; // a path on the page's origin ('/edge'), which fetch resolves
  }
  if (protocol !== 'http:' && protocol !== 'https:')
    throw new TypeError(`edge must be an http(s) URL such as 'http://localhost:8787' (got ${describe(edge)}).`);
}

/**
 * The user a token acts for, read from a JWT's payload (not verified: the edge does that), and
 * whether it may act for any user (the `service` or `admin` scope); null when it is not a JWT.
 */
export function tokenUser(token: string | undefined): { sub: string; anyUser: boolean } | null {
  const payload = token?.split('.')[1];
  if (!payload) return null;
  try {
    const b64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(
      new TextDecoder().decode(
        Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0)),
      ),
    ) as { sub?: unknown; scope?: unknown };
    if (typeof claims.sub !== 'string') return null;
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
    return { sub: claims.sub, anyUser: scopes.includes('service') || scopes.includes('admin') };
  } catch {
    return null;
  }
}

/** Throws a TypeError unless `value` is a non-empty string. */
export function requireId(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value === '')
    throw new TypeError(`${what} must be a non-empty string (got ${describe(value)}).`);
}

/** A short description of a value a caller passed, for an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined)
    return String(value);
  return typeof value;
}
