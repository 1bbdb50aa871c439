#!/usr/bin/env node
// The README's two commands: `npm start` (the main job) and `npm test` (every test).
// On a fresh Debian 12 machine with Node 20 and npm, this installs what Vireo needs:
// the pinned pnpm, the workspace's dependencies and, where no Vulkan driver exists,
// Debian's `chromium` (whose SwiftShader driver lets WebGPU run without a GPU) and `libvulkan1`;
// for `npm test`, Debian's `python3-torch` too (the gradient check's reference), when it can.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { startFlagsMistake } from '../packages/trainer/bin/start-flags.mjs';
import { runForwardingSignals } from './forward-signals.mjs';

const PNPM = 'pnpm@12.4.2';
const root = new URL('..', import.meta.url).pathname;
const say = (msg) => process.stderr.write(`\x1b[1mvireo:\x1b[0m ${msg}\n`);
const fail = (msg) => {
  say(msg);
  process.exit(1);
};

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  return r.status ?? 1;
}
function quiet(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function ensureSystemPackages() {
  const icdDirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'];
  const hasGpuDriver = icdDirs.some((d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith('.json')));
  const hasSwiftShader = existsSync('/usr/lib/chromium/vk_swiftshader_icd.json');
  const hasLoader = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1'].some(
    existsSync,
  );
  const missing = [];
  if (!hasSwiftShader) missing.push('chromium'); // also the browser for the browser tests
  if (!hasLoader) missing.push('libvulkan1');
  if (missing.length === 0 || (hasGpuDriver && hasLoader && process.argv[2] === 'start')) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !quiet('which', ['apt-get'])) {
    fail(
      `WebGPU needs Debian's ${missing.join(' and ')} here: run ` +
        `\`sudo apt-get install -y ${missing.join(' ')}\` and retry.`,
    );
  }
  say(`installing ${missing.join(', ')} with apt-get (WebGPU through SwiftShader, and the browser for tests)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (
    sh('apt-get', ['update', '-qq'], { env }) !== 0 ||
    sh('apt-get', ['install', '-y', '-qq', ...missing], { env }) !== 0
  ) {
    fail(`apt-get could not install ${missing.join(' ')}: install them by hand and retry.`);
  }
}

/**
 * For `npm test`: Debian's `python3-torch`, the reference of the gradient check against PyTorch autograd
 * (packages/trainer/src/retrieval/retrieval.test.ts), which is skipped without it. Optional: a machine that cannot
 * install it runs every other test, and one sentence says so.
 */
function ensureTestPeers() {
  if (quiet('/usr/bin/python3', ['-c', 'import torch']) !== null) return;
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const skipped = 'the gradient check against PyTorch will be skipped';
  if (!asRoot || !quiet('which', ['apt-get'])) {
    say(`no PyTorch for /usr/bin/python3: ${skipped} (\`sudo apt-get install -y python3-torch\` runs it).`);
    return;
  }
  say('installing python3-torch with apt-get (the reference of the gradient check)…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (
    sh('apt-get', ['update', '-qq'], { env }) !== 0 ||
    sh('apt-get', ['install', '-y', '-qq', 'python3-torch'], { env }) !== 0
  )
    say(`apt-get could not install python3-torch: ${skipped}.`);
}

/** The command line that runs pnpm `args`: the installed pnpm when it is the pinned version, else npx's. */
function pnpmCommand(args) {
  const version = quiet('pnpm', ['--version']);
  return version === PNPM.split('@')[1] ? ['pnpm', args] : ['npx', ['-y', PNPM, ...args]];
}
const pnpm = (args, opts) => sh(...pnpmCommand(args), opts);

function install() {
  // better-sqlite3 compiles against Node's headers; Debian's nodejs ships them under /usr.
  const env = { ...process.env };
  if (!env.npm_config_nodedir && existsSync('/usr/include/node/node.h')) env.npm_config_nodedir = '/usr';
  if (pnpm(['install', '--frozen-lockfile', '--reporter=append-only'], { env }) !== 0) {
    fail('installing the dependencies failed (see the pnpm output above).');
  }
}

const task = process.argv[2];
if (task !== 'start' && task !== 'test') fail(`unknown task '${task}': expected start or test.`);
// A mistake in `npm start`'s flags is one sentence before anything is installed (exit 2, as vireo's own).
const mistake = task === 'start' ? startFlagsMistake(process.argv.slice(3)) : null;
if (mistake) {
  process.stderr.write(`vireo start: ${mistake}\n`);
  process.exit(2);
}
ensureSystemPackages();
if (task === 'test') ensureTestPeers();
install();
const rest = process.argv.slice(3);
let code;
if (task === 'test') {
  // Lint and format (Biome, a second), then the type checker (about 40 s): vitest strips types without checking them.
  code = rest.length ? 0 : pnpm(['run', 'lint']);
  if (code !== 0)
    console.error(
      'npm test: lint or format failed (see above; `pnpm format` fixes the format); the tests did not run.',
    );
  else code = rest.length ? 0 : pnpm(['run', 'typecheck']);
  if (code !== 0) console.error('npm test: the lint or type check failed (see above); the tests did not run.');
  else code = pnpm(['exec', 'vitest', 'run', ...rest]);
} else {
  // Ctrl-C, or a SIGTERM sent to this process alone, is passed on to vireo, which stops the stack and exits 0
  // ("stopped"): wait for it.
  const [cmd, args] = pnpmCommand(['exec', 'vireo', 'start', ...rest]);
  code = await runForwardingSignals(cmd, args, { cwd: root });
}
process.exit(code);
