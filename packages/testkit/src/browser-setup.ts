// globalSetup of the `browser` vitest project (runs in Node): a real edge (packages/edge-worker,
// the `npx vireo-edge` server) on a free localhost port with a temporary data folder, a bundle
// made by the trainer on a small synthetic world (trained-fixture.ts: `vireo ingest` + `vireo
// train`, cached by source hash) published to its registry over HTTP, a few users' features
// pushed to its feature store, and what the engine's browser tests need passed to the page with
// `provide`: the edge URL, a development token, a port nobody listens on, the world's ids.
//   fixture  v1 (promoted)                         the engine's model (trained)
//   corrupt  v1 (promoted), v2 (the same trained tensors; its items file, rewritten with other
//            metadata so its bytes differ from v1's, corrupted on disk after upload; not promoted)
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { developmentToken, startNodeServer } from '@vireo/edge-worker/node';
import { describeFile, readSafetensors, writeSafetensors, type BundleManifest } from '@vireo/core';
import { trainedFixtureBundle } from './trained-fixture.ts';

export interface BrowserEdge {
  url: string;
  token: string;
  /** A localhost URL where nothing listens (the edge down). */
  deadUrl: string;
  /** The trained world's user and item ids (vocabulary order) and its users' age groups. */
  users: string[];
  items: string[];
  ageGroups: string[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    edge: BrowserEdge;
  }
}

type Bundle = { manifest: BundleManifest; files: Map<string, Uint8Array> };

async function publish(url: string, token: string, b: Bundle, promote: boolean): Promise<void> {
  const base = `${url}/v1/models/${b.manifest.name}/${b.manifest.version}`;
  const put = async (path: string, body: Uint8Array | string, type: string) => {
    const res = await fetch(`${base}/${path}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': type },
      body: body as BodyInit,
    });
    if (!res.ok)
      throw new Error(
        `publishing ${b.manifest.name}/${b.manifest.version}/${path}: HTTP ${res.status} ${await res.text()}`,
      );
  };
  await put('manifest.json', JSON.stringify(b.manifest), 'application/json');
  for (const [name, bytes] of b.files) await put(name, bytes, 'application/octet-stream');
  if (promote) {
    const res = await fetch(`${base}/promote`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    if (!res.ok)
      throw new Error(`promoting ${b.manifest.name}/${b.manifest.version}: HTTP ${res.status} ${await res.text()}`);
  }
}

/** Flips the last byte of the stored blob whose bytes equal `bytes` (the edge checked it on upload). */
function corruptStored(dir: string, bytes: Uint8Array): void {
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
  const hit = walk(dir).find(
    (p) => statSync(p).size === bytes.byteLength && Buffer.compare(readFileSync(p), bytes) === 0,
  );
  if (!hit) throw new Error('browser-setup: the uploaded blob to corrupt was not found in the edge data folder.');
  const data = readFileSync(hit);
  data[data.length - 1] ^= 0xff;
  writeFileSync(hit, data);
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vireo-browser-edge-'));
  const edge = await startNodeServer({
    port: 0,
    dataDir,
    corsOrigins: ['*'],
    rateLimitPerSecond: 0,
    log: null,
    env: {},
    dev: true, // a generated secret in the temporary data folder (the edge refuses to start without one)
  });
  const token = await developmentToken(edge.secret.secret);
  const trained = await trainedFixtureBundle({ log: (m) => console.log(`browser-setup: ${m}`) });
  const as = (name: string, version: string): Bundle => ({
    manifest: { ...trained.manifest, name, version },
    files: trained.files,
  });
  await publish(edge.url, token, as('fixture', '1'), true);
  await publish(edge.url, token, as('corrupt', '1'), true);
  const items = readSafetensors(trained.files.get('items.safetensors')!);
  const items2 = writeSafetensors(items.tensors, { ...items.metadata, copy: 'v2' });
  const bad = as('corrupt', '2');
  bad.files = new Map(bad.files).set('items.safetensors', items2);
  bad.manifest = {
    ...bad.manifest,
    files: await Promise.all(
      bad.manifest.files.map((f) => (f.name === 'items.safetensors' ? describeFile(f.name, items2) : f)),
    ),
  };
  await publish(edge.url, token, bad, false);
  corruptStored(dataDir, items2);
  const v = trained.manifest.vocabularies;
  const users = v['user:id'] ?? [];
  const ageGroups = v['user:age_group'] ?? [];
  // The feature store's rows for the first users (the engine reads them model-ready).
  const push = await fetch(`${edge.url}/v1/features/push`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'fixture',
      rows: users
        .slice(0, 8)
        .map((id, i) => ({ entity: 'user', id, features: { age_group: ageGroups[i % ageGroups.length] } })),
    }),
  });
  if (!push.ok) throw new Error(`browser-setup: pushing user features: HTTP ${push.status} ${await push.text()}`);
  project.provide('edge', {
    url: edge.url,
    token,
    deadUrl: `http://127.0.0.1:${await freePort()}`,
    users,
    items: v['item:id'] ?? [],
    ageGroups,
  });
  return async () => {
    await edge.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
