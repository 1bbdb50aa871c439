// WAL checkpoints off the event loop (docs/ARCHITECTURE.md, "Node edge"): SQLite copies the WAL back
// into the database file, and fsyncs it, in whichever commit crosses wal_autocheckpoint, so one
// request in thousands paid for the copy of ~40 MiB (the events' P99). A worker thread with its own
// connection runs PASSIVE checkpoints every `intervalMs` (250 ms) instead: they never block a writer or a
// reader, and the committing request pays only its own WAL append. The main connection keeps an
// autocheckpoint as a backstop, far above what the thread lets accumulate. A checkpoint ends with an fsync of
// the database file, during which the writer's WAL appends may stall on the file system (ext4 here: a group of
// 32 batches took 200-400 ms instead of ~80); checkpoints every 250 ms rather than every second flush less each
// time and halved the events' P99 (docs/ARCHITECTURE.md, "Node edge").
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// Plain JavaScript: the worker runs without the TypeScript loader.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 0');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy (another checkpoint running, e.g. another --workers process): the next tick tries again.
  }
}, workerData.intervalMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export type Checkpointer = { stop(): Promise<void> };

/**
 * Starts the checkpoint thread for the database at `path` (already in WAL mode).
 * @example const checkpoints = startCheckpointer(databasePath(dataDir)); ...; await checkpoints.stop();
 */
export function startCheckpointer(path: string, intervalMs = 250): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, driver, intervalMs } });
  worker.unref();
  const exited = new Promise<void>((ok) => worker.once('exit', () => ok()));
  // A failed thread leaves the backstop autocheckpoint in charge; nothing is lost.
  worker.on('error', () => undefined);
  let stopping: Promise<void> | null = null;
  return {
    stop() {
      stopping ??= (async () => {
        // Held until it has closed its connection (unref'd, the process could exit first).
        worker.ref();
        worker.postMessage('stop');
        const timeout = new Promise<void>((ok) => setTimeout(ok, 2000).unref());
        await Promise.race([exited, timeout]);
        await worker.terminate();
      })();
      return stopping;
    },
  };
}
