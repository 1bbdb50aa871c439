// What a page hears when something is wrong (errors.ts): one EdgeError with the edge's code and
// sentence for a wrong model name, a refused token, an edge down or silent; a BundleIntegrityError
// for a damaged cached bundle that cannot be downloaded again; a TypeError / RangeError for what
// recommend() and observe() cannot take; an EdgeError `forbidden_user` for a token of another user.
// Never a bare "Failed to fetch", a DOMException from IndexedDB, or a promise that never settles.
import 'fake-indexeddb/auto';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { BundleIntegrityError } from '@vireo/core';
import { FakeOrigin, FIXTURE_ITEMS, makeFixtureBundle } from '@vireo/testkit/fixture';
import { createEngine, type Engine, type EngineOptions } from './engine.ts';
import { EdgeError, tokenUser } from './errors.ts';
import { openEngineStore, fileKey } from './store.ts';
import * as Comlink from 'comlink';
import { createEngineWorker, engineWorkerApi, reviveError } from './worker.ts';

let v1: Awaited<ReturnType<typeof makeFixtureBundle>>;
beforeAll(async () => {
  v1 = await makeFixtureBundle('1', 1);
});

const engines: Engine[] = [];
afterEach(() => {
  while (engines.length) engines.pop()!.dispose();
});
let db = 0;
async function open(fetcher: typeof fetch, o: Partial<EngineOptions> = {}, dbName = `err${++db}`): Promise<Engine> {
  const e = await createEngine({
    model: 'https://cdn.test/models/fixture/',
    edge: 'https://edge.test',
    backend: 'cpu',
    fetch: fetcher,
    dbName,
    upload: { flushDelayMs: 60_000 },
    ...o,
  });
  engines.push(e);
  return e;
}

function origin(): FakeOrigin {
  const o = new FakeOrigin();
  o.add(v1);
  return o;
}

/** The edge's error answer. */
const edgeError = (status: number, code: string, message: string) =>
  new Response(JSON.stringify({ error: { code, message, details: null } }), {
    status,
    headers: { 'content-type': 'application/json' },
  });

/** A fetch that answers `url`s matching `match` with `answer`, the rest from `o`. */
const answering =
  (o: FakeOrigin, match: RegExp, answer: () => Response): typeof fetch =>
  async (input, init) =>
    match.test(String(input)) ? answer() : o.fetch(input, init);

