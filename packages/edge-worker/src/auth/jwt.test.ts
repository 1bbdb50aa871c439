// Token verification: HS256 (the default) and RS256 from a JWKS URL, against hand-made tokens.
import { describe, expect, it } from 'vitest';
import {
  base64url,
  generateSecret,
  hs256Verifier,
  jwksVerifier,
  KeysUnavailableError,
  secretProblem,
  signHs256,
  TokenError,
} from './jwt.ts';

const SECRET = 'unit-test-secret-0123456789-abcdefgh';
const NOW = 1_800_000_000_000;
const enc = (v: unknown) => base64url(new TextEncoder().encode(JSON.stringify(v)));
const claims = (over: Record<string, unknown> = {}) => ({
  sub: 'alice',
  scope: 'features:read events:write',
  exp: NOW / 1000 + 60,
  ...over,
});

async function refused(promise: Promise<unknown>): Promise<TokenError> {
  const err = await promise.then(
    () => null,
    (e) => e,
  );
  expect(err).toBeInstanceOf(TokenError);
  return err as TokenError;
}

describe('hs256Verifier', () => {
  const verifier = hs256Verifier(SECRET, { now: () => NOW, cacheSize: 0 });

  it('accepts a good token and reads sub and the space-separated scopes', async () => {
    const p = await verifier.verify(await signHs256(claims(), SECRET));
    expect(p.sub).toBe('alice');
    expect([...p.scopes]).toEqual(['features:read', 'events:write']);
  });

  it('refuses expired tokens (after the leeway), not-yet-valid ones and missing claims', async () => {
    expect((await refused(verifier.verify(await signHs256(claims({ exp: NOW / 1000 - 31 }), SECRET)))).code).toBe(
      'token_expired',
    );
    await expect(verifier.verify(await signHs256(claims({ exp: NOW / 1000 - 29 }), SECRET))).resolves.toBeTruthy();
    expect(
      (await refused(verifier.verify(await signHs256(claims({ nbf: NOW / 1000 + 120 }), SECRET)))).message,
    ).toContain('not valid yet');
    expect(
      (await refused(verifier.verify(await signHs256({ scope: 'x', exp: NOW / 1000 + 60 } as never, SECRET)))).message,
    ).toContain("'sub'");
    expect(
      (await refused(verifier.verify(await signHs256({ sub: 'a', scope: 'x' } as never, SECRET)))).message,
    ).toContain("'exp'");
    expect((await refused(verifier.verify(await signHs256(claims({ scope: ['a'] }), SECRET)))).message).toContain(
      "'scope'",
    );
  });

  it('refuses other secrets, other algorithms, alg none and malformed tokens', async () => {
    expect((await refused(verifier.verify(await signHs256(claims(), 'another-secret-0123456789')))).message).toContain(
      'signature',
    );
    const payload = enc(claims());
    for (const header of [{ alg: 'none' }, { alg: 'RS256' }, { alg: 'HS512' }, {}]) {
      expect((await refused(verifier.verify(`${enc(header)}.${payload}.`))).message).toContain('algorithm');
    }
    for (const bad of [
      '',
      'a',
      'a.b',
      'a.b.c.d',
      '!!!.???.###',
      `${enc('str')}.${payload}.x`,
      `${enc({ alg: 'HS256' })}.${base64url(new Uint8Array([0xff, 0xfe]))}.x`,
    ]) {
      expect((await refused(verifier.verify(bad))).code).toBe('invalid_token');
    }
    expect((await refused(verifier.verify('x'.repeat(9000)))).message).toContain('longer');
  });

  it('rechecks exp on cached tokens', async () => {
    let now = NOW;
    const cached = hs256Verifier(SECRET, { now: () => now });
    const t = await signHs256(claims({ exp: NOW / 1000 + 10 }), SECRET);
    expect(cached.cached!(t)).toBeUndefined();
    await cached.verify(t);
    expect(cached.cached!(t)?.sub).toBe(claims().sub);
    now += 60_000;
    // The fast lane's look-up (node-lane.ts) refuses what verify() refuses; it never verifies a signature.
    expect(cached.cached!(t)).toBeUndefined();
    expect(cached.cached!(`${t.slice(0, -2)}AA`)).toBeUndefined();
    expect((await refused(cached.verify(t))).code).toBe('token_expired');
  });

  it('never takes a token with a bad signature from the cache of verified ones', async () => {
    const cached = hs256Verifier(SECRET, { now: () => NOW });
    const good = await signHs256(claims(), SECRET);
    expect((await cached.verify(good)).sub).toBe('alice');
    // The same header and claims with another signature (a forged or altered token): refused, every time.
    const [h, p] = good.split('.');
    const forged = `${h}.${p}.${base64url(new Uint8Array(32).fill(7))}`;
    for (let i = 0; i < 2; i++) expect((await refused(cached.verify(forged))).code).toBe('invalid_token');
    // Signed with another secret: refused although its claims equal a cached token's.
    const other = await signHs256(claims(), 'another-secret-0123456789-abcdefghijk');
    expect((await refused(cached.verify(other))).message).toContain('signature');
    // A claim altered under the good signature: refused.
    const altered = `${h}.${enc(claims({ sub: 'mallory' }))}.${good.split('.')[2]}`;
    expect((await refused(cached.verify(altered))).code).toBe('invalid_token');
    expect((await cached.verify(good)).sub).toBe('alice');
  });

  it('drops an expired token from the cache and refuses it from then on, as without a cache', async () => {
    let now = NOW;
    const cached = hs256Verifier(SECRET, { now: () => now, cacheSize: 2 });
    const short = await signHs256(claims({ exp: NOW / 1000 + 5 }), SECRET);
    const long = await signHs256(claims({ sub: 'bob', exp: NOW / 1000 + 3600 }), SECRET);
    await cached.verify(short);
    await cached.verify(long);
    // Within the 30 s leeway after exp, then past it.
    now += 20_000;
    expect((await cached.verify(short)).sub).toBe('alice');
    now += 20_000;
    for (let i = 0; i < 2; i++) expect((await refused(cached.verify(short))).code).toBe('token_expired');
    expect((await cached.verify(long)).sub).toBe('bob');
    // More tokens than the cache holds: each still verifies (the least recently used is dropped).
    for (let i = 0; i < 5; i++)
      expect((await cached.verify(await signHs256(claims({ sub: `u${i}`, exp: now / 1000 + 60 }), SECRET))).sub).toBe(
        `u${i}`,
      );
    expect((await cached.verify(long)).sub).toBe('bob');
  });

  it('refuses empty, short and predictable secrets with one sentence, and generates good ones', () => {
    expect(secretProblem(undefined)).toContain('empty');
    expect(secretProblem('')).toContain('empty');
    expect(secretProblem('short')).toContain('at least 32');
    expect(secretProblem('a'.repeat(64))).toContain('predictable');
    expect(secretProblem('abcd'.repeat(16))).toContain('predictable');
    expect(secretProblem('passwordpasswordpasswordpassword')).toContain('predictable');
    expect(() => hs256Verifier('short')).toThrow('at least 32');
    for (let i = 0; i < 20; i++) expect(secretProblem(generateSecret())).toBeNull();
    expect(generateSecret()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('checks iss and aud when they are configured', async () => {
    const strict = hs256Verifier(SECRET, { now: () => NOW, issuer: 'https://shop.example', audience: 'vireo' });
    const good = await signHs256(claims({ iss: 'https://shop.example', aud: 'vireo' }), SECRET);
    expect((await strict.verify(good)).sub).toBe('alice');
    for (const over of [{}, { iss: 'https://evil.example', aud: 'vireo' }, { iss: 'https://shop.example', aud: 'x' }]) {
      const err = await refused(strict.verify(await signHs256(claims(over), SECRET)));
      expect(err.code).toBe('invalid_token');
    }
    // Without configuration, iss and aud are not checked.
    expect((await verifier.verify(await signHs256(claims({ iss: 'any', aud: 'any' }), SECRET))).sub).toBe('alice');
  });
});

describe('jwksVerifier (RS256)', () => {
  // One RSA key generated for the file (key generation is the slow part); kids name it twice.
  const pairPromise = crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['sign', 'verify'],
  );
  async function keyPair(kid: string) {
    const pair = await pairPromise;
    const jwk = { ...(await crypto.subtle.exportKey('jwk', pair.publicKey)), kid, alg: 'RS256', use: 'sig' };
    const sign = async (body: Record<string, unknown>, header: Record<string, unknown> = { alg: 'RS256', kid }) => {
      const signed = `${enc(header)}.${enc(body)}`;
      const sig = await crypto.subtle.sign('RSASSA-PKCS1-v1_5', pair.privateKey, new TextEncoder().encode(signed));
      return `${signed}.${base64url(new Uint8Array(sig))}`;
    };
    return { jwk, sign };
  }

  it('verifies RS256 tokens with keys from the JWKS, refetching for a new kid, and refuses HS256 tokens', async () => {
    const a = await keyPair('a');
    const b = await keyPair('b');
    let keys = [a.jwk];
    let fetches = 0;
    let now = NOW;
    const verifier = jwksVerifier({
      url: 'https://issuer.example/jwks.json',
      now: () => now,
      cooldownMs: 0,
      fetch: (async () => {
        fetches++;
        return new Response(JSON.stringify({ keys }));
      }) as typeof fetch,
    });
    expect((await verifier.verify(await a.sign(claims()))).sub).toBe('alice');
    expect(fetches).toBe(1);
    keys = [a.jwk, b.jwk];
    now += 5000;
    expect((await verifier.verify(await b.sign(claims({ sub: 'bob' })))).sub).toBe('bob');
    expect(fetches).toBe(2);
    expect((await refused(verifier.verify(await b.sign(claims(), { alg: 'RS256', kid: 'zzz' })))).message).toContain(
      'key id',
    );
    expect((await refused(verifier.verify(await signHs256(claims(), SECRET)))).message).toContain('RS256');
    const forged = (await a.sign(claims())).split('.');
    forged[1] = enc(claims({ sub: 'mallory' }));
    expect((await refused(verifier.verify(forged.join('.')))).message).toContain('signature');
  });

  it('answers KeysUnavailableError (a 503, never a 500) when the JWKS cannot be fetched', async () => {
    const a = await keyPair('a');
    const outages: Array<typeof fetch> = [
      (async () => {
        throw new TypeError('fetch failed');
      }) as typeof fetch,
      (async () => new Response('bad gateway', { status: 502 })) as typeof fetch,
      (async () => new Response('not json')) as typeof fetch,
      ((_url: unknown, init?: RequestInit) =>
        new Promise((_ok, fail) =>
          init?.signal?.addEventListener('abort', () => fail(init.signal!.reason)),
        )) as typeof fetch,
    ];
    for (const fetch of outages) {
      const verifier = jwksVerifier({ url: 'https://down.example/jwks.json', now: () => NOW, timeoutMs: 50, fetch });
      const err = await verifier.verify(await a.sign(claims())).then(
        () => null,
        (e) => e,
      );
      expect(err).toBeInstanceOf(KeysUnavailableError);
      expect((err as KeysUnavailableError).retryAfterSeconds).toBeGreaterThan(0);
    }
  });
});
