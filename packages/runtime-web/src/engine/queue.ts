// Events on their way to the edge. observe() puts each event in the store's outbox first (so a
// reload or an offline period loses nothing), then the uploader sends the outbox in batches, one
// user per batch, to POST /v1/events. An event leaves the outbox only once the edge answered 2xx for its batch;
// the edge is idempotent on event_id, so a batch re-sent after a lost answer counts once.
// Failures back off exponentially (base · 2^n, capped, with jitter); a 4xx other than 401 / 408 /
// 429 means the batch itself is bad: its events are dropped after `maxAttempts` so one bad event
// cannot block the queue forever. A 401 (an expired or invalid token) says nothing against the
// events: they stay queued, and the next engine (a reload, with a new token) sends them.
// A visitor's token acts for one user (its `sub`, docs/tokens.md), and a browser may hold the events
// of an earlier visitor (alice queued offline, then bob signed in): the uploader sends only its
// `user`'s events, and leaves the others stored for that user's engine. Without a known `user` (a
// `service` token, or one that is not a JWT) it sends every user's; a 403 `forbidden_user` then says
// this token may not send that user's events, not that they are bad: they stay, and this uploader
// stops asking for that user. Each request waits at most `timeoutMs`, so flush() always settles.
import { originOf } from './errors.ts';
import type { EngineStore, OutgoingEvent } from './store.ts';

export interface UploaderOptions {
  edge: string;
  token?: string;
  /** The only user whose events this uploader sends (the token's `sub`); absent: any user's. */
  user?: string;
  fetch?: typeof fetch;
  /** Milliseconds to wait for the edge's answer to an upload before it counts as failed. Default 10,000. */
  timeoutMs?: number;
  /** Events per request (the edge takes at most 1,000). Default 100. */
  batchSize?: number;
  /** Delay before a flush after an event, to batch bursts. Default 1,000 ms. */
  flushDelayMs?: number;
  /** First retry delay; doubles per failure up to maxBackoffMs. Defaults 1,000 and 60,000 ms. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Attempts before a batch the edge rejects as bad (4xx but 401, 408, 429) is dropped. Default 5. */
  maxAttempts?: number;
  /**
   * Most events the outbox holds, every user's together; beyond it the oldest are dropped (an
   * `outbox_full` outcome says how many). Default 10,000: days of a visitor's clicks offline, while
   * a device whose users never come back does not keep their events without end.
   */
  maxQueued?: number;
  /** Called on every upload outcome (for tests and dashboards). */
  onUpload?: (r: UploadOutcome) => void;
}

/** One upload's outcome. */
export interface UploadOutcome {
  sent: number;
  ok: boolean;
  status?: number;
  /** The edge's error code (`token_expired`, `forbidden_user`, …), or `unreachable` / `timeout` without an answer. */
  code?: string;
  /** `code: message` from the edge, or why there was no answer. */
  error?: string;
}

/** Sends the outbox to the edge; one flush at a time. */
export class EventUploader {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private flushing: Promise<number> | null = null;
  private failures = 0;
  private disposed = false;
  /** Users whose events the edge refused this token (403 forbidden_user): kept, not asked again. */
  private readonly refusedUsers = new Set<string>();
  readonly opts: Required<Omit<UploaderOptions, 'token' | 'user' | 'fetch' | 'onUpload'>> &
    Pick<UploaderOptions, 'token' | 'user' | 'fetch' | 'onUpload'>;

  constructor(
    private readonly store: EngineStore,
    options: UploaderOptions,
  ) {
    this.opts = {
      batchSize: 100,
      flushDelayMs: 1000,
      backoffMs: 1000,
      maxBackoffMs: 60_000,
      maxAttempts: 5,
      maxQueued: 10_000,
      timeoutMs: 10_000,
      ...options,
    };
  }

  /** Queues events durably and schedules a flush. */
  async enqueue(events: OutgoingEvent[]): Promise<void> {
    await this.store.enqueue(events);
    const over = (await this.store.outboxSize()) - this.opts.maxQueued;
    if (over > 0) {
      const oldest = await this.store.peekOutbox(over);
      await this.store.removeOutbox(oldest.map((e) => e.event_id));
      this.opts.onUpload?.({
        sent: oldest.length,
        ok: false,
        code: 'outbox_full',
        error: `the outbox holds at most ${this.opts.maxQueued} events`,
      });
    }
    this.schedule(this.opts.flushDelayMs);
  }