/** An unsigned JWT (the engine reads its claims, the edge verifies it). */
function jwt(claims: Record<string, unknown>): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'HS256' })}.${b64(claims)}.c2ln`;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('createEngine: the edge refuses or fails', () => {
  // A wrong model name, an expired token, a token without features:read.
  it("a refused manifest: EdgeError with the edge's code and sentence", async () => {
    const cases = [
      [404, 'model_not_found', "Model 'shoe' has no promoted version.", /has no promoted version\.$/],
      [401, 'token_expired', 'The token has expired.', /The token has expired\. Give the engine a new token/],
      [
        403,
        'insufficient_scope',
        "This route needs the scope 'features:read' or 'models:publish'.",
        /needs the scope 'features:read'.*Check the token/,
      ],
    ] as const;
    for (const [status, code, said, message] of cases) {
      const err = await rejection(open(answering(origin(), /manifest\.json$/, () => edgeError(status, code, said))));
      expect(err).toBeInstanceOf(EdgeError);
      expect(err.name).toBe('EdgeError');
      expect(err).toMatchObject({ code, status, url: 'https://cdn.test/models/fixture/manifest.json' });
      expect(err.message).toMatch(
        new RegExp(
          '^Fetching the manifest https://cdn\\.test/models/fixture/manifest\\.json ' +
            `failed with HTTP ${status} \\(${code}\\): `,
        ),
      );
      expect(err.message).toMatch(message);
    }
    const plain = await rejection(
      open(answering(origin(), /manifest\.json$/, () => new Response('no', { status: 502 }))),
    );
    expect(plain).toMatchObject({ name: 'EdgeError', code: 'http_502', status: 502 });
    expect(plain.message).toMatch(/failed with HTTP 502\.$/);
  });

  it("an edge URL without http(s):// ('localhost:8787'), no model: a TypeError at once", async () => {
    const o = origin();
    const bad = await rejection(open(o.fetch, { edge: 'localhost:8787' }));
    expect(bad).toBeInstanceOf(TypeError);
    expect(bad.message).toBe(`edge must be an http(s) URL such as 'http://localhost:8787' (got "localhost:8787").`);
    expect(await rejection(open(o.fetch, { model: '' }))).toMatchObject({
      name: 'TypeError',
      message: 'model must be a non-empty string (got "").',
    });
    expect(o.requests).toEqual([]);
  });

  it('the edge down and nothing cached: EdgeError unreachable naming the server, not "Failed to fetch"', async () => {
    const o = origin();
    o.down = true;
    const err = await rejection(open(o.fetch));
    expect(err).toBeInstanceOf(EdgeError);
    expect(err).toMatchObject({ code: 'unreachable', status: undefined });
    expect(err.message).toBe(
      'Fetching the manifest https://cdn.test/models/fixture/manifest.json failed: https://cdn.test could not be ' +
        'reached (fetch failed (origin down)).',
    );
  });

  it("in a page, unreachable says it may be CORS (fetch fails alike) and names the page's origin", async () => {
    const o = origin();
    o.down = true;
    vi.stubGlobal('location', { origin: 'https://shop.test' });
    try {
      const err = await rejection(open(o.fetch));
      expect(err).toMatchObject({ name: 'EdgeError', code: 'unreachable' });
      expect(err.message).toBe(
        'Fetching the manifest https://cdn.test/models/fixture/manifest.json failed: https://cdn.test could not be ' +
          "reached (fetch failed (origin down)): it is down, or it does not allow this page's origin " +
          'https://shop.test (CORS; start the edge with --cors https://shop.test).',
      );
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('an edge that accepts and never answers: a timeout, then the cached bundle serves', async () => {
    const o = origin();
    const first = await open(o.fetch, {}, 'silent-db');
    first.dispose();
    engines.pop();
    const silent: typeof fetch = (_input, init) =>
      new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
    const errors: Error[] = [];
    const t0 = performance.now();
    const e = await open(silent, { requestTimeoutMs: 200, onError: (x) => errors.push(x) }, 'silent-db');
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(errors[0]).toBeInstanceOf(EdgeError);
    expect(errors[0]).toMatchObject({ code: 'timeout' });
    expect(errors[0].message).toBe(
      'Fetching the manifest https://cdn.test/models/fixture/manifest.json failed: no answer from https://cdn.test ' +
        'within 200 ms.',
    );
    expect((await e.recommend({ userId: 'u1', k: 3 })).items).toHaveLength(3);
    const none = await rejection(open(silent, { requestTimeoutMs: 200 }));
    expect(none).toMatchObject({ name: 'EdgeError', code: 'timeout' });
  });

  it('a damaged cached bundle, the edge down: BundleIntegrityError naming the file, no "Failed to fetch"', async () => {
    const o = origin();
    const first = await open(o.fetch, {}, 'damaged-db');
    first.dispose();
    engines.pop();
    const store = await openEngineStore('damaged-db');
    const key = fileKey(v1.manifest.name, v1.manifest.version, 'items.safetensors');
    const bytes = (await store.getFile(key))!.slice();
    bytes[bytes.length - 1] ^= 0xff;
    await store.putFiles([[key, bytes]]);
    store.close();
    o.down = true;
    const err = await rejection(open(o.fetch, {}, 'damaged-db'));
    expect(err).toBeInstanceOf(BundleIntegrityError);
    expect((err as BundleIntegrityError).file).toBe('items.safetensors');
    expect(err.message).toMatch(
      new RegExp(
        '^bundle fixture@1: "items\\.safetensors" .*sha256.* \\(the copy cached on this device\\), ' +
          'and downloading it again failed: ' +
          'Downloading https://cdn\\.test/models/fixture/items\\.safetensors failed: ' +
          'https://cdn\\.test could not be reached',
      ),
    );
    o.down = false; // back online: downloaded again, verified, served
    expect((await (await open(o.fetch, {}, 'damaged-db')).recommend({ userId: 'u1', k: 2 })).items).toHaveLength(2);
  });
});

describe('recommend and observe: what they cannot take', () => {
  it('a token for another user: forbidden_user before any request; a service token acts for any', async () => {
    const o = origin();
    const e = await open(o.fetch, { token: jwt({ sub: 'u2', scope: 'features:read events:write' }) });
    o.requests = [];
    for (const call of [
      () => e.recommend({ userId: 'u1', k: 3 }),
      () => e.observe({ userId: 'u1', itemId: 'i1', type: 'click' }),
    ]) {
      const err = await rejection(call());
      expect(err).toBeInstanceOf(EdgeError);
      expect(err).toMatchObject({ code: 'forbidden_user', status: 403 });
      expect(err.message).toMatch(/^(recommend|observe): the token acts for user 'u2' \(its sub\), not 'u1': /);
    }
    expect(o.requests).toEqual([]);
    expect(await e.pendingEvents()).toBe(0);
    expect((await e.recommend({ userId: 'u2', k: 3 })).items).toHaveLength(3);
    const service = await open(o.fetch, { token: jwt({ sub: 'backend', scope: 'features:read service' }) });
    expect((await service.recommend({ userId: 'u1', k: 3 })).items).toHaveLength(3);
    expect(tokenUser('not-a-jwt')).toBeNull();
    expect(tokenUser(jwt({ sub: 'ops', scope: 'admin' }))).toEqual({ sub: 'ops', anyUser: true });
    expect(tokenUser(jwt({ sub: 'u1', scope: 'features:read' }))).toEqual({ sub: 'u1', anyUser: false });
  });

  it('recommend: k and candidates are positive integers (RangeError); a huge k gives the whole catalogue', async () => {
    const e = await open(origin().fetch);
    for (const k of [0, -1, 2.5, Number.NaN, '5' as unknown as number]) {
      const err = await rejection(e.recommend({ userId: 'u1', k }));
      expect(err).toBeInstanceOf(RangeError);
      expect(err.message).toMatch(/^recommend: k must be a positive integer \(got (0|-1|2\.5|NaN|"5")\)\.$/);
    }
    expect(await rejection(e.recommend({ userId: 'u1', candidates: 0 }))).toBeInstanceOf(RangeError);
    const all = await e.recommend({ userId: 'u1', k: 1e9 });
    expect(all.items).toHaveLength(FIXTURE_ITEMS);
    const noUser = await rejection(e.recommend({ k: 3 } as never));
    expect(noUser).toBeInstanceOf(TypeError);
    expect(noUser.message).toBe('recommend: userId must be a non-empty string (got undefined).');
  });

  it('observe: an unknown item is recorded and uploaded; a missing type or a bad value is a TypeError', async () => {
    const o = origin();
    const e = await open(o.fetch);
    expect(await e.observe({ userId: 'u1', itemId: 'a-new-sku', type: 'view' })).toEqual(expect.any(String));
    expect(await e.flush()).toBe(1);
    expect(o.events).toMatchObject([{ item_id: 'a-new-sku', user_id: 'u1', type: 'view' }]);
    const noType = await rejection(e.observe({ userId: 'u1', itemId: 'i1' } as never));
    expect(noType).toBeInstanceOf(TypeError);
    expect(noType.message).toBe('observe: type must be a non-empty string (got undefined).');
    expect(await rejection(e.observe({ userId: 'u1', itemId: 'i1', type: 'buy', value: Number.NaN }))).toBeInstanceOf(
      TypeError,
    );
    expect(await e.pendingEvents()).toBe(0);
  });

  it('the edge refusing the features (an expired token): recommend degrades and onError hears it once', async () => {
    const errors: Error[] = [];
    const o = origin();
    const e = await open(
      answering(o, /\/v1\/users\//, () => edgeError(401, 'token_expired', 'The token has expired.')),
      { onError: (x) => errors.push(x) },
    );
    for (let i = 0; i < 2; i++) {
      const r = await e.recommend({ userId: 'u1', k: 3 });
      expect(r.degraded).toBe(true);
      expect(r.items).toHaveLength(3);
    }
    await new Promise((ok) => setTimeout(ok, 0));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ name: 'EdgeError', code: 'token_expired', status: 401 });
    expect(errors[0].message).toMatch(/^Reading the features of user 'u1' failed with HTTP 401 \(token_expired\)/);
  });
});

describe('the event upload', () => {
  /** An edge that takes a token acting for one user: events of another user are a 403 forbidden_user. */
  function perUserEdge(o: FakeOrigin): typeof fetch {
    return async (input, init) => {
      if (!String(input).endsWith('/v1/events')) return o.fetch(input, init);
      const authorization = (init?.headers as Record<string, string> | undefined)?.authorization ?? '';
      const sub = tokenUser(authorization.replace(/^Bearer /, ''))?.sub;
      const events = JSON.parse(String(init?.body)).events as { user_id: string }[];
      if (events.some((e) => e.user_id !== sub)) return edgeError(403, 'forbidden_user', 'Not your events.');
      return o.fetch(input, init);
    };
  }

  it("another user signs in: the earlier user's queued events stay stored, the new user's go at once", async () => {
    const o = origin();
    const alice = jwt({ sub: 'alice', scope: 'features:read events:write' });
    const bob = jwt({ sub: 'bob', scope: 'features:read events:write' });
    const edge = perUserEdge(o);
    (await open(edge, { token: alice }, 'two-users')).dispose(); // alice's visit caches the bundle
    engines.pop();
    o.down = true; // alice again, the edge unreachable: her click is queued
    const a = await open(edge, { token: alice }, 'two-users');
    await a.observe({ userId: 'alice', itemId: 'i1', type: 'click' });
    expect(await a.flush()).toBe(0); // and no upload of hers still in flight when bob comes
    a.dispose();
    engines.pop();
    o.down = false; // bob, the edge up
    const errors: Error[] = [];
    const b = await open(edge, { token: bob, upload: { maxAttempts: 2 }, onError: (x) => errors.push(x) }, 'two-users');
    await b.observe({ userId: 'bob', itemId: 'i2', type: 'click' });
    expect(await b.flush()).toBe(1);
    for (let i = 0; i < 5; i++) expect(await b.flush()).toBe(0);
    expect(o.events).toMatchObject([{ user_id: 'bob', item_id: 'i2' }]);
    expect(await b.pendingEvents()).toBe(0); // bob has nothing waiting; alice's event is not his
    expect(errors).toEqual([]); // alice's event was never sent with bob's token
    b.dispose();
    engines.pop();
    const back = await open(edge, { token: alice }, 'two-users'); // alice returns: her event goes
    expect(await back.pendingEvents()).toBe(1);
    expect(await back.flush()).toBe(1);
    expect(o.events).toMatchObject([{ user_id: 'bob' }, { user_id: 'alice', item_id: 'i1' }]);
  });

  it('an edge that accepts the upload and never answers: flush() settles within requestTimeoutMs', async () => {
    const o = origin();
    const silent: typeof fetch = (input, init) =>
      String(input).endsWith('/v1/events')
        ? new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(new Error('aborted'))))
        : o.fetch(input, init);
    const errors: Error[] = [];
    const e = await open(silent, { requestTimeoutMs: 200, onError: (x) => errors.push(x) });
    await e.observe({ userId: 'u1', itemId: 'i1', type: 'click' });
    const t0 = performance.now();
    expect(await e.flush()).toBe(0);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(await e.pendingEvents()).toBe(1);
    expect(errors[0]).toBeInstanceOf(EdgeError);
    expect(errors[0]).toMatchObject({ code: 'timeout', url: 'https://edge.test/v1/events' });
    expect(errors[0].message).toBe(
      'Uploading 1 events failed (no answer from https://edge.test within 200 ms); they stay queued and will be ' +
        'retried.',
    );
  });

  it("a refused upload (an expired token) reaches onError as an EdgeError with the edge's code", async () => {
    const o = origin();
    const errors: Error[] = [];
    const e = await open(
      answering(o, /\/v1\/events$/, () => edgeError(401, 'token_expired', 'The token has expired.')),
      { onError: (x) => errors.push(x) },
    );
    await e.observe({ userId: 'u1', itemId: 'i1', type: 'click' });
    expect(await e.flush()).toBe(0);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(EdgeError);
    expect(errors[0]).toMatchObject({ code: 'token_expired', status: 401, url: 'https://edge.test/v1/events' });
    expect(errors[0].message).toBe(
      'Uploading 1 events failed (HTTP 401 token_expired: The token has expired); they stay queued and will be ' +
        'retried.',
    );
  });
});

describe('createEngineWorker', () => {
  it("an error from the worker is the same class on the page, with the edge's code", () => {
    const edge = reviveError({ name: 'EdgeError', message: 'm', code: 'token_expired', status: 401, url: 'u' });
    expect(edge).toBeInstanceOf(EdgeError);
    expect(edge).toMatchObject({ code: 'token_expired', status: 401, url: 'u', message: 'm' });
    const file = reviveError({ name: 'BundleIntegrityError', message: 'm', file: 'a.bin' });
    expect(file).toBeInstanceOf(BundleIntegrityError);
    expect(reviveError({ name: 'RangeError', message: 'k' })).toBeInstanceOf(RangeError);
    expect(reviveError({ name: 'Oops', message: 'x' })).toMatchObject({ name: 'Oops', message: 'x' });
  });

  /** createEngineWorker over a MessageChannel: the worker's side (comlink) runs in this process. */
  function channelWorker(): Worker {
    const { port1, port2 } = new MessageChannel();
    Comlink.expose(engineWorkerApi, port2 as unknown as Comlink.Endpoint);
    return Object.assign(port1, { terminate: () => (port1.close(), port2.close()) }) as unknown as Worker;
  }

  it("onError stays on the page: the worker forwards each error, an EdgeError with the edge's code", async () => {
    const o = origin();
    vi.stubGlobal(
      'fetch',
      answering(o, /\/v1\/events$/, () => edgeError(401, 'token_expired', 'The token has expired.')),
    );
    const errors: Error[] = [];
    const uploads: (number | undefined)[] = [];
    try {
      const engine = await createEngineWorker({
        model: 'https://cdn.test/models/fixture/',
        edge: 'https://edge.test',
        backend: 'cpu',
        dbName: 'worker-on-error',
        upload: { flushDelayMs: 60_000, onUpload: (r) => uploads.push(r.status) },
        onError: (err) => errors.push(err),
        worker: channelWorker(),
      });
      await engine.observe({ userId: 'u1', itemId: 'i1', type: 'click' });
      expect(await engine.flush()).toBe(0);
      await vi.waitFor(() => expect(errors).toHaveLength(1));
      expect(errors[0]).toBeInstanceOf(EdgeError);
      expect(errors[0]).toMatchObject({ code: 'token_expired', status: 401 });
      expect(errors[0].message).toMatch(/^Uploading 1 events failed \(HTTP 401 token_expired: The token has expired\)/);
      expect(uploads).toEqual([401]);
      await engine.dispose();
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('a callback that cannot work across the worker is refused in one sentence, not a DataCloneError', async () => {
    const err = await rejection(
      createEngineWorker({
        model: 'shop',
        edge: 'https://edge.test',
        historyTypes: () => true,
        worker: channelWorker(),
      } as never),
    );
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toBe(
      "createEngineWorker: the option 'historyTypes' is a function, which cannot be sent to the engine's worker: " +
        'leave it out (the worker uses the default) or run the engine on the page with createEngine.',
    );
  });
});
