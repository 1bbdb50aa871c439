// The storage interface of the edge. Two compositions implement it (see ./sql.ts):
//   Node:       SQLite (better-sqlite3, WAL) + model files on the filesystem   → ./sqlite.ts
//   Cloudflare: D1 + R2 for model files + KV as a read cache of feature rows   → ./cloudflare.ts
// One conformance suite (./conformance.case.ts) runs against both.

export type EntityKind = 'user' | 'item';

/** A feature value as stored and served: scalars, or a flat list (multi-hot, sequence). */
export type FeatureValue = number | string | boolean | null | Array<number | string>;

/** One stored value with the time it became true. */
export type StoredFeature = { value: FeatureValue; eventTs: number };

/** One entity's feature values to upsert. */
export type FeatureRow = { entity: EntityKind; id: string; features: Record<string, FeatureValue>; eventTs: number };

/** A context value attached to an event. */
export type ContextValue = string | number | boolean | null | Array<string | number>;

/** An interaction event, validated. `ts` is milliseconds since the epoch. */
export type EventRecord = {
  eventId: string;
  userId: string;
  itemId: string;
  type: string;
  value: number | null;
  ts: number;
  context: Record<string, ContextValue>;
};

/** How events turn into real-time features. */
export type RealtimeOptions = {
  /** Interactions kept per user (newest first). */
  historyLength: number;
  /**
   * Rows a user's stored history may hold beyond `historyLength` before it is trimmed back (the trim
   * runs once per `historySlack + 1` of the user's events; reads still return `historyLength`); 0 trims
   * on every batch. Default ceil(historyLength / 4). See docs/ARCHITECTURE.md, "The ingest path".
   */
  historySlack?: number;
  /** Half-life of item popularity counters, in ms. */
  itemHalfLifeMs: number;
  /** Half-life of user × category counters, in ms. */
  userCategoryHalfLifeMs: number;
  /** The item feature naming an item's categories (string or list), used when an event's context has no `category`. */
  categoryFeature: string;
  /**
   * Counters kept per user (categories) and per item (event types), the largest decayed ones; the others are
   * dropped once per 32 of the entity's events (so a row holds at most this many plus 31 events' worth). Default 64.
   */
  maxCounters?: number;
};

/**
 * Which events of a batch were new and which had been seen, by their positions in the batch (ascending). An event
 * is a duplicate when its user already has an event of that event_id (stored, or earlier in the batch): ids are
 * the client's, unique per user only, so positions (not ids) tell the events of a batch apart.
 */
export type IngestResult = { accepted: number[]; duplicate: number[] };

/** A user's real-time state, counters decayed to the time of the read. */
export type UserRealtime = {
  history: Array<{ itemId: string; type: string; ts: number }>;
  categories: Record<string, number>;
  /** The counters behind `categories`, undecayed, in the same order (a cached answer decays them again). */
  counters?: Array<{ key: string; value: number; updatedAt: number }>;
  firstSeen: number;
  lastSeen: number;
  events: number;
};

/** An item's real-time state: decayed counts per event type, activity. */
export type ItemRealtime = {
  popularity: Record<string, number>;
  firstSeen: number;
  lastSeen: number;
  events: number;
};

export interface FeatureStore {
  /** Upserts values; a value older than the stored one (by event time) is kept out and counted as stale. Atomic. */
  push(rows: FeatureRow[], now: number): Promise<{ written: number; stale: number }>;
  /** Reads the stored rows of `ids` (ids with no row are absent from the map). */
  read(entity: EntityKind, ids: string[]): Promise<Map<string, Record<string, StoredFeature>>>;
}

export interface EventStore {
  /** Inserts new events (by user and event_id) and updates real-time features for exactly those, in one transaction. */
  ingest(events: EventRecord[], options: RealtimeOptions, now: number): Promise<IngestResult>;
  /**
   * Optional (Node's group commit): a batch is on its way to `ingest`; the returned function is called
   * when it was handed over or dropped. Concurrent batches then share a transaction.
   */
  expect?(): () => void;
  /** Real-time state of users (absent: never seen). */
  users(ids: string[], options: RealtimeOptions, now: number): Promise<Map<string, UserRealtime>>;
  /** Real-time state of items (absent: never seen). */
  items(ids: string[], options: RealtimeOptions, now: number): Promise<Map<string, ItemRealtime>>;
  /** One stored event of a user, or null. */
  get(userId: string, eventId: string): Promise<EventRecord | null>;
}

/** An event read back from the log: its sequence number (the cursor) and when the edge stored it. */
export type LoggedEvent = EventRecord & { seq: number; receivedAt: number };

/** One page of the event log, oldest first; `next` is the cursor to ask after (unchanged when empty). */
export type EventPage = {
  events: LoggedEvent[];
  next: number;
  archived: boolean;
  /** With an empty page: the largest seq the log holds (0 when none), so a cursor past it can be refused. */
  last?: number;
};

/**
 * The offline store: every stored event in the order it was stored, numbered by `seq`, read back
 * from a cursor (see docs/ARCHITECTURE.md, section 7, "The event log"). Older events move to the
 * blob store in batches (archive); reads past them are the same.
 */
