// Token verification: HS256 (the default) and RS256 from a JWKS URL, against hand-made tokens.
import { describe, expect, it } from 'vitest';
import { base64url, generateSecret, hs256Verifier, jwksVerifier, signHs256, TokenError } from './jwt.ts';

const SECRET = 'unit-test-secret-0123456789';
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
    await cached.verify(t);
    now += 60_000;
    expect((await refused(cached.verify(t))).code).toBe('token_expired');
  });

  it('refuses short secrets and generates long ones', () => {
    expect(() => hs256Verifier('short')).toThrow('16');
    expect(generateSecret()).toMatch(/^[0-9a-f]{64}$/);
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
      "'zzz'",
    );
    expect((await refused(verifier.verify(await signHs256(claims(), SECRET)))).message).toContain('RS256');
    const forged = (await a.sign(claims())).split('.');
    forged[1] = enc(claims({ sub: 'mallory' }));
    expect((await refused(verifier.verify(forged.join('.')))).message).toContain('signature');
  });
});
