// Bearer JWT with scopes, through `jose` (Web Crypto: the same code on Node and in workerd).
// HS256 with a shared secret is the default; RS256 with keys from a JWKS URL is the option for
// an external identity provider. The algorithm is pinned by the verifier, never taken from the
// token header ('none' and algorithm confusion are refused). When an issuer or an audience is
// configured, `iss` / `aud` must match. See docs/ARCHITECTURE.md ("Tokens") and docs/tokens.md.
import { createRemoteJWKSet, customFetch, errors, jwtVerify, SignJWT, type JWTVerifyGetKey } from 'jose';

/**
 * The scopes the edge knows. A token acts for the user in its `sub` only; `service` lets a backend
 * act for any user (see routes/features.ts and routes/events.ts); `events:export` reads every user's events
 * back (routes/export.ts), and `features:export` every entity's pushed features (routes/feature-export.ts), for the
 * trainer.
 */
export const SCOPES = [
  'features:read',
  'events:write',
  'models:publish',
  'service',
  'events:export',
  'features:export',
] as const;
export type Scope = (typeof SCOPES)[number];

/** The scope that lets a token act for any user. */
export const SERVICE_SCOPE = 'service';

/** The claims the edge reads from a token. */
export type Claims = { sub: string; scope: string; exp: number; iat?: number; [claim: string]: unknown };

/** The verified caller of a request. */
export type Principal = { sub: string; scopes: ReadonlySet<string>; exp: number };

/** Why a token was refused: `invalid_token` (bad shape, signature, claims) or `token_expired`. */
export class TokenError extends Error {
  constructor(
    readonly code: 'invalid_token' | 'token_expired',
    message: string,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

/** The keys that would check a token cannot be had now (JWKS unreachable): a 503, not the caller's fault. */
export class KeysUnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds = 30,
  ) {
    super(message);
    this.name = 'KeysUnavailableError';
  }
}

/** Checks a compact JWT and returns its caller; throws TokenError or KeysUnavailableError. */
export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
  /**
   * The caller of a token verified before and valid now, else undefined (never throws, never checks a
   * signature): the Node fast lane (node-lane.ts) serves with it and leaves every other token to verify().
   */
  cached?(token: string): Principal | undefined;
  /** Why no token can be verified (a Worker without a usable secret): /healthz answers 503 with it. */
  readonly problem?: string;
}

const encoder = new TextEncoder();

/** base64url without padding. */
export function base64url(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Shortest HS256 secret accepted, in characters. */
export const MIN_SECRET_LENGTH = 32;

/**
 * Why `secret` is not fit to sign tokens (missing, short or low-entropy), or null when it is.
 * Low entropy: fewer than 10 distinct characters, a short pattern repeated, or under 96 bits estimated
 * from its character frequencies (`openssl rand -hex 32` gives about 240).
 * @example const why = secretProblem(process.env.VIREO_JWT_SECRET); if (why) exit(2)
 */
export function secretProblem(secret: string | undefined): string | null {
  if (secret === undefined || secret.trim() === '') return 'the JWT secret is empty';
  if (secret.length < MIN_SECRET_LENGTH)
    return `the JWT secret has ${secret.length} characters where at least ${MIN_SECRET_LENGTH} are needed`;
  const counts = new Map<string, number>();
  for (const ch of secret) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let entropyBits = 0;
  for (const n of counts.values()) entropyBits -= n * Math.log2(n / secret.length);
  const period = [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16].find(
    (p) => secret === secret.slice(0, p).repeat(secret.length / p),
  );
  if (counts.size < 10 || entropyBits < 96 || period !== undefined)
    return `the JWT secret is too predictable (${Math.round(entropyBits)} bits in its characters, 96 needed)`;
  return null;
}

/**
 * Signs claims as an HS256 JWT (development tokens, `vireo token` and the tests use it).
 * @example const token = await signHs256({ sub: 'u1', scope: 'features:read', exp: now + 3600 }, secret);
 */
export async function signHs256(claims: Claims, secret: string): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(encoder.encode(secret));
}

export type VerifierOptions = {
  /** Seconds of clock skew tolerated on `exp` and `nbf`. Default 30. */
  leewaySeconds?: number;
  /** The clock, in milliseconds. Default Date.now. */
  now?: () => number;
  /** Longest token accepted, in characters. Default 8192. */
  maxTokenLength?: number;
  /** Verified tokens remembered (their signature is not re-checked; `exp` always is). Default 1024. */
  cacheSize?: number;
  /** When set, the token's `iss` must equal it. */
  issuer?: string | null;
  /** When set, the token's `aud` must name it. */
  audience?: string | null;
};

