// Bearer JWT with scopes, on Web Crypto only (the same code on Node and in workerd).
// HS256 with a shared secret is the default; RS256 with keys from a JWKS URL is the option for
// an external identity provider. The algorithm is pinned by the verifier, never taken from the
// token header ('none' and algorithm confusion are refused).

/** The scopes the edge knows. */
export const SCOPES = ['features:read', 'events:write', 'models:publish'] as const;
export type Scope = (typeof SCOPES)[number];

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

/** Checks a compact JWT and returns its caller; throws TokenError. */
export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** base64url without padding. */
export function base64url(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64url(part: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw new TokenError('invalid_token', 'The token is not base64url.');
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((part.length + 3) % 4);
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    throw new TokenError('invalid_token', 'The token is not base64url.');
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function parseJsonPart(part: string, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(decoder.decode(fromBase64url(part)));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value;
  } catch (err) {
    if (err instanceof TokenError) throw err;
  }
  throw new TokenError('invalid_token', `The token's ${what} is not a JSON object.`);
}

async function hmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ]);
}

/**
 * Signs claims as an HS256 JWT (the development tokens and the tests use it).
 * @example const token = await signHs256({ sub: 'dev', scope: 'features:read', exp: now + 3600 }, secret);
 */
export async function signHs256(claims: Claims, secret: string): Promise<string> {
  const header = base64url(encoder.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' })));
  const payload = base64url(encoder.encode(JSON.stringify(claims)));
  const signature = await crypto.subtle.sign('HMAC', await hmacKey(secret), encoder.encode(`${header}.${payload}`));
  return `${header}.${payload}.${base64url(new Uint8Array(signature))}`;
}

type Decoded = {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signed: Uint8Array;
  signature: Uint8Array;
};

function decode(token: string, maxLength: number): Decoded {
  if (token.length > maxLength)
    throw new TokenError('invalid_token', `The token is longer than ${maxLength} characters.`);
  const parts = token.split('.');
  if (parts.length !== 3)
    throw new TokenError('invalid_token', 'The token is not a compact JWT (three dot-separated parts).');
  const [h, p, s] = parts;
  return {
    header: parseJsonPart(h, 'header'),
    payload: parseJsonPart(p, 'payload'),
    signed: encoder.encode(`${h}.${p}`),
    signature: fromBase64url(s),
  };
}

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

export type VerifierOptions = {
  /** Seconds of clock skew tolerated on `exp` and `nbf`. Default 30. */
  leewaySeconds?: number;
  /** The clock, in milliseconds. Default Date.now. */
  now?: () => number;
  /** Longest token accepted, in characters. Default 8192. */
  maxTokenLength?: number;
  /** Verified tokens remembered (their signature is not re-checked; `exp` always is). Default 1024. */
  cacheSize?: number;
};

const verifierDefaults = { leewaySeconds: 30, now: () => Date.now(), maxTokenLength: 8192, cacheSize: 1024 };

/** A small cache of verified tokens: HMAC/RSA checks stay off the hot path of a busy client. */
function verifiedCache(size: number) {
  const map = new Map<string, Record<string, unknown>>();
  return {
    get: (token: string) => map.get(token),
    set(token: string, payload: Record<string, unknown>) {
      if (size <= 0) return;
      if (map.size >= size) map.delete(map.keys().next().value as string);
      map.set(token, payload);
    },
  };
}

/**
 * A verifier for HS256 tokens signed with `secret`.
 * @example const verifier = hs256Verifier(process.env.VIREO_JWT_SECRET!);
 */
export function hs256Verifier(secret: string, options: VerifierOptions = {}): TokenVerifier {
  if (secret.length < 16) throw new Error('The JWT secret must be at least 16 characters.');
  const opts = { ...verifierDefaults, ...options };
  const key = hmacKey(secret);
  const cache = verifiedCache(opts.cacheSize);
  return {
    async verify(token) {
      const nowSeconds = opts.now() / 1000;
      const cached = cache.get(token);
      if (cached) return principalFrom(cached, nowSeconds, opts.leewaySeconds);
      const { header, payload, signed, signature } = decode(token, opts.maxTokenLength);
      if (header.alg !== 'HS256')
        throw new TokenError(
          'invalid_token',
          `The token's algorithm '${String(header.alg)}' is not accepted: expected HS256.`,
        );
      const ok = await crypto.subtle.verify(
        'HMAC',
        await key,
        signature as Uint8Array<ArrayBuffer>,
        signed as Uint8Array<ArrayBuffer>,
      );
      if (!ok) throw new TokenError('invalid_token', 'The token signature does not match.');
      const principal = principalFrom(payload, nowSeconds, opts.leewaySeconds);
      cache.set(token, payload);
      return principal;
    },
  };
}

export type JwksVerifierOptions = VerifierOptions & {
  /** The JWKS document's URL (e.g. https://issuer/.well-known/jwks.json). */
  url: string;
  /** How long fetched keys are kept, in milliseconds. Default 10 minutes. */
  keysTtlMs?: number;
  /** The fetch to use (tests inject one). Default globalThis.fetch. */
  fetch?: typeof fetch;
};

type Jwk = JsonWebKey & { kid?: string; kty?: string; alg?: string };

/**
 * A verifier for RS256 tokens whose public keys come from a JWKS URL (refetched when a `kid` is unknown).
 * @example const verifier = jwksVerifier({ url: 'https://auth.example.com/.well-known/jwks.json' });
 */
export function jwksVerifier(options: JwksVerifierOptions): TokenVerifier {
  const opts = {
    ...verifierDefaults,
    keysTtlMs: 600_000,
    fetch: (...a: Parameters<typeof fetch>) => fetch(...a),
    ...options,
  };
  const cache = verifiedCache(opts.cacheSize);
  let keys: { at: number; byKid: Map<string, Promise<CryptoKey>> } | null = null;

  async function loadKeys(): Promise<Map<string, Promise<CryptoKey>>> {
    const res = await opts.fetch(opts.url, { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`JWKS ${opts.url} answered ${res.status}.`);
    const doc = (await res.json()) as { keys?: Jwk[] };
    const byKid = new Map<string, Promise<CryptoKey>>();
    for (const jwk of doc.keys ?? []) {
      if (jwk.kty !== 'RSA' || (jwk.alg && jwk.alg !== 'RS256')) continue;
      const key = crypto.subtle.importKey(
        'jwk',
        { ...jwk, alg: 'RS256', ext: true },
        { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
        false,
        ['verify'],
      );
      key.catch(() => undefined);
      byKid.set(jwk.kid ?? '', key);
    }
    keys = { at: opts.now(), byKid };
    return byKid;
  }

  async function keyFor(kid: string): Promise<CryptoKey> {
    let byKid = keys && opts.now() - keys.at < opts.keysTtlMs ? keys.byKid : await loadKeys();
    if (!byKid.has(kid) && keys && opts.now() - keys.at > 1000) byKid = await loadKeys(); // key rotation
    const key = byKid.get(kid) ?? (byKid.size === 1 && kid === '' ? [...byKid.values()][0] : undefined);
    if (!key) throw new TokenError('invalid_token', `The token's key id '${kid}' is not in the JWKS.`);
    return key;
  }

  return {
    async verify(token) {
      const nowSeconds = opts.now() / 1000;
      const cached = cache.get(token);
      if (cached) return principalFrom(cached, nowSeconds, opts.leewaySeconds);
      const { header, payload, signed, signature } = decode(token, opts.maxTokenLength);
      if (header.alg !== 'RS256')
        throw new TokenError(
          'invalid_token',
          `The token's algorithm '${String(header.alg)}' is not accepted: expected RS256.`,
        );
      const key = await keyFor(typeof header.kid === 'string' ? header.kid : '');
      const ok = await crypto.subtle.verify(
        'RSASSA-PKCS1-v1_5',
        key,
        signature as Uint8Array<ArrayBuffer>,
        signed as Uint8Array<ArrayBuffer>,
      );
      if (!ok) throw new TokenError('invalid_token', 'The token signature does not match.');
      const principal = principalFrom(payload, nowSeconds, opts.leewaySeconds);
      cache.set(token, payload);
      return principal;
    },
  };
}

/** Generates a random secret for HS256 (hex, 256 bits). */
export function generateSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
