import { describe, expect, it } from 'vitest';
import { tokenBucket } from './rate-limit.ts';

describe('tokenBucket', () => {
  it('spends the burst, refills at the rate, and says when to retry', () => {
    let now = 0;
    const limiter = tokenBucket({ ratePerSecond: 2, burst: 3, now: () => now });
    const take = () => limiter.take('a') as { ok: boolean; retryAfterSeconds: number };
    expect([take().ok, take().ok, take().ok]).toEqual([true, true, true]);
    expect(take()).toEqual({ ok: false, retryAfterSeconds: 1 });
    now = 500; // one token back
    expect(take().ok).toBe(true);
    expect(take().ok).toBe(false);
    now = 100_000; // refills to the burst, not beyond
    expect([take().ok, take().ok, take().ok, take().ok]).toEqual([true, true, true, false]);
  });

  it('keeps one bucket per key and forgets the least recently seen past maxKeys', () => {
    const limiter = tokenBucket({ ratePerSecond: 1, burst: 1, maxKeys: 2, now: () => 0 });
    expect((limiter.take('a') as { ok: boolean }).ok).toBe(true);
    expect((limiter.take('b') as { ok: boolean }).ok).toBe(true);
    expect((limiter.take('a') as { ok: boolean }).ok).toBe(false);
    expect((limiter.take('c') as { ok: boolean }).ok).toBe(true); // evicts b, the least recent
    expect((limiter.take('b') as { ok: boolean }).ok).toBe(true);
  });

  it('asks a multi-token request to wait long enough for all its tokens', () => {
    const limiter = tokenBucket({ ratePerSecond: 1, burst: 2, now: () => 0 });
    expect(limiter.take('a', 2)).toEqual({ ok: true, retryAfterSeconds: 0 });
    expect(limiter.take('a', 2)).toEqual({ ok: false, retryAfterSeconds: 2 });
  });

  it('peeks without spending or refilling anything', () => {
    let now = 0;
    const limiter = tokenBucket({ ratePerSecond: 1, burst: 2, now: () => now });
    expect(limiter.peek!('a')).toBe(true);
    expect(limiter.take('a', 2)).toEqual({ ok: true, retryAfterSeconds: 0 });
    for (let i = 0; i < 3; i++) expect(limiter.peek!('a')).toBe(false);
    now = 1000;
    expect([limiter.peek!('a'), limiter.peek!('a', 2)]).toEqual([true, false]);
    expect(limiter.take('a')).toEqual({ ok: true, retryAfterSeconds: 0 });
    expect(limiter.peek!('a')).toBe(false);
  });
});
