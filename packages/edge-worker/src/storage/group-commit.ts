// Group commit of event batches: the batches that arrive within one turn of the event loop are
// written in one transaction (one BEGIN/COMMIT, one pass of the real-time feature statements), and
// each request is answered only once that transaction has committed. A batch still on its way (its
// request announced by `expect`, its body being read) is waited for, up to maxWaitMs, so that the
// requests in flight together commit together. See docs/ARCHITECTURE.md, "The ingest path".
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
  /** Longest a queued batch waits for announced ones (`expect`) before its transaction starts. Default 5 ms. */
  maxWaitMs?: number;
};

/** An ingest that groups concurrent calls; `expect` announces a call to come (see groupCommit). */
export type GroupIngest = Ingest & { expect(): () => void };

/**
 * Each request's share of a merged result. The merged batch is the requests' events one after the other, so a
 * position in it is a request and a position in that request's batch; within the merged batch the first
 * occurrence of a (user, event_id) is the one accepted, as if the requests had been written in that order.
 */
function split(group: Pending[], merged: IngestResult): IngestResult[] {
  const out = group.map((): IngestResult => ({ accepted: [], duplicate: [] }));
  const ends: number[] = [];
  let end = 0;
  for (const p of group) ends.push((end += p.events.length));
  const share = (positions: number[], into: 'accepted' | 'duplicate') => {
    let r = 0;
    let start = 0;
    // Positions are ascending: one walk over the requests.
    for (const at of positions) {
      while (at >= ends[r]) start = ends[r++];
      out[r][into].push(at - start);
    }
  };
  share(merged.accepted, 'accepted');
  share(merged.duplicate, 'duplicate');
  return out;
}

/**
 * Wraps an ingest so that concurrent calls share transactions. Idempotency is unchanged: a user's event
 * id seen before, or earlier in the same group, is a duplicate, exactly as when the batches are written
 * one after the other in arrival order. When a shared transaction fails (nothing of it is stored),
 * its batches are written again one by one, so a bad batch fails alone.
 * @example storage.events.ingest = groupCommit(storage.events.ingest.bind(storage.events));
 */
export function groupCommit(ingest: Ingest, options: GroupCommitOptions = {}): GroupIngest {
  const maxEvents = options.maxEvents ?? 10_000;
  const maxWaitMs = options.maxWaitMs ?? 5;
  let queue: Pending[] = [];
  let scheduled = false;
  let expected = 0;
  let waiting: ReturnType<typeof setTimeout> | null = null;

  function start() {
    if (waiting) clearTimeout(waiting);
    waiting = null;
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => void flush());
  }
  // The queue is written once no announced batch is still on its way, or after maxWaitMs.
  function schedule() {
    if (queue.length === 0 || scheduled) return;
    if (expected === 0) start();
    else waiting ??= setTimeout(start, maxWaitMs);
  }

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

  const grouped = (events: EventRecord[], realtime: RealtimeOptions, now: number) =>
    new Promise<IngestResult>((ok, fail) => {
      queue.push({ events, options: realtime, now, ok, fail });
      schedule();
    });
  return Object.assign(grouped, {
    /** A batch is on its way; call the returned function when it is queued or dropped (once or more). */
    expect() {
      expected++;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        expected--;
        schedule();
      };
    },
  });
}
