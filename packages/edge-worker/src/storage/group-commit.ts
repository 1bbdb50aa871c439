// Group commit of event batches: the batches that arrive within one turn of the event loop are
// written in one transaction (one BEGIN/COMMIT, one pass of the real-time feature statements), and
// each request is answered only once that transaction has committed. See docs/ARCHITECTURE.md,
// "Node edge".
import type { EventRecord, EventStore, IngestResult, RealtimeOptions } from './types.ts';

type Ingest = EventStore['ingest'];
type Pending = {
  events: EventRecord[];
  options: RealtimeOptions;
  now: number;
  ok: (result: IngestResult) => void;
  fail: (err: unknown) => void;
};

export type GroupCommitOptions = {
  /** Most events written in one transaction (a larger group is split). Default 10,000. */
  maxEvents?: number;
};

/** Each request's share of a merged result: the first occurrence of an inserted id is accepted. */
function split(group: Pending[], merged: IngestResult): IngestResult[] {
  const inserted = new Set(merged.accepted);
  return group.map(({ events }) => {
    const out: IngestResult = { accepted: [], duplicate: [] };
    for (const e of events) {
      if (inserted.delete(e.eventId)) out.accepted.push(e.eventId);
      else out.duplicate.push(e.eventId);
    }
    return out;
  });
}

/**
 * Wraps an ingest so that concurrent calls share transactions. Idempotency is unchanged: an event id
 * seen before, or earlier in the same group, is a duplicate, exactly as when the batches are written
 * one after the other in arrival order. When a shared transaction fails (nothing of it is stored),
 * its batches are written again one by one, so a bad batch fails alone.
 * @example storage.events.ingest = groupCommit(storage.events.ingest.bind(storage.events));
 */
export function groupCommit(ingest: Ingest, options: GroupCommitOptions = {}): Ingest {
  const maxEvents = options.maxEvents ?? 10_000;
  let queue: Pending[] = [];
  let scheduled = false;

  async function write(group: Pending[]): Promise<void> {
    if (group.length === 1) {
      const [p] = group;
      await ingest(p.events, p.options, p.now).then(p.ok, p.fail);
      return;
    }
    let merged: IngestResult;
    try {
      merged = await ingest(
        group.flatMap((p) => p.events),
        group[0].options,
        Math.max(...group.map((p) => p.now)),
      );
    } catch {
      for (const p of group) await ingest(p.events, p.options, p.now).then(p.ok, p.fail);
      return;
    }
    const results = split(group, merged);
    group.forEach((p, i) => p.ok(results[i]));
  }

  async function flush(): Promise<void> {
    const pending = queue;
    queue = [];
    scheduled = false;
    // Groups share their real-time options and stay under maxEvents.
    const groups: Pending[][] = [];
    let current: Pending[] = [];
    let size = 0;
    for (const p of pending) {
      if (current.length > 0 && (p.options !== current[0].options || size + p.events.length > maxEvents)) {
        groups.push(current);
        current = [];
        size = 0;
      }
      current.push(p);
      size += p.events.length;
    }
    if (current.length > 0) groups.push(current);
    for (const group of groups) await write(group);
  }

  return (events, realtime, now) =>
    new Promise<IngestResult>((ok, fail) => {
      queue.push({ events, options: realtime, now, ok, fail });
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => void flush());
      }
    });
}
