// Lists every source line over 120 characters in the files git tracks; Biome formats code to 120 columns but does
// not wrap strings or comments, so this catches what it leaves. WGSL, JSON, Markdown, lock files and
// bench/results/ are left out (shader source, data and generated text).
// Usage: node scripts/line-length.mjs [--skip DIR]...   exits 1 when a line is too long, 0 otherwise.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const MAX = 120;
const EXTENSIONS = ['.ts', '.mts', '.mjs', '.js', '.css', '.html', '.py', '.sh', '.toml', '.yaml', '.yml'];
const LOCK_FILES = ['pnpm-lock.yaml', 'package-lock.json', 'yarn.lock', 'bun.lock'];

const fail = (message) => {
  console.error(`line-length: ${message}`);
  process.exit(2);
};

const skips = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] !== '--skip') fail(`unknown argument '${args[i]}': expected --skip DIR.`);
  const dir = args[++i];
  if (!dir) fail('--skip needs a folder, e.g. --skip packages/edge-worker.');
  skips.push(`${dir.replace(/^\.\//, '').replace(/\/+$/, '')}/`);
}

const root = execFileSync('git', ['rev-parse', '--show-toplevel'], { encoding: 'utf8' }).trim();
const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 })
  .split('\0')
  .filter(Boolean);

const checked = (path) => {
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (!EXTENSIONS.some((ext) => name.endsWith(ext))) return false;
  if (LOCK_FILES.includes(name)) return false;
  if (path.startsWith('bench/results/') || path.includes('/bench/results/')) return false;
  return !skips.some((dir) => path.startsWith(dir));
};

let offending = 0;
let files = 0;
for (const path of tracked.filter(checked)) {
  let text;
  try {
    text = readFileSync(`${root}/${path}`, 'utf8');
  } catch {
    continue; // tracked but deleted in the work tree
  }
  files++;
  text.split('\n').forEach((line, index) => {
    // Characters, not UTF-16 units or bytes, so an emoji or an accent counts once.
    const length = [...line.replace(/\r$/, '')].length;
    if (length > MAX) {
      offending++;
      console.log(`${path}:${index + 1}: ${length} characters (over ${MAX})`);
    }
  });
}

if (offending > 0) {
  console.log(`line-length: ${offending} line(s) over ${MAX} characters in ${files} files checked; wrap them.`);
  process.exit(1);
}
