// Test fixture for the training loop (vireo refresh, issue 16): a burst of edge events in which a
// group of users of the synthetic world turns to a category they rarely touched. Reads the
// dataset `vireo ingest` wrote (the trained fixture's world) to choose the category and users.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signHs256 } from '@vireo/edge-worker';
import { startNodeServer } from '@vireo/edge-worker/node';
import { TRAINED_WORLD, trainedFixtureBundle } from './trained-fixture.ts';

export interface Burst {
  /** The category the group turns to (its raw value). */
  category: string;
  /** The group. */
  users: string[];
  /** Items of that category / of the others (raw ids). */
  inCategory: string[];
  others: string[];
  /** Events in the edge's API form, oldest first. */
  events: Array<{ event_id: string; user_id: string; item_id: string; type: string; ts: number; value?: number }>;
}

function column(dir: string, file: string): Int32Array {
  const b = readFileSync(join(dir, file));
  return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/**
 * The burst: `users` users with the fewest clicks in the least-clicked category (of those with at
 * least `perUser` items) each click `perUser` different items of it (the group overlapping, shifted
 * by two items a user) and skip as many others (impressions), one event a minute up to `now`.
 * @example const burst = categoryBurst('data/', { users: 6, perUser: 12, now: Date.now() });
 */
export function categoryBurst(
  dataDir: string,
  o: { users: number; perUser: number; now: number; tag?: string },
): Burst {
  const vocab = JSON.parse(readFileSync(join(dataDir, 'vocabularies.json'), 'utf8')) as Record<string, string[]>;
  const itemCategory = column(dataDir, 'items/item.category.bin'); // (N) category index (value j ↔ index j + 2)
  const user = column(dataDir, 'interactions/user.bin');
  const item = column(dataDir, 'interactions/item.bin');
  const categories = vocab['item:category'];
  const clicks = new Map<number, number>();
  for (let e = 0; e < item.length; e++) clicks.set(itemCategory[item[e]], (clicks.get(itemCategory[item[e]]) ?? 0) + 1);
  // The least-clicked category with at least `perUser` items, so that each user clicks items new to them.
  const size = new Map<number, number>();
  for (const c of itemCategory) size.set(c, (size.get(c) ?? 0) + 1);
  const present = [...size.keys()].filter((c) => size.get(c)! >= o.perUser);
  if (present.length === 0) throw new Error(`categoryBurst: no category has ${o.perUser} items`);
  const target = present.sort((a, b) => (clicks.get(a) ?? 0) - (clicks.get(b) ?? 0) || a - b)[0];
  const perUser = new Map<number, number>();
  for (let e = 0; e < user.length; e++)
    if (itemCategory[item[e]] === target) perUser.set(user[e], (perUser.get(user[e]) ?? 0) + 1);
  const userIds = vocab['user:id'];
  const group = userIds
    .map((_, u) => u)
    .sort((a, b) => (perUser.get(a) ?? 0) - (perUser.get(b) ?? 0) || a - b)
    .slice(0, o.users);
  const itemIds = vocab['item:id'];
  const inCategory = itemIds.filter((_, i) => itemCategory[i] === target);
  const others = itemIds.filter((_, i) => itemCategory[i] !== target);
  const events: Burst['events'] = [];
  const tag = o.tag ?? 'burst';
  for (let k = 0; k < o.perUser; k++) {
    group.forEach((u, g) => {
      const ts = o.now - (o.perUser - k) * 60_000 + g * 1000;
      const uid = userIds[u];
      events.push({
        event_id: `${tag}-${uid}-${k}-c`,
        user_id: uid,
        item_id: inCategory[(k + 2 * g) % inCategory.length],
        type: 'click',
        ts,
      });
      events.push({
        event_id: `${tag}-${uid}-${k}-i`,
        user_id: uid,
        item_id: others[(k * 3 + g) % others.length],
        type: 'impression',
        ts: ts + 500,
      });
    });
  }
  return { category: categories[target - 2], users: group.map((u) => userIds[u]), inCategory, others, events };
}

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const VIREO = join(ROOT, 'packages/trainer/bin/vireo.mjs');

/** Runs the `vireo` CLI as a child process (as a user does); resolves with its exit code and output. */
export function runVireo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [VIREO, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', fail);
    child.once('exit', (code) => ok({ code, stdout, stderr }));
  });
}

/** Ingests the trained fixture's synthetic world (the same flags, so the same vocabularies) into `out`. */
export async function ingestTrainedWorld(out: string): Promise<void> {
  const w = TRAINED_WORLD;
  const flags = { users: w.users, items: w.items, events: w.events, categories: w.categories, seed: w.seed };
  const args = Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]);
  const r = await runVireo(['ingest', '--source', 'synthetic', '--out', out, ...args]);
  if (r.code !== 0) throw new Error(`vireo ingest exited with ${r.code}: ${r.stderr.slice(-1000)}`);
}

/** A real Node edge on loopback with a service token that may also export events and publish. */
export async function startLoopEdge(dataDir: string): Promise<{ url: string; token: string; close(): Promise<void> }> {
  const secret = 'loop-world-secret-0123456789-abcdefghijkl';
  const edge = await startNodeServer({ port: 0, dataDir, log: null, env: { VIREO_JWT_SECRET: secret } });
  const token = await signHs256(
    {
      sub: 'trainer',
      scope: 'features:read events:write events:export features:export models:publish service',
      exp: Math.floor(Date.now() / 1000) + 3600,
    },
    secret,
  );
  return { url: edge.url, token, close: () => edge.close() };
}

/** The trained fixture served as model `fixture` v1 (published, promoted) by a loop edge, over its ingested world. */
export interface ServingLoopWorld {
  root: string;
  /** The ingested dataset (`vireo refresh --data`). */
  data: string;
  edge: { url: string; token: string };
  /** fetch on the edge with the service token. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** `vireo refresh --once --json` against this edge and dataset; the exit code, output and the last JSON line. */
  refresh(...extra: string[]): Promise<{ code: number | null; stdout: string; stderr: string; json: unknown }>;
  close(): Promise<void>;
}

/** Sets up the world the loop tests start from: a temporary root, the ingested world, an edge serving v1. */
export async function servingLoopWorld(prefix: string): Promise<ServingLoopWorld> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const data = join(root, 'data');
  const bundle = await trainedFixtureBundle();
  await ingestTrainedWorld(data);
  const edge = await startLoopEdge(join(root, 'edge'));
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${edge.url}${path}`, { ...init, headers: { authorization: `Bearer ${edge.token}`, ...init.headers } });
  const published = await runVireo(['publish', '--bundle', bundle.dir, '--edge', edge.url, '--token', edge.token]);
  if (published.code !== 0) throw new Error(`vireo publish exited with ${published.code}: ${published.stderr}`);
  const promoted = await api('/v1/models/fixture/1/promote', { method: 'POST' });
  if (promoted.status !== 200) throw new Error(`promoting fixture v1 answered ${promoted.status}`);
  const refresh = async (...extra: string[]) => {
    const args = ['--edge', edge.url, '--token', edge.token, '--state', join(root, 'refresh'), '--data', data];
    const r = await runVireo(['refresh', ...args, '--model', 'fixture', '--once', '--json', ...extra]);
    const last = r.stdout.trim().split('\n').at(-1);
    return { ...r, json: r.code === 0 && last ? JSON.parse(last) : null };
  };
  const close = async () => {
    await edge.close();
    rmSync(root, { recursive: true, force: true });
  };
  return { root, data, edge, api, refresh, close };
}
