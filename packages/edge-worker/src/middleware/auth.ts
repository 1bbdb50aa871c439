// Bearer JWT authentication and per-route scope checks.
import type { MiddlewareHandler } from 'hono';
import { KeysUnavailableError, SERVICE_SCOPE, TokenError, type Principal, type TokenVerifier } from '../auth/jwt.ts';
import { ApiError } from '../errors.ts';

/** A scope that satisfies every scope check (operators' tokens). */
export const ADMIN_SCOPE = 'admin';

export type BearerAuthOptions = {
  verifier: TokenVerifier;
  /** The realm in WWW-Authenticate. Default 'vireo'. */
  realm?: string;
};

/** `Bearer <token>`: the token is the first group. */
export const BEARER = /^Bearer +([^\s]+) *$/i;

const challenge = (realm: string, error?: string) => ({
  'WWW-Authenticate': `Bearer realm="${realm}"${error ? `, error="${error}"` : ''}`,
});

/**
 * Verifies `Authorization: Bearer <jwt>` and stores the caller as `c.var.principal`.
 * @example app.use('/v1/*', bearerAuth({ verifier: hs256Verifier(secret) }))
 */
export function bearerAuth(options: BearerAuthOptions): MiddlewareHandler<{ Variables: { principal: Principal } }> {
  const opts = { realm: 'vireo', ...options };
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (!header)
      throw new ApiError(
        'unauthorized',
        "This route needs a token: send 'Authorization: Bearer <token>'.",
        null,
        challenge(opts.realm),
      );
    const match = BEARER.exec(header);
    if (!match)
      throw new ApiError(
        'unauthorized',
        "The Authorization header is not 'Bearer <token>'.",
        null,
        challenge(opts.realm, 'invalid_request'),
      );
    try {
      c.set('principal', await opts.verifier.verify(match[1]));
    } catch (err) {
      if (err instanceof TokenError)
        throw new ApiError(err.code, err.message, null, challenge(opts.realm, 'invalid_token'));
      if (err instanceof KeysUnavailableError)
        throw new ApiError('unavailable', err.message, null, { 'Retry-After': String(err.retryAfterSeconds) });
      throw err;
    }
    await next();
  };
}

/**
 * Lets the request through when the caller holds one of `scopes` (or admin); 403 otherwise.
 * @example createRoute({ ..., middleware: [requireScope('events:write')] })
 */
export function requireScope(...scopes: string[]): MiddlewareHandler<{ Variables: { principal: Principal } }> {
  return async (c, next) => {
    const principal = c.get('principal');
    if (!principal)
      throw new ApiError('unauthorized', "This route needs a token: send 'Authorization: Bearer <token>'.");
    if (!principal.scopes.has(ADMIN_SCOPE) && !scopes.some((s) => principal.scopes.has(s))) {
      throw new ApiError(
        'insufficient_scope',
        `This route needs the scope ${scopes.map((s) => `'${s}'`).join(' or ')}.`,
        { required: scopes, granted: [...principal.scopes] },
        { 'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${scopes.join(' ')}"` },
      );
    }
    await next();
  };
}

/** True when the caller may act for `userId`: its own `sub`, or a `service` (or admin) token. */
export function actsFor(principal: Principal, userId: string): boolean {
  return principal.sub === userId || principal.scopes.has(SERVICE_SCOPE) || principal.scopes.has(ADMIN_SCOPE);
}

/**
 * Refuses (403) a request about users other than the caller's `sub`, unless the token has `service`.
 * @example requireActsFor(c.get('principal'), [id], 'read the features of')
 */
export function requireActsFor(principal: Principal, userIds: Iterable<string>, what: string): void {
  for (const id of userIds) {
    if (actsFor(principal, id)) continue;
    throw new ApiError(
      'forbidden_user',
      `This token acts for user '${principal.sub}' only and cannot ${what} user '${id}': ` +
        `a backend acting for many users needs the '${SERVICE_SCOPE}' scope.`,
      { sub: principal.sub, user_id: id },
    );
  }
}