const verifierDefaults = { leewaySeconds: 30, now: () => Date.now(), maxTokenLength: 8192, cacheSize: 1024 };

/** The caller from verified claims; `exp` and `nbf` are checked again here for cached tokens. */
function principalFrom(payload: Record<string, unknown>, nowSeconds: number, leewaySeconds: number): Principal {
  const { sub, scope, exp, nbf } = payload;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 256)
    throw new TokenError('invalid_token', "The token has no 'sub' claim (a non-empty string).");
  if (typeof exp !== 'number' || !Number.isFinite(exp))
    throw new TokenError('invalid_token', "The token has no 'exp' claim (seconds since the epoch).");
  if (scope !== undefined && typeof scope !== 'string')
    throw new TokenError('invalid_token', "The token's 'scope' claim is not a space-separated string.");
  if (exp + leewaySeconds <= nowSeconds)
    throw new TokenError('token_expired', `The token expired at ${new Date(exp * 1000).toISOString()}.`);
  if (typeof nbf === 'number' && nbf - leewaySeconds > nowSeconds)
    throw new TokenError('invalid_token', 'The token is not valid yet (nbf).');
  return { sub, scopes: new Set((scope ?? '').split(' ').filter(Boolean)), exp };
}

/**
 * Verified tokens, least recently used dropped first, keyed by the whole compact token (its
 * signature included: a token whose signature was never checked cannot match an entry). Only
 * tokens that passed verification enter; a hit skips the HMAC/RSA check and the claim parsing, but
 * `exp` and `nbf` are checked against the clock on every use, so an entry expires with its token.
 */
function verifiedCache(size: number) {
  const map = new Map<string, { principal: Principal; nbf: number | null }>();
  return {
    get(token: string) {
      const hit = map.get(token);
      if (hit) {
        map.delete(token);
        map.set(token, hit);
      }
      return hit;
    },
    set(token: string, principal: Principal, nbf: number | null) {
      if (size <= 0) return;
      if (map.size >= size) map.delete(map.keys().next().value as string);
      map.set(token, { principal, nbf });
    },
    delete: (token: string) => map.delete(token),
  };
}

/** jose's refusals as the edge's: expired, invalid, or keys unavailable (JWKS outage). */
function translate(err: unknown, algorithm: string): Error {
  if (err instanceof TokenError || err instanceof KeysUnavailableError) return err;
  if (err instanceof errors.JWTExpired) return new TokenError('token_expired', 'The token has expired.');
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported)
    return new TokenError('invalid_token', `The token's algorithm is not accepted: expected ${algorithm}.`);
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return new TokenError('invalid_token', 'The token signature does not match.');
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys)
    return new TokenError('invalid_token', "The token's key id is not in the issuer's key set.");
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return new TokenError('invalid_token', 'The token is not valid yet (nbf).');
    if (err.claim === 'iss' || err.claim === 'aud')
      return new TokenError('invalid_token', `The token's '${err.claim}' claim is not the one this edge accepts.`);
    return new TokenError('invalid_token', `The token has no valid '${err.claim}' claim.`);
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid)
    return new TokenError('invalid_token', 'The token is not a compact JWT (three dot-separated base64url parts).');
  // Everything else comes from fetching keys: a timeout, a network error, a non-200 or a bad JWKS.
  return new KeysUnavailableError(
    `The token's keys cannot be fetched now (${(err as Error)?.message ?? String(err)}); try again shortly.`,
  );
}

/** Reads the `alg` of a token's header without trusting it (for the error message only). */
function headerAlg(token: string): unknown {
  try {
    const part = token.slice(0, token.indexOf('.'));
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    return (JSON.parse(json) as { alg?: unknown }).alg;
  } catch {
    return undefined;
  }
}

