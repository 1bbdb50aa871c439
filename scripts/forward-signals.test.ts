// A signal sent to `npm start`'s bootstrap process alone (a supervisor's `kill PID`) must reach vireo behind the
// package manager: before runForwardingSignals the bootstrap ignored it and the stack kept running.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

test('SIGTERM to the runner alone reaches the grandchild behind an intermediate shell, once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vireo-forward-'));
  // The grandchild stands for vireo start: it counts the signals it gets and stops 200 ms after the first.
  writeFileSync(
    join(dir, 'stack.mjs'),
    `let n = 0;
process.on('SIGTERM', () => { n++; setTimeout(() => { console.log('stopped after ' + n); process.exit(0); }, 200); });
console.log('ready');
setInterval(() => {}, 1000);`,
  );
  const lib = fileURLToPath(new URL('./forward-signals.mjs', import.meta.url));
  // sh stays between the runner and the stack (`; true` keeps it from exec-ing), as pnpm does.
  const runner = `import { runForwardingSignals } from ${JSON.stringify(lib)};
process.exit(await runForwardingSignals('sh', ['-c', 'node stack.mjs; true'], { cwd: ${JSON.stringify(dir)} }));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', runner], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  // 'close': after the runner and the stack (which shares its pipes) have both gone.
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    if (out.includes('ready') && !child.killed) child.kill('SIGTERM');
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  const code = await exited;
  rmSync(dir, { recursive: true, force: true });
  expect(out).toContain('stopped after 1');
  expect(code).toBe(0);
}, 30_000);
