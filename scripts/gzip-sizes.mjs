// Prints the gzipped size of every JavaScript file of a built library (its entry and its chunks).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const walk = (d) =>
  readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
for (const p of walk(process.argv[2] ?? 'dist').filter((n) => n.endsWith('.js'))) {
  console.log(p, `${(gzipSync(readFileSync(p)).length / 1024).toFixed(1)} KiB gzipped`);
}
