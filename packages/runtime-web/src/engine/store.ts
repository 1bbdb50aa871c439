// The engine's on-device storage, one IndexedDB database (through `idb`) with five stores:
//   files     `${name}@${version}/${file}` → bytes      verified bundle files, so a reload starts offline
//   meta      key → value                                 the last good version per model, manifests
//   history   auto id → HistoryEvent (index by_user)      what this device saw the user do
//   features  userId → CachedFeatures                     the last features the edge gave
//   outbox    eventId → OutgoingEvent                     events not yet accepted by the edge
// When IndexedDB is missing or cannot open (private mode, Node without fake-indexeddb) the same
// interface runs in memory: nothing survives a reload, everything else works.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { BundleManifest } from '@vireo/core';

/** One interaction the user made, as the history keeps it. */
export interface HistoryEvent {
  eventId: string;
  userId: string;
  itemId: string;
  type: string;
  /** Milliseconds since the epoch. */
  ts: number;
  value?: number;
}

/** An event waiting for the edge, in the edge's wire format. */
export interface OutgoingEvent {
  event_id: string;
  user_id: string;
  item_id: string;
  type: string;
  value?: number;
  ts: number;
  context?: Record<string, unknown>;
  /** Upload attempts so far (not sent). */
  attempts?: number;
}

/** The last model-ready features the edge gave for a user. */
export interface CachedFeatures {
  userId: string;
  values: Record<string, unknown>;
  /** Items the edge's real-time history held (oldest first). */
  recentItems: string[];
  fetchedAt: number;
}

interface EngineDB extends DBSchema {
  files: { key: string; value: Uint8Array };
  meta: { key: string; value: unknown };
  history: { key: number; value: HistoryEvent; indexes: { by_user: string } };
  features: { key: string; value: CachedFeatures };
  outbox: { key: string; value: OutgoingEvent & { _seq?: number }; indexes: { by_seq: number } };
}

/** What the engine stores on the device. */
export interface EngineStore {
  readonly persistent: boolean;
  getFile(key: string): Promise<Uint8Array | undefined>;
  putFiles(entries: [string, Uint8Array][]): Promise<void>;
  deleteFiles(prefix: string): Promise<void>;
  getMeta<T>(key: string): Promise<T | undefined>;
  putMeta(key: string, value: unknown): Promise<void>;
  appendHistory(e: HistoryEvent): Promise<void>;
  /** The user's most recent `limit` events, oldest first. */
  history(userId: string, limit: number): Promise<HistoryEvent[]>;
  getFeatures(userId: string): Promise<CachedFeatures | undefined>;
  putFeatures(f: CachedFeatures): Promise<void>;
  enqueue(events: OutgoingEvent[]): Promise<void>;
  /** Up to `limit` queued events, oldest first; only those `accept` takes when given. */
  peekOutbox(limit: number, accept?: (e: OutgoingEvent) => boolean): Promise<OutgoingEvent[]>;
  removeOutbox(ids: string[]): Promise<void>;
  putOutbox(events: OutgoingEvent[]): Promise<void>;
  /** Queued events; only those `accept` takes when given. */
  outboxSize(accept?: (e: OutgoingEvent) => boolean): Promise<number>;
  close(): void;
}

/** Key of a bundle file in the files store. */
export const fileKey = (name: string, version: string, file: string) => `${name}@${version}/${file}`;
/** Meta key of a model's last good version and of a version's manifest. */
export const currentKey = (name: string) => `current:${name}`;
export const manifestKey = (name: string, version: string) => `manifest:${name}@${version}`;
export type StoredManifest = BundleManifest;

/**
 * Opens the engine's store: IndexedDB when it is there and opens, else memory.
 * @example const store = await openEngineStore('vireo');
 */
export async function openEngineStore(dbName = 'vireo-engine'): Promise<EngineStore> {
  const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!idb) return new MemoryStore();
  try {
    const db = await openDB<EngineDB>(dbName, 2, {
      upgrade(db, oldVersion, _newVersion, tx) {
        if (oldVersion < 1) {
          db.createObjectStore('files');
          db.createObjectStore('meta');
          db.createObjectStore('history', { autoIncrement: true }).createIndex('by_user', 'userId');
          db.createObjectStore('features', { keyPath: 'userId' });
          db.createObjectStore('outbox', { keyPath: 'event_id' });
        }
        // Version 2: the outbox is sent in the order events were queued (ts can tie).
        if (oldVersion < 2) tx.objectStore('outbox').createIndex('by_seq', '_seq');
      },
    });
    return new IdbStore(db);
  } catch {
    return new MemoryStore();
  }
}

