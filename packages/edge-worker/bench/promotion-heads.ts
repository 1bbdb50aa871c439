// What `latest`, promote, rollback and delete pay to know the promoted version (not a test): reading the model's
// head (migrations/0008_promotion_heads.sql) against replaying its whole promotion history, as every such request
// did before, on a SQLite store whose model has N entries (a refresh every 5 minutes that always promotes writes
// about 105,000 a year). Median and P99 after warm-up.
// node --import tsx bench/promotion-heads.ts [N ...]   (default: 1000 100000)
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '@vireo/core';
import { promotedStack } from '../src/storage/sql.ts';
import { openSqliteStorage } from '../src/storage/sqlite.ts';

async function time(f: () => Promise<unknown>, runs: number): Promise<string> {
  for (let i = 0; i < Math.min(runs, 20); i++) await f();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await f();
    t.push(performance.now() - start);
  }
  t.sort((a, b) => a - b);
  return `P50 ${t[runs >> 1].toFixed(3)} ms, P99 ${t[Math.floor(runs * 0.99)].toFixed(3)} ms (${runs} runs)`;
}

for (const n of (process.argv.length > 2 ? process.argv.slice(2) : ['1000', '100000']).map(Number)) {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-heads-'));
  const storage = openSqliteStorage({ dataDir });
  const manifest = new TextEncoder().encode('{}');
  for (const version of ['1', '2'])
    await storage.models.createVersion({
      name: 'm',
      version,
      manifest,
      manifestSha256: await sha256Hex(manifest),
      files: [],
      by: 'bench',
      now: 1,
    });
  // n promotions alternating between the two versions, written as appendPromotion leaves them.
  const db = new Database(join(dataDir, 'edge.db'));
  const entry = db.prepare(
    'INSERT INTO model_promotions (name, seq, action, version, at, by_sub, below) ' +
      "VALUES ('m', ?, 'promote', ?, ?, 'b', ?)",
  );
  db.transaction(() => {
    for (let seq = 1; seq <= n; seq++) entry.run(seq, String(1 + (seq % 2)), seq, seq - 1);
    db.prepare("INSERT INTO model_heads (name, seq, top, at) VALUES ('m', ?, ?, ?)").run(n, n, n);
  })();
  db.close();
  const replay = async () => promotedStack(await storage.models.promotions('m', { limit: n })).at(-1);
  const head = async () => (await storage.models.promotionHead('m')).promoted;
  if ((await replay()) !== (await head())) throw new Error('the head and the replay disagree');
  console.log(`history of ${n.toLocaleString('en-US')} entries, load ${loadavg()[0].toFixed(2)}`);
  console.log(`  replay the history (before): ${await time(replay, n > 10_000 ? 20 : 200)}`);
  console.log(`  read the head (now):         ${await time(head, 2000)}`);
  await storage.close();
  rmSync(dataDir, { recursive: true, force: true });
}
