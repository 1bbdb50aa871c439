// The on-device history in memory (docs/ARCHITECTURE.md, "A request", step 1): each user's most
// recent events are read from the store once, then kept here, so that recommend() does not read
// IndexedDB on its hot path. observe() writes through: the event enters the cached list at once,
// then the store (the durable copy); a failed write is thrown to the caller, and the event stays in
// memory for this page. At most `maxUsers` users are kept (least recently used first out).
//
// Other tabs: a tab that wrote an event says so on a BroadcastChannel named after the database once
// the write has committed, and every other engine on that database drops its copy of the user, so
// its next recommend() reads the store again. Without BroadcastChannel (or on the in-memory store,
// which no other tab shares) nothing is broadcast.
import type { EngineStore, HistoryEvent } from './store.ts';

interface Entry {
  /** The user's most recent events, oldest first: all of them, or the last `limit`. */
  events: HistoryEvent[];
  /** How many events were asked of the store (the list holds at most this many). */
  limit: number;
}

/** What one tab tells the others on the channel. */
interface HistoryMessage {
  type: 'history-changed';
  userId: string;
}

export interface HistoryCacheOptions {
  /** Users kept in memory. Default 256. */
  maxUsers?: number;
  /** The BroadcastChannel shared by every engine on the same database; null: none. */
  channel?: string | null;
}

/**
 * Each user's recent events, read from the store once and written through on append.
 * @example
 * const cache = new HistoryCache(store, { channel: 'vireo-history:vireo-engine' });
 * await cache.append(event); // the store, then the other tabs
 * const recent = await cache.recent('u1', 80); // from memory after the first read
 */
export class HistoryCache {
  private readonly entries = new Map<string, Entry>();
  /** Reads from the store in flight, one per user; a write or another tab's message cancels its result. */
  private readonly loading = new Map<string, Promise<Entry>>();
  private readonly maxUsers: number;
  private readonly channel: BroadcastChannel | null;
  /** Reads from the store (for tests and benchmarks: 0 per request once a user is cached). */
  storeReads = 0;

  constructor(
    private readonly store: EngineStore,
    options: HistoryCacheOptions = {},
  ) {
    this.maxUsers = Math.max(1, options.maxUsers ?? 256);
    const Channel = (globalThis as { BroadcastChannel?: typeof BroadcastChannel }).BroadcastChannel;
    this.channel = options.channel && Channel ? new Channel(options.channel) : null;
    if (this.channel)
      this.channel.onmessage = (ev: MessageEvent<HistoryMessage>) => {
        if (ev.data?.type === 'history-changed' && typeof ev.data.userId === 'string') this.forget(ev.data.userId);
      };
  }

  /** The user's most recent `limit` events, oldest first (the store's `history`, from memory when cached). */
  async recent(userId: string, limit: number): Promise<readonly HistoryEvent[]> {
    const hit = this.entries.get(userId);
    if (hit && hit.limit >= limit) {
      this.entries.delete(userId); // most recently used goes last
      this.entries.set(userId, hit);
      return hit.events.length > limit ? hit.events.slice(-limit) : hit.events;
    }
    return (await this.load(userId, limit)).events;
  }

  /**
   * Appends one event: to the cached list at once, then to the store; once the store has it, the
   * other tabs hear of it. Rejects when the store's write fails (the event stays in memory).
   */
  async append(e: HistoryEvent): Promise<void> {
    const entry = this.entries.get(e.userId);
    if (entry) {
      entry.events.push(e);
      if (entry.events.length > entry.limit) entry.events.splice(0, entry.events.length - entry.limit);
    }
    // A read in flight may or may not see this write: its result is not kept.
    this.loading.delete(e.userId);
    await this.store.appendHistory(e);
    this.channel?.postMessage({ type: 'history-changed', userId: e.userId } satisfies HistoryMessage);
  }

  /** Drops a user's cached events: the next read goes to the store. */
  forget(userId: string): void {
    this.entries.delete(userId);
    this.loading.delete(userId);
  }

  /** Users cached now. */
  get size(): number {
    return this.entries.size;
  }

  dispose(): void {
    this.entries.clear();
    this.loading.clear();
    this.channel?.close();
  }

  private load(userId: string, limit: number): Promise<Entry> {
    const pending = this.loading.get(userId);
    if (pending) return pending.then((entry) => (entry.limit >= limit ? entry : this.load(userId, limit)));
    this.storeReads++;
    const read: Promise<Entry> = this.store.history(userId, limit).then((events) => {
      const entry = { events, limit };
      // Kept only if no write or message came while it was read.
      if (this.loading.get(userId) === read) {
        this.loading.delete(userId);
        this.entries.delete(userId);
        this.entries.set(userId, entry);
        while (this.entries.size > this.maxUsers) this.entries.delete(this.entries.keys().next().value!);
      }
      return entry;
    });
    this.loading.set(userId, read);
    read.catch(() => {
      if (this.loading.get(userId) === read) this.loading.delete(userId);
    });
    return read;
  }
}
