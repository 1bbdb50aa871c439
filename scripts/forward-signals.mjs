// Runs the stack's command so that a signal sent to this process alone stops it, as Ctrl-C does.
// The child gets its own process group (detached) and SIGINT/SIGTERM/SIGHUP reaching this process are passed on to
// that whole group: a supervisor's `kill PID` of `npm start` reaches vireo behind pnpm, and Ctrl-C in a terminal
// (which signals only the foreground group, ours) reaches it once instead of twice. After a forwarded signal this
// waits until the whole group has gone (vireo still stopping its stack after pnpm has died), at most 20 s.
import { spawn } from 'node:child_process';

const alive = (pgid) => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Spawns `cmd args` in its own process group with inherited stdio, forwards SIGINT, SIGTERM and SIGHUP to that group,
 * and resolves to its exit code: 0 when a forwarded signal ended it (the stack stopped as asked), else the child's.
 * @example process.exit(await runForwardingSignals('pnpm', ['exec', 'vireo', 'start']));
 */
export function runForwardingSignals(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', detached: true, ...opts });
    let forwarded = false;
    const forward = (signal) => {
      forwarded = true;
      try {
        process.kill(-child.pid, signal);
      } catch {} // the group is already gone
    };
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const s of signals) process.on(s, forward);
    child.on('error', (err) => {
      process.stderr.write(`could not start ${cmd}: ${err.message}\n`);
      resolve(1);
    });
    child.on('exit', (code) => {
      const done = () => {
        for (const s of signals) process.off(s, forward);
        resolve(forwarded && code === null ? 0 : (code ?? 1));
      };
      if (!forwarded) return done();
      const until = Date.now() + 20_000;
      const wait = setInterval(() => {
        if (alive(child.pid) && Date.now() < until) return;
        clearInterval(wait);
        done();
      }, 50);
    });
  });
}
