#!/usr/bin/env node
// The top frames of a V8 .cpuprofile (from `bench:edge --profile DIR`, i.e. node --cpu-prof): self
// time per function and inclusive time per function, as shares of the sampled time (idle excluded).
// node bench/profile-top.mjs DIR/CPU.*.cpuprofile [--top 25] [--last S: only the last S seconds sampled,
// e.g. a route's rows without the seeding before them]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: { top: { type: 'string' }, last: { type: 'string' } },
  allowPositionals: true,
});
const TOP = Number(values.top ?? 25);
for (const file of positionals) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Sample i was taken at startTime + the sum of timeDeltas[0..i] (µs).
  const times = [];
  let t = prof.startTime;
  for (const d of prof.timeDeltas) times.push((t += d));
  const from = values.last === undefined ? -Infinity : prof.endTime - Number(values.last) * 1e6;
  const hits = new Map();
  prof.samples.forEach((id, i) => {
    if (times[i] >= from) hits.set(id, (hits.get(id) ?? 0) + 1);
  });
  const label = (n) => {
    const f = n.callFrame;
    const url = f.url
      .replace(/^.*\/node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, '')
      .replace(/^file:\/\/.*\/packages\//, '');
    return `${f.functionName || '(anonymous)'} ${url ? `${url}:${f.lineNumber + 1}` : ''}`.trim();
  };
  const self = new Map();
  const total = new Map();
  let busy = 0;
  for (const [id, count] of hits) {
    const n = byId.get(id);
    const name = label(n);
    if (name === '(idle)') continue;
    busy += count;
    self.set(name, (self.get(name) ?? 0) + count);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur));
      if (seen.has(l)) continue;
      seen.add(l);
      total.set(l, (total.get(l) ?? 0) + count);
    }
  }
  const pct = (x) => `${((100 * x) / busy).toFixed(1)}%`.padStart(6);
  console.log(`${file}: ${busy} busy samples`);
  console.log('self:');
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${pct(v)}  ${k}`);
  console.log('inclusive:');
  for (const [k, v] of [...total].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${pct(v)}  ${k}`);
}
