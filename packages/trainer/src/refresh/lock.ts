// One refresh per state folder: DIR/refresh.lock holds the pid, host and start time of the refresh
// that uses DIR. Two at once pulled the same events into events.ndjson twice (trained on twice after)
// and removed each other's dataset.partial. A lock whose process is gone (same host, no such pid:
// killed, the machine restarted) is taken over; one held on another host is left to the person.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../cli/args.ts';

/** True when `pid` is a live process on this host (EPERM: alive, another user's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes DIR/refresh.lock for this process, or throws one sentence naming the refresh that holds it.
 * Returns the release (also run at exit).
 * @example const release = lockState('.vireo/refresh'); try { … } finally { release(); }
 */
export function lockState(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'refresh.lock');
  const mine = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${JSON.stringify(mine)}\n`, { flag: 'wx' });
      const release = () => {
        process.off('exit', release);
        try {
          if (JSON.parse(readFileSync(path, 'utf8')).pid === process.pid) rmSync(path, { force: true });
        } catch {
          // already gone
        }
      };
      process.on('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let held: { pid?: number; host?: string; since?: string } = {};
    try {
      held = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      // written half (a crash mid-write) or unreadable: stale unless a live pid says otherwise
    }
    const here = held.host === undefined || held.host === mine.host;
    if (here && (typeof held.pid !== 'number' || !alive(held.pid))) {
      rmSync(path, { force: true });
      continue;
    }
    const orElse = here ? '' : `, or delete ${path} if it is gone`;
    throw new UsageError(
      `another vireo refresh (pid ${held.pid} on ${held.host}, since ${held.since}) is using --state ${dir}: ` +
        `two at once would pull the same events twice; wait for it to finish${orElse}.`,
    );
  }
  throw new UsageError(`cannot take ${path}: another refresh keeps taking it.`);
}
