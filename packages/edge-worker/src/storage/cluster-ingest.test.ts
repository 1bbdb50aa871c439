// `--workers`: a worker's event batches written by the primary (cluster-ingest.ts), over a pair of in-memory
// channels that copy every message as node:cluster's IPC does (serialized: new objects on the other side).
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:cluster';
import { describe, expect, it } from 'vitest';
import { DEFAULT_REALTIME } from '../app.ts';
import { ApiError } from '../errors.ts';
import { primaryIngest, serveWorkerIngest } from './cluster-ingest.ts';
import { groupCommit } from './group-commit.ts';
import type { EventRecord, IngestResult } from './types.ts';

const NOW = Date.UTC(2026, 11, 3);
const event = (id: string): EventRecord => ({
  eventId: id,
  userId: 'u1',
  itemId: 'i1',
  type: 'click',
  value: null,
  ts: NOW - 1000,
  context: { device: 'web' },
});

/** A worker's process object and the primary's handle on it, joined by copying IPC. */
function link() {
  const copy = (m: unknown) => JSON.parse(JSON.stringify(m));
  const channel = Object.assign(new EventEmitter(), {
    connected: true,
    send(m: unknown, _h: unknown, _o: unknown, done?: (err: Error | null) => void) {
      setImmediate(() => worker.emit('message', copy(m)));
      done?.(null);
      return true;
    },
  });
  const worker = Object.assign(new EventEmitter(), {
    isConnected: () => channel.connected,
    send(m: unknown, done?: (err: Error | null) => void) {
      setImmediate(() => channel.emit('message', copy(m)));
      done?.(null);
      return true;
    },
  });
  const disconnect = () => {
    channel.connected = false;
    channel.emit('disconnect');
  };
  return { channel: channel as unknown as NodeJS.Process, worker: worker as unknown as Worker, disconnect };
}

describe('cluster ingest', () => {
  it("answers a worker's batches with the primary's results, the batches of one turn in one transaction", async () => {
    const transactions: string[][] = [];
    const store = async (events: EventRecord[]): Promise<IngestResult> => {
      transactions.push(events.map((e) => e.eventId));
      const result: IngestResult = { accepted: [], duplicate: [] };
      events.forEach((e, i) => result[e.eventId === 'seen' ? 'duplicate' : 'accepted'].push(i));
      return result;
    };
    const { channel, worker } = link();
    serveWorkerIngest(worker, groupCommit(store));
    const ingest = primaryIngest(channel);
    const results = await Promise.all([
      ingest([event('a'), event('seen')], DEFAULT_REALTIME, NOW),
      ingest([event('b')], DEFAULT_REALTIME, NOW),
    ]);
    // Positions in each worker batch.
    expect(results).toEqual([
      { accepted: [0], duplicate: [1] },
      { accepted: [0], duplicate: [] },
    ]);
    // Each message brings its own copy of the options; the group commit still merges the two batches.
    expect(transactions).toEqual([['a', 'seen', 'b']]);
  });

  it("fails a batch with the primary's error, and with a 503 once the primary is gone", async () => {
    const { channel, worker, disconnect } = link();
    let release = () => {};
    serveWorkerIngest(worker, async (events) => {
      if (events[0].eventId === 'bad') throw new Error('disk I/O error');
      await new Promise<void>((ok) => (release = ok));
      return { accepted: [], duplicate: [] };
    });
    const ingest = primaryIngest(channel);
    await expect(ingest([event('bad')], DEFAULT_REALTIME, NOW)).rejects.toThrow(
      'storing the events failed in the primary process: disk I/O error',
    );
    // In flight when the primary goes: not stored as far as the client knows, and told to send again.
    const pending = ingest([event('slow')], DEFAULT_REALTIME, NOW);
    await new Promise((ok) => setImmediate(ok));
    disconnect();
    release();
    const refused = await pending.catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 503, message: expect.stringMatching(/send them again/) });
    await expect(ingest([event('later')], DEFAULT_REALTIME, NOW)).rejects.toMatchObject({ status: 503 });
  });
});