/** One verifier over a jose key (a secret or a remote key set), pinned to one algorithm. */
function joseVerifier(
  key: Uint8Array | JWTVerifyGetKey,
  algorithm: 'HS256' | 'RS256',
  options: VerifierOptions,
): TokenVerifier {
  const opts = { ...verifierDefaults, ...options };
  const cache = verifiedCache(opts.cacheSize);
  return {
    cached(token) {
      const hit = cache.get(token);
      if (!hit) return undefined;
      const nowSeconds = opts.now() / 1000;
      const { principal, nbf } = hit;
      if (principal.exp + opts.leewaySeconds <= nowSeconds) return undefined;
      if (nbf !== null && nbf - opts.leewaySeconds > nowSeconds) return undefined;
      return principal;
    },
    async verify(token) {
      const nowSeconds = opts.now() / 1000;
      const cached = cache.get(token);
      if (cached) {
        const { principal, nbf } = cached;
        if (principal.exp + opts.leewaySeconds <= nowSeconds) {
          cache.delete(token);
          throw new TokenError(
            'token_expired',
            `The token expired at ${new Date(principal.exp * 1000).toISOString()}.`,
          );
        }
        if (nbf !== null && nbf - opts.leewaySeconds > nowSeconds)
          throw new TokenError('invalid_token', 'The token is not valid yet (nbf).');
        return principal;
      }
      if (token.length > opts.maxTokenLength)
        throw new TokenError('invalid_token', `The token is longer than ${opts.maxTokenLength} characters.`);
      if (token.split('.').length !== 3)
        throw new TokenError('invalid_token', 'The token is not a compact JWT (three dot-separated parts).');
      const alg = headerAlg(token);
      if (typeof alg !== 'string')
        throw new TokenError('invalid_token', "The token's header is not base64url JSON naming its algorithm ('alg').");
      if (alg !== algorithm)
        throw new TokenError(
          'invalid_token',
          `The token's algorithm '${String(alg)}' is not accepted: expected ${algorithm}.`,
        );
      let payload: Record<string, unknown>;
      try {
        const verified = await jwtVerify(token, key as Uint8Array, {
          algorithms: [algorithm],
          clockTolerance: opts.leewaySeconds,
          currentDate: new Date(opts.now()),
          requiredClaims: ['sub', 'exp'],
          ...(opts.issuer ? { issuer: opts.issuer } : {}),
          ...(opts.audience ? { audience: opts.audience } : {}),
        });
        payload = verified.payload as Record<string, unknown>;
      } catch (err) {
        throw translate(err, algorithm);
      }
      const principal = principalFrom(payload, nowSeconds, opts.leewaySeconds);
      cache.set(token, principal, typeof payload.nbf === 'number' ? payload.nbf : null);
      return principal;
    },
  };
}

/**
 * A verifier for HS256 tokens signed with `secret`.
 * @example const verifier = hs256Verifier(process.env.VIREO_JWT_SECRET!, { issuer: 'https://shop.example' });
 */
export function hs256Verifier(secret: string, options: VerifierOptions = {}): TokenVerifier {
  const problem = secretProblem(secret);
  if (problem) throw new Error(`Cannot verify tokens: ${problem}.`);
  return joseVerifier(encoder.encode(secret), 'HS256', options);
}

export type JwksVerifierOptions = VerifierOptions & {
  /** The JWKS document's URL (e.g. https://issuer/.well-known/jwks.json). */
  url: string;
  /** How long fetched keys are kept, in milliseconds. Default 10 minutes. */
  keysTtlMs?: number;
  /** Least time between two fetches for an unknown `kid`, in milliseconds. Default 30 s. */
  cooldownMs?: number;
  /** How long one JWKS fetch may take, in milliseconds. Default 5 s. */
  timeoutMs?: number;
  /** The fetch to use (tests inject one). Default globalThis.fetch. */
  fetch?: typeof fetch;
};

/**
 * A verifier for RS256 tokens whose public keys come from a JWKS URL (refetched when a `kid` is
 * unknown). An unreachable JWKS makes verify() throw KeysUnavailableError (503), never a 500.
 * @example const verifier = jwksVerifier({ url: 'https://auth.example.com/.well-known/jwks.json' });
 */
export function jwksVerifier(options: JwksVerifierOptions): TokenVerifier {
  const keySet = createRemoteJWKSet(new URL(options.url), {
    cacheMaxAge: options.keysTtlMs ?? 600_000,
    cooldownDuration: options.cooldownMs ?? 30_000,
    timeoutDuration: options.timeoutMs ?? 5_000,
    ...(options.fetch ? { [customFetch]: options.fetch } : {}),
  });
  return joseVerifier(keySet, 'RS256', options);
}

/** Generates a random secret for HS256 (hex, 256 bits). */
export function generateSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