  /** Schedules a flush in `ms` unless one is already due sooner. */
  schedule(ms: number): void {
    if (this.disposed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush().catch(() => {});
    }, ms);
  }

  /** Events still waiting that this uploader sends (another user's stay stored, uncounted). */
  pending(): Promise<number> {
    return this.store.outboxSize(this.sends);
  }

  /** Whether an event is one this uploader sends: its user's, and not one the edge refused this token. */
  private readonly sends = (e: OutgoingEvent): boolean =>
    (this.opts.user === undefined || e.user_id === this.opts.user) && !this.refusedUsers.has(e.user_id);

  /**
   * Sends everything queued now, batch by batch; returns the events the edge accepted. On a
   * failure it stops and schedules a retry with back-off.
   */
  flush(): Promise<number> {
    if (this.flushing) return this.flushing;
    this.flushing = this.flushOnce().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<number> {
    const f = this.opts.fetch ?? fetch;
    let sent = 0;
    for (;;) {
      if (this.disposed) return sent;
      // One user per batch: the edge refuses a batch whole when a visitor's token (which acts for
      // its `sub` only) carries another user's event (docs/tokens.md).
      const peeked = await this.store.peekOutbox(this.opts.batchSize, this.sends);
      const batch = peeked.filter((e) => e.user_id === peeked[0]?.user_id);
      if (batch.length === 0) {
        this.failures = 0;
        return sent;
      }
      const body = JSON.stringify({ events: batch.map(({ attempts: _a, ...e }) => e) });
      const url = `${this.opts.edge.replace(/\/$/, '')}/v1/events`;
      let status: number;
      let said: { code?: string; error?: string } = {};
      // The timer covers the answer's body too: an edge may send headers and stall.
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), this.opts.timeoutMs);
      try {
        const res = await f(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}),
          },
          body,
          signal: ctl.signal,
        });
        status = res.status;
        // The edge's { error: { code, message } } says why it refused the batch.
        const text = await res.text().catch(() => '');
        if (!res.ok) said = edgeSays(text, status);
      } catch (err) {
        if (ctl.signal.aborted)
          this.fail(
            batch.length,
            undefined,
            'timeout',
            `no answer from ${originOf(url)} within ${this.opts.timeoutMs} ms`,
          );
        else this.fail(batch.length, undefined, 'unreachable', (err as Error).message);
        return sent;
      } finally {
        clearTimeout(timer);
      }
      if (status >= 200 && status < 300) {
        await this.store.removeOutbox(batch.map((e) => e.event_id));
        sent += batch.length;
        this.failures = 0;
        this.opts.onUpload?.({ sent: batch.length, ok: true, status });
        continue;
      }
      if (said.code === 'forbidden_user') {
        // Not this token's user: keep the events for their own engine, go on with the others.
        this.refusedUsers.add(batch[0].user_id);
        this.opts.onUpload?.({ sent: batch.length, ok: false, status, ...said });
        continue;
      }
      if (refusesBatch(status, said.code)) {
        // The edge says the batch is bad: count an attempt on each event, drop the hopeless ones.
        const dead = batch.filter((e) => (e.attempts ?? 0) + 1 >= this.opts.maxAttempts).map((e) => e.event_id);
        await this.store.putOutbox(
          batch.filter((e) => !dead.includes(e.event_id)).map((e) => ({ ...e, attempts: (e.attempts ?? 0) + 1 })),
        );
        await this.store.removeOutbox(dead);
      }
      this.fail(batch.length, status, said.code, said.error);
      return sent;
    }
  }

  private fail(n: number, status: number | undefined, code: string | undefined, error: string | undefined): void {
    this.failures++;
    this.opts.onUpload?.({ sent: n, ok: false, status, code, error });
    const delay = Math.min(this.opts.maxBackoffMs, this.opts.backoffMs * 2 ** (this.failures - 1));
    this.schedule(delay * (0.75 + Math.random() * 0.5));
  }

  /** Current back-off step (0 after a success). */
  get failureCount(): number {
    return this.failures;
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * Whether the edge's answer says the batch itself is bad (a 4xx but 401, 408, 429, and but a 403
 * `forbidden_user`, which is about the token): dropped after maxAttempts.
 */
export function refusesBatch(status: number | undefined, code?: string): boolean {
  return (
    status !== undefined &&
    status >= 400 &&
    status < 500 &&
    status !== 401 &&
    status !== 408 &&
    status !== 429 &&
    code !== 'forbidden_user'
  );
}

/** The edge's code and `code: message` from its error body, else `http_<status>` and no message. */
function edgeSays(text: string, status: number): { code: string; error?: string } {
  try {
    const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    if (typeof e?.code === 'string')
      return { code: e.code, error: typeof e.message === 'string' ? `${e.code}: ${e.message}` : e.code };
  } catch {
    // not JSON
  }
  return { code: `http_${status}` };
}