class IdbStore implements EngineStore {
  readonly persistent = true;
  constructor(private readonly db: IDBPDatabase<EngineDB>) {}
  getFile(key: string) {
    return this.db.get('files', key);
  }
  async putFiles(entries: [string, Uint8Array][]) {
    // One transaction per file: a large bundle is never one huge commit.
    for (const [k, v] of entries) {
      const tx = this.db.transaction('files', 'readwrite');
      await Promise.all([tx.store.put(v, k), tx.done]);
    }
  }
  async deleteFiles(prefix: string) {
    const tx = this.db.transaction('files', 'readwrite');
    const keys = await tx.store.getAllKeys(IDBKeyRange.bound(prefix, prefix + '\uffff'));
    await Promise.all([...keys.map((k) => tx.store.delete(k)), tx.done]);
  }
  async getMeta<T>(key: string) {
    return (await this.db.get('meta', key)) as T | undefined;
  }
  async putMeta(key: string, value: unknown) {
    await this.db.put('meta', value, key);
  }
  async appendHistory(e: HistoryEvent) {
    await this.db.add('history', e);
  }
  async history(userId: string, limit: number) {
    const out: HistoryEvent[] = [];
    let cursor = await this.db
      .transaction('history')
      .store.index('by_user')
      .openCursor(IDBKeyRange.only(userId), 'prev');
    while (cursor && out.length < limit) {
      out.push(cursor.value);
      cursor = await cursor.continue();
    }
    return out.reverse();
  }
  getFeatures(userId: string) {
    return this.db.get('features', userId);
  }
  async putFeatures(f: CachedFeatures) {
    await this.db.put('features', f);
  }
  async enqueue(events: OutgoingEvent[]) {
    const tx = this.db.transaction('outbox', 'readwrite');
    await Promise.all([...events.map((e) => tx.store.put({ ...e, _seq: nextSeq() })), tx.done]);
  }
  /** Rewrites queued events (attempt counts) in place: they keep their position in the queue. */
  async putOutbox(events: OutgoingEvent[]) {
    const tx = this.db.transaction('outbox', 'readwrite');
    for (const e of events) {
      const old = await tx.store.get(e.event_id);
      await tx.store.put({ ...e, _seq: old?._seq ?? nextSeq() });
    }
    await tx.done;
  }
  async peekOutbox(limit: number, accept?: (e: OutgoingEvent) => boolean) {
    if (!accept) {
      const all = await this.db.getAllFromIndex('outbox', 'by_seq', undefined, limit);
      return all.map(({ _seq, ...e }) => e as OutgoingEvent);
    }
    // A cursor past the events `accept` skips (another user's): the outbox is small, read in one transaction.
    const out: OutgoingEvent[] = [];
    let cursor = await this.db.transaction('outbox').store.index('by_seq').openCursor();
    while (cursor && out.length < limit) {
      const { _seq, ...e } = cursor.value;
      if (accept(e)) out.push(e);
      cursor = await cursor.continue();
    }
    return out;
  }
  async removeOutbox(ids: string[]) {
    const tx = this.db.transaction('outbox', 'readwrite');
    await Promise.all([...ids.map((id) => tx.store.delete(id)), tx.done]);
  }
  async outboxSize(accept?: (e: OutgoingEvent) => boolean) {
    if (!accept) return this.db.count('outbox');
    return (await this.db.getAll('outbox')).filter(({ _seq, ...e }) => accept(e)).length;
  }
  close() {
    this.db.close();
  }
}

/** The same store in memory (no IndexedDB): works, forgets on reload. */
export class MemoryStore implements EngineStore {
  readonly persistent = false;
  private files = new Map<string, Uint8Array>();
  private meta = new Map<string, unknown>();
  private events: HistoryEvent[] = [];
  private features = new Map<string, CachedFeatures>();
  private outbox = new Map<string, OutgoingEvent>();
  async getFile(key: string) {
    return this.files.get(key);
  }
  async putFiles(entries: [string, Uint8Array][]) {
    for (const [k, v] of entries) this.files.set(k, v);
  }
  async deleteFiles(prefix: string) {
    for (const k of [...this.files.keys()]) if (k.startsWith(prefix)) this.files.delete(k);
  }
  async getMeta<T>(key: string) {
    return this.meta.get(key) as T | undefined;
  }
  async putMeta(key: string, value: unknown) {
    this.meta.set(key, value);
  }
  async appendHistory(e: HistoryEvent) {
    this.events.push(e);
  }
  async history(userId: string, limit: number) {
    return this.events.filter((e) => e.userId === userId).slice(-limit);
  }
  async getFeatures(userId: string) {
    return this.features.get(userId);
  }
  async putFeatures(f: CachedFeatures) {
    this.features.set(f.userId, f);
  }
  async enqueue(events: OutgoingEvent[]) {
    for (const e of events) this.outbox.set(e.event_id, e);
  }
  putOutbox(events: OutgoingEvent[]) {
    return this.enqueue(events);
  }
  async peekOutbox(limit: number, accept: (e: OutgoingEvent) => boolean = () => true) {
    return [...this.outbox.values()].filter(accept).slice(0, limit); // queue order
  }
  async removeOutbox(ids: string[]) {
    for (const id of ids) this.outbox.delete(id);
  }
  async outboxSize(accept: (e: OutgoingEvent) => boolean = () => true) {
    return [...this.outbox.values()].filter(accept).length;
  }
  close() {}
}

let lastSeq = 0;
/** Increasing across calls and reloads: the clock in microseconds, bumped past the last one. */
function nextSeq(): number {
  lastSeq = Math.max(lastSeq + 1, Date.now() * 1000);
  return lastSeq;
}
