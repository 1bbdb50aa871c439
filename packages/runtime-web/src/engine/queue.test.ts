// The event uploader alone: batching, back-off after failures, a bad batch dropped after
// maxAttempts, nothing removed from the outbox before the edge accepted it, another user's events
// kept for that user's engine, an edge that never answers bounded by the timeout.
import { describe, expect, it } from 'vitest';
import { EventUploader } from './queue.ts';
import { MemoryStore, type OutgoingEvent } from './store.ts';

const ev = (i: number): OutgoingEvent => ({
  event_id: `e${i}`,
  user_id: 'u',
  item_id: `i${i}`,
  type: 'click',
  ts: 1000 + i,
});

describe('EventUploader', () => {
  it('sends in batches, keeps events on failure, backs off, and sends each once', async () => {
    const store = new MemoryStore();
    const bodies: string[][] = [];
    let up = false;
    const fetch = (async (_url: string, init: RequestInit) => {
      if (!up) throw new TypeError('offline');
      bodies.push((JSON.parse(String(init.body)).events as OutgoingEvent[]).map((e) => e.event_id));
      return new Response('{}', { status: 202 });
    }) as unknown as typeof globalThis.fetch;
    const u = new EventUploader(store, { edge: 'http://edge', fetch, batchSize: 2, flushDelayMs: 1e9, backoffMs: 1e9 });
    await u.enqueue([ev(1), ev(2), ev(3)]);
    expect(await u.flush()).toBe(0);
    expect(u.failureCount).toBe(1);
    expect(await u.pending()).toBe(3);
    up = true;
    expect(await u.flush()).toBe(3);
    expect(bodies).toEqual([['e1', 'e2'], ['e3']]);
    expect(await u.pending()).toBe(0);
    expect(u.failureCount).toBe(0);
    u.dispose();
  });

  it(
    "sends one user's events per batch, so a visitor's " + "token (its sub only) is never refused for another's",
    async () => {
      const store = new MemoryStore();
      const bodies: string[][] = [];
      const fetch = (async (_url: string, init: RequestInit) => {
        const events = JSON.parse(String(init.body)).events as OutgoingEvent[];
        bodies.push(events.map((e) => `${e.user_id}:${e.event_id}`));
        const users = new Set(events.map((e) => e.user_id));
        return new Response('{}', { status: users.size === 1 ? 202 : 403 });
      }) as unknown as typeof globalThis.fetch;
      const u = new EventUploader(store, {
        edge: 'http://edge',
        fetch,
        batchSize: 10,
        flushDelayMs: 1e9,
        backoffMs: 1e9,
      });
      await u.enqueue([ev(1), { ...ev(2), user_id: 'v' }, ev(3), { ...ev(4), user_id: 'v' }]);
      expect(await u.flush()).toBe(4);
      expect(bodies).toEqual([
        ['u:e1', 'u:e3'],
        ['v:e2', 'v:e4'],
      ]);
      expect(await u.pending()).toBe(0);
      u.dispose();
    },
  );

  // The outbox had no bound: events of users who never came back to a device stayed there without end.
  it('holds at most maxQueued events, dropping the oldest and saying how many', async () => {
    const store = new MemoryStore();
    const outcomes: Array<{ sent: number; code?: string }> = [];
    const offline = (async () => {
      throw new TypeError('offline');
    }) as unknown as typeof globalThis.fetch;
    const u = new EventUploader(store, {
      edge: 'http://edge',
      fetch: offline,
      maxQueued: 3,
      flushDelayMs: 1e9,
      onUpload: (r) => outcomes.push({ sent: r.sent, code: r.code }),
    });
    await u.enqueue([ev(1), { ...ev(2), user_id: 'v' }]);
    await u.enqueue([ev(3), ev(4), ev(5)]);
    expect((await store.peekOutbox(10)).map((e) => e.event_id)).toEqual(['e3', 'e4', 'e5']);
    expect(outcomes).toEqual([{ sent: 2, code: 'outbox_full' }]);
    u.dispose();
  });

  it('drops a batch the edge keeps rejecting as bad after maxAttempts', async () => {
    const store = new MemoryStore();
    const fetch = (async () => new Response('{"error":{}}', { status: 400 })) as unknown as typeof globalThis.fetch;
    const u = new EventUploader(store, {
      edge: 'http://edge',
      fetch,
      maxAttempts: 2,
      flushDelayMs: 1e9,
      backoffMs: 1e9,
    });
    await u.enqueue([ev(1)]);
    await u.flush();
    expect(await u.pending()).toBe(1);
    await u.flush();
    expect(await u.pending()).toBe(0);
    u.dispose();
  });

  it("keeps the events an expired token could not send (401): the next engine's token sends them", async () => {
    const store = new MemoryStore();
    const outcomes: { status?: number; error?: string }[] = [];
    const expired = (async () =>
      new Response('{"error":{"code":"token_expired","message":"The token has expired."}}', {
        status: 401,
      })) as unknown as typeof globalThis.fetch;
    const u = new EventUploader(store, {
      edge: 'http://edge',
      fetch: expired,
      maxAttempts: 2,
      flushDelayMs: 1e9,
      backoffMs: 1e9,
      onUpload: (r) => outcomes.push({ status: r.status, error: r.error }),
    });
    await u.enqueue([ev(1)]);
    for (let i = 0; i < 4; i++) await u.flush();
    expect(await u.pending()).toBe(1);
    expect(outcomes[0]).toEqual({ status: 401, error: 'token_expired: The token has expired.' });
    u.dispose();
    const sent: string[] = [];
    const fresh = (async (_url: string, init: RequestInit) => {
      sent.push(...(JSON.parse(String(init.body)).events as OutgoingEvent[]).map((e) => e.event_id));
      return new Response('{}', { status: 202 });
    }) as unknown as typeof globalThis.fetch;
    const next = new EventUploader(store, { edge: 'http://edge', fetch: fresh, flushDelayMs: 1e9 });
    expect(await next.flush()).toBe(1);
    expect(sent).toEqual(['e1']);
    next.dispose();
  });

  /** An edge that takes a token acting for one user (its Authorization is the user's name here). */
  const perUserEdge = (sent: string[]) =>
    (async (_url: string, init: RequestInit) => {
      const user = String((init.headers as Record<string, string>).authorization).replace('Bearer ', '');
      const events = JSON.parse(String(init.body)).events as OutgoingEvent[];
      if (events.some((e) => e.user_id !== user))
        return new Response('{"error":{"code":"forbidden_user","message":"Not your events."}}', { status: 403 });
      sent.push(...events.map((e) => `${e.user_id}:${e.event_id}`));
      return new Response('{}', { status: 202 });
    }) as unknown as typeof globalThis.fetch;

  it("sends only its user's events: another user's stay stored for that user's engine, and never block", async () => {
    const store = new MemoryStore();
    const sent: string[] = [];
    await store.enqueue([{ ...ev(1), user_id: 'alice' }]); // queued by alice, offline, before bob signed in
    const bob = new EventUploader(store, {
      edge: 'http://edge',
      token: 'bob',
      user: 'bob',
      fetch: perUserEdge(sent),
      maxAttempts: 2,
      flushDelayMs: 1e9,
      backoffMs: 1e9,
    });
    await bob.enqueue([{ ...ev(2), user_id: 'bob' }]);
    expect(await bob.pending()).toBe(1); // bob's own
    expect(await bob.flush()).toBe(1);
    for (let i = 0; i < 6; i++) expect(await bob.flush()).toBe(0);
    expect(sent).toEqual(['bob:e2']);
    expect(bob.failureCount).toBe(0);
    expect(await store.outboxSize()).toBe(1); // alice's, kept
    bob.dispose();
    const alice = new EventUploader(store, {
      edge: 'http://edge',
      token: 'alice',
      user: 'alice',
      fetch: perUserEdge(sent),
    });
    expect(await alice.flush()).toBe(1);
    expect(sent).toEqual(['bob:e2', 'alice:e1']);
    alice.dispose();
  });

  it("a token of unknown user: a 403 forbidden_user keeps that user's events and sends the others", async () => {
    const store = new MemoryStore();
    const sent: string[] = [];
    const outcomes: (number | undefined)[] = [];
    await store.enqueue([
      { ...ev(1), user_id: 'alice' },
      { ...ev(2), user_id: 'alice' },
    ]);
    const u = new EventUploader(store, {
      edge: 'http://edge',
      token: 'bob', // opaque to the engine: no `user`
      fetch: perUserEdge(sent),
      maxAttempts: 2,
      flushDelayMs: 1e9,
      backoffMs: 1e9,
      onUpload: (r) => outcomes.push(r.status),
    });
    await u.enqueue([{ ...ev(3), user_id: 'bob' }]);
    expect(await u.flush()).toBe(1);
    for (let i = 0; i < 6; i++) await u.flush();
    expect(sent).toEqual(['bob:e3']);
    expect(outcomes).toEqual([403, 202]); // alice's refused once; not asked again with this token
    expect(await store.outboxSize()).toBe(2); // never dropped
    u.dispose();
  });

  it('an edge that accepts and never answers: flush() settles after timeoutMs, the events stay queued', async () => {
    const store = new MemoryStore();
    const outcomes: { ok: boolean; code?: string; error?: string }[] = [];
    const silent = ((_url: string, init: RequestInit) =>
      new Promise((_, reject) =>
        init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))),
      )) as unknown as typeof globalThis.fetch;
    const u = new EventUploader(store, {
      edge: 'http://edge',
      fetch: silent,
      timeoutMs: 100,
      flushDelayMs: 1e9,
      backoffMs: 1e9,
      onUpload: (r) => outcomes.push({ ok: r.ok, code: r.code, error: r.error }),
    });
    await u.enqueue([ev(1)]);
    const t0 = performance.now();
    expect(await u.flush()).toBe(0);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(outcomes).toEqual([{ ok: false, code: 'timeout', error: 'no answer from http://edge within 100 ms' }]);
    expect(await u.pending()).toBe(1);
    expect(u.failureCount).toBe(1); // retried with back-off
    u.dispose();
  });
});