export interface EventLog {
  /**
   * Up to `limit` events with seq > after, oldest first (from the archive when they were moved there), and
   * fewer when they would pass about `maxBytes` of JSON (never fewer than one). Default: no byte bound.
   */
  read(after: number, limit: number, maxBytes?: number): Promise<EventPage>;
  /**
   * Moves the oldest events received before `before` (ms) out of the database into one blob, at most
   * `max` of them; returns how many moved (0: nothing old enough). Their event ids stop counting as
   * duplicates: idempotency holds within the retention window.
   */
  archive(before: number, max: number, now: number): Promise<number>;
}

/** One entity in the feature log: its position (the cursor) and when a push last wrote a value of it. */
export type FeatureLogEntry = { seq: number; id: string; writtenAt: number };

/**
 * Which entities' pushed features changed, oldest change first; an entity appears once, at its
 * latest change (see docs/ARCHITECTURE.md, section 7, "The feature log").
 */
export interface FeatureLog {
  /** Up to `limit` entities of one kind with seq > after; `next` is the last seq (unchanged when none). */
  read(
    entity: EntityKind,
    after: number,
    limit: number,
  ): Promise<{
    entries: FeatureLogEntry[];
    next: number;
    /** With no entry: the largest seq the log holds (any entity; 0 when none), so a cursor past it can be refused. */
    last?: number;
  }>;
}

export type ModelFileRecord = { file: string; size: number; sha256: string; uploadedAt: number | null };
export type ModelVersionRecord = {
  /** The version's number in the order versions were created (any model's): the cursor of listVersions. */
  seq: number;
  name: string;
  version: string;
  manifestSha256: string;
  manifestSize: number;
  createdAt: number;
  createdBy: string;
  files: ModelFileRecord[];
};
export type PromotionRecord = {
  name: string;
  seq: number;
  action: 'promote' | 'rollback';
  version: string;
  at: number;
  by: string;
};
/** Where a model's promotion history stands (ModelStore.promotionHead). */
export type PromotionHead = {
  /** The last entry's number; 0 when there is none. */
  seq: number;
  promoted: string | null;
  /** The version a rollback would return to: the one promoted before the promoted one. */
  rollbackTo: string | null;
  /** When the last entry was written (ms); null when there is none. */
  at: number | null;
};
export type NewVersion = {
  name: string;
  version: string;
  manifest: Uint8Array;
  manifestSha256: string;
  files: Array<{ file: string; size: number; sha256: string }>;
  by: string;
  now: number;
};

/** A stored object, whole or one byte range of it. */
export type BlobObject = {
  body: ReadableStream<Uint8Array>;
  size: number;
  range: { offset: number; length: number } | null;
};
export type ByteRange = { offset: number; length: number };

export interface ModelStore {
  /**
   * Creates a version from its manifest: 'created', 'identical' (same manifest already there), 'conflict' (another
   * manifest there) or 'deleted' (the version was deleted: its name is not given out again, see deleteVersion).
   */
  createVersion(input: NewVersion): Promise<'created' | 'identical' | 'conflict' | 'deleted'>;
  getVersion(name: string, version: string): Promise<ModelVersionRecord | null>;
  /**
   * A model's versions with `seq` above `after` (default 0: from the first), oldest first (in the order they
   * were created), at most `limit` (default: all). A version created while a reader pages through comes after
   * every cursor handed out before, so a reader that asks after the last `seq` it got sees each version once.
   */
  listVersions(name: string, after?: number, limit?: number): Promise<ModelVersionRecord[]>;
  /**
   * The largest whole-number version among the model's deleted ones (its tombstones; see deleteVersion), null when
   * none: a publisher that numbers versions goes past it, since createVersion refuses a deleted version again.
   */
  highestDeletedNumber(name: string): Promise<number | null>;
  /**
   * Stores one file listed in the version's manifest, checking its size and sha256 while it streams;
   * throws BlobMismatchError (nothing stored). A file already uploaded is compared, not stored again:
   * 'identical' when the bytes hash the same, BlobMismatchError when they do not.
   */
  putFile(
    name: string,
    version: string,
    file: string,
    body: ReadableStream<Uint8Array> | Uint8Array,
    now: number,
  ): Promise<'stored' | 'identical'>;
  /** Opens a file of a version (manifest.json included), whole or a range; null when absent. */
  openFile(name: string, version: string, file: string, range?: ByteRange): Promise<BlobObject | null>;
  /**
   * Appends a promotion or roll-back to the model's history if its last entry is still `afterSeq`
   * (0: none) and `version` exists, in one conditional write; null when another change came first
   * (read again and retry) or the version does not exist (deleted meanwhile: see deleteVersion).
   */
  appendPromotion(
    name: string,
    action: 'promote' | 'rollback',
    version: string,
    by: string,
    now: number,
    afterSeq: number,
  ): Promise<PromotionRecord | null>;
  /**
   * A page of a model's promotion history, oldest first: the `limit` (default 100) newest entries with `seq` below
   * `before` (default: all). Entries are numbered 1, 2, … so the page before is the one below its first `seq`.
   */
  promotions(name: string, page?: { before?: number; limit?: number }): Promise<PromotionRecord[]>;
  /**
   * Where a model's promotion history stands, in a bounded read (migrations/0008_promotion_heads.sql): its last
   * entry (`seq`, 0 when none: the `afterSeq` of appendPromotion and deleteVersion), the promoted version and the
   * one a rollback returns to (null when none).
   */
  promotionHead(name: string): Promise<PromotionHead>;
  /** The model whose last promotion is the most recent among those with a promoted version, and that version. */
  latestPromoted(): Promise<{ name: string; version: string } | null>;
  /**
   * Promotes the promoted version again: its time becomes `now` (so latestPromoted names this model) and the
   * history gets no entry (rollback is unchanged), if the history still ends at `afterSeq`. False when not.
   */
  touchPromotion(name: string, afterSeq: number, now: number): Promise<boolean>;
  /**
   * Deletes a version if the model's promotion history still ends at `afterSeq` (0: none), as
   * appendPromotion: its registry rows in one conditional write, then its manifest and files from the
   * blob store. Returns the files removed (manifest.json included) and their bytes; null when nothing
   * was deleted: no such version, or another promotion came first (read again and retry). Which
   * versions may go (not the promoted one) is the caller's rule; the promotion history is kept. A tombstone (with
   * `now`) stays in the version's place: its files were served as immutable, so createVersion refuses the same
   * name and version again ('deleted') rather than let caches serve the old bytes for new ones.
   */
  deleteVersion(
    name: string,
    version: string,
    afterSeq: number,
    now: number,
  ): Promise<{ files: number; bytes: number } | null>;
}

