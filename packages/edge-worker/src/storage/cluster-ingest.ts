// `--workers N`: event batches are written by one process, the primary, for every worker. Each worker
// validates and authorizes its requests as before, then hands the valid events to the primary over the
// cluster's IPC channel and answers once the primary's transaction has committed. The primary's group commit
// (./group-commit.ts) then merges the batches of all workers into one transaction, where N writers would
// queue on SQLite's one write lock, each waiting in its busy handler with its event loop blocked
// (docs/ARCHITECTURE.md, "The ingest path").
import type { Worker } from 'node:cluster';
import { ApiError } from '../errors.ts';
import type { EventRecord, EventStore, IngestResult, RealtimeOptions } from './types.ts';

type Ingest = EventStore['ingest'];
type IngestRequest = { vireoIngest: number; events: EventRecord[]; options: RealtimeOptions; now: number };
type IngestReply = { vireoIngested: number; result?: IngestResult; error?: string };

const isRequest = (m: unknown): m is IngestRequest =>
  typeof m === 'object' && m !== null && typeof (m as IngestRequest).vireoIngest === 'number';
const isReply = (m: unknown): m is IngestReply =>
  typeof m === 'object' && m !== null && typeof (m as IngestReply).vireoIngested === 'number';

const sharedOptions = new Map<string, RealtimeOptions>();

/**
 * In the primary: writes `worker`'s event batches with `ingest` (the primary's own store, group-committed) and
 * sends each result back. A worker that is gone by then misses its answer, as a client whose connection closed.
 */
export function serveWorkerIngest(worker: Worker, ingest: Ingest): void {
  worker.on('message', (m: unknown) => {
    if (!isRequest(m)) return;
    // One object per distinct options: the group commit merges only batches that share theirs (by identity).
    const key = JSON.stringify(m.options);
    let options = sharedOptions.get(key);
    if (!options) sharedOptions.set(key, (options = m.options));
    const reply = (r: Omit<IngestReply, 'vireoIngested'>) => {
      if (worker.isConnected()) worker.send({ vireoIngested: m.vireoIngest, ...r }, () => undefined);
    };
    ingest(m.events, options, m.now).then(
      (result) => reply({ result }),
      (err: unknown) => reply({ error: err instanceof Error ? err.message : String(err) }),
    );
  });
}

/**
 * In a worker: an ingest that the primary performs (serveWorkerIngest). Resolves once the primary has committed;
 * fails with a 503 when the primary is gone, and with the primary's error otherwise.
 */
export function primaryIngest(channel: NodeJS.Process = process): Ingest {
  let next = 0;
  const pending = new Map<number, { ok: (r: IngestResult) => void; fail: (e: unknown) => void }>();
  // The primary may have committed before it went: a resend is safe, event ids make it idempotent.
  const gone = () =>
    new ApiError('unavailable', 'The edge is restarting: the events may not be stored; send them again.');
  channel.on('message', (m: unknown) => {
    if (!isReply(m)) return;
    const p = pending.get(m.vireoIngested);
    if (!p) return;
    pending.delete(m.vireoIngested);
    if (m.result) p.ok(m.result);
    else p.fail(new Error(`storing the events failed in the primary process: ${m.error}`));
  });
  channel.on('disconnect', () => {
    for (const p of pending.values()) p.fail(gone());
    pending.clear();
  });
  return (events, options, now) =>
    new Promise<IngestResult>((ok, fail) => {
      if (!channel.connected || !channel.send) return fail(gone());
      const id = next++;
      pending.set(id, { ok, fail });
      const request: IngestRequest = { vireoIngest: id, events, options, now };
      channel.send(request, undefined, undefined, (err: Error | null) => {
        if (!err || !pending.delete(id)) return;
        fail(gone());
      });
    });
}
