// The refresh loop beside `vireo start`: `vireo refresh --every` as a child process (its own Dawn
// device, so the stack stays responsive while it trains), its output appended to a log file.
// start.ts calls it once the edge holds a promoted version; `vireo start --no-refresh` skips it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const VIREO_BIN = fileURLToPath(new URL('../../bin/vireo.mjs', import.meta.url));

/** How often `vireo start` refreshes by default. */
export const START_REFRESH_EVERY = '5m';

/**
 * Starts `vireo refresh --every EVERY --json` in the background; the caller kills the child on exit.
 * @example const child = startBackgroundRefresh({ edge, token, state: '.vireo', data: '.vireo/data', model: 'vireo' });
 */
export function startBackgroundRefresh(o: {
  edge: string;
  token: string;
  /** vireo start's state folder: the refresh keeps its own state in STATE/refresh. */
  state: string;
  data: string;
  model: string;
  every?: string;
}): { child: ChildProcess; log: string } {
  const log = join(o.state, 'logs', 'refresh.log');
  mkdirSync(dirname(log), { recursive: true });
  const out = createWriteStream(log, { flags: 'a' });
  const args = [
    'refresh',
    ...['--edge', o.edge, '--token', o.token, '--state', join(o.state, 'refresh'), '--data', o.data],
    ...['--model', o.model, '--every', o.every ?? START_REFRESH_EVERY, '--json'],
  ];
  const child = spawn(process.execPath, [VIREO_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  child.once('close', () => out.end());
  return { child, log };
}