/** The whole storage of one edge. */
export interface Storage {
  /** 'sqlite' or 'cloudflare' (shown by /healthz). */
  readonly kind: string;
  readonly features: FeatureStore;
  readonly events: EventStore;
  readonly eventLog: EventLog;
  readonly featureLog: FeatureLog;
  readonly models: ModelStore;
  /** Throws when the storage cannot answer (for /healthz). */
  ping(): Promise<void>;
  /** Closes connections (the SQLite file: checkpoint and close). */
  close(): Promise<void>;
  /** Optional (SQLite with its read cache): see SqlDriver.version. */
  version?(): number;
  /** Optional, with version (SQLite with its read cache): see SqlDriver.watch. */
  watch?(listener: (touched: Touched) => void): void;
}

/** A blob's size or checksum did not match what its manifest declared. */
export class BlobMismatchError extends Error {
  constructor(
    readonly kind: 'size' | 'sha256',
    readonly expected: string | number,
    readonly actual: string | number,
  ) {
    super(
      kind === 'size'
        ? `The file has ${actual} bytes where the manifest declares ${expected}.`
        : `The file's sha256 is ${actual} where the manifest declares ${expected}.`,
    );
    this.name = 'BlobMismatchError';
  }
}

/** Where model files live: a folder on Node, an R2 bucket on Workers. */
export interface BlobStore {
  /** Stores a blob, verifying size and sha256 while it streams; throws BlobMismatchError and stores nothing on
   * mismatch. */
  put(
    key: string,
    body: ReadableStream<Uint8Array> | Uint8Array,
    expected: { size: number; sha256: string },
  ): Promise<void>;
  /** Reads a body and checks its size and sha256 without storing it; throws BlobMismatchError. */
  verify(body: ReadableStream<Uint8Array> | Uint8Array, expected: { size: number; sha256: string }): Promise<void>;
  get(key: string, range?: ByteRange): Promise<BlobObject | null>;
  delete(key: string): Promise<void>;
}

/** A positional parameter of a SQL statement. */
export type SqlParam = string | number | null;
export type SqlStatement = { sql: string; params: SqlParam[] };

/**
 * The entities whose answers a write may have changed (their stored features or real-time state), by
 * kind; ids may repeat. Empty lists: a read, or a write of tables no entity's answer is built from.
 */
export type Touched = { user: string[]; item: string[] };

/** The little the shared SQL code needs from SQLite or D1. */
export interface SqlDriver {
  /** Runs one statement and returns its rows. */
  query<T = Record<string, unknown>>(sql: string, params: SqlParam[]): Promise<T[]>;
  /**
   * Runs statements in one transaction and returns each one's rows (RETURNING, SELECT). `touched`
   * says which entities' answers they may change (see watch); without it, anything may have changed.
   */
  batch(statements: SqlStatement[], touched?: Touched): Promise<unknown[][]>;
  close(): Promise<void>;
  /**
   * Optional: a number that changes whenever a write may have committed that watch listeners were not
   * told of: on another connection (SQLite: `PRAGMA data_version`, read at each call), or on this one
   * by a batch without `touched` or a write through query. Equal before and after a read, with no
   * listener told of the entity meanwhile: the read saw the entity as it still is, so an answer built
   * from it may be reused until then.
   */
  version?(): number;
  /**
   * Optional, with version: calls `listener` with what each batch on this connection that said what it
   * touched changed, synchronously once its transaction ended (before the batch's promise settles).
   */
  watch?(listener: (touched: Touched) => void): void;
}
