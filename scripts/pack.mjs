#!/usr/bin/env node
// `node scripts/pack.mjs DIR`: builds and packs what a user installs — @vireo/runtime-web (the
// engine), @vireo/edge-worker (the edge for Node, `vireo-edge`) and @vireo/trainer (the `vireo` CLI) —
// into DIR as the tarballs `pnpm pack` makes (each package's prepack builds its dist/). examples/shop's
// test installs all three (test/scratch.ts).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';

const PNPM = 'pnpm@12.4.2';
const root = new URL('..', import.meta.url).pathname;
const out = resolve(process.argv[2] ?? 'packs');
const packages = ['runtime-web', 'edge-worker', 'trainer'];

const hasPnpm = spawnSync('pnpm', ['--version'], { encoding: 'utf8' }).stdout?.trim() === PNPM.split('@')[1];
mkdirSync(out, { recursive: true });
for (const p of packages) {
  const [cmd, args] = hasPnpm ? ['pnpm', []] : ['npx', ['-y', PNPM]];
  const r = spawnSync(cmd, [...args, 'pack', '--pack-destination', out], {
    cwd: `${root}packages/${p}`,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) {
    console.error(`pack: packing packages/${p} failed (see above).`);
    process.exit(1);
  }
}
console.log(
  readdirSync(out)
    .filter((f) => f.endsWith('.tgz'))
    .join('\n'),
);
