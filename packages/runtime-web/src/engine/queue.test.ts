// The event uploader alone: batching, back-off after failures, a bad batch dropped after
// maxAttempts, nothing removed from the outbox before the edge accepted it.
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
});
