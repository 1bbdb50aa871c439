// globalSetup of the `browser` vitest project (runs in Node): a real edge (packages/edge-worker,
// the `npx vireo-edge` server) on a free localhost port with a temporary data folder, the fixture
// bundles published to its registry over HTTP, and what the engine's browser tests need passed
// to the page with `provide`: the edge URL, a development token and a port nobody listens on.
//   fixture  v1 (promoted)                         the engine's model
//   corrupt  v1 (promoted), v2 (one stored file corrupted on disk after upload, not promoted)
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { developmentToken, startNodeServer } from '../../../edge-worker/src/node.ts';
import { makeFixtureBundle } from './fixture.ts';

export interface BrowserEdge {
  url: string;
  token: string;
  /** A localhost URL where nothing listens (the edge down). */
  deadUrl: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    edge: BrowserEdge;
  }
}

type Bundle = Awaited<ReturnType<typeof makeFixtureBundle>>;

async function publish(url: string, token: string, b: Bundle, promote: boolean): Promise<void> {
  const base = `${url}/v1/models/${b.manifest.name}/${b.manifest.version}`;
  const put = async (path: string, body: Uint8Array | string, type: string) => {
    const res = await fetch(`${base}/${path}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body: body as BodyInit });
    if (!res.ok) throw new Error(`publishing ${b.manifest.name}/${b.manifest.version}/${path}: HTTP ${res.status} ${await res.text()}`);
  };
  await put('manifest.json', JSON.stringify(b.manifest), 'application/json');
  for (const [name, bytes] of b.files) await put(name, bytes, 'application/octet-stream');
  if (promote) {
    const res = await fetch(`${base}/promote`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`promoting ${b.manifest.name}/${b.manifest.version}: HTTP ${res.status} ${await res.text()}`);
  }
}

/** Flips the last byte of the stored blob whose bytes equal `bytes` (the edge checked it on upload). */
function corruptStored(dir: string, bytes: Uint8Array): void {
  const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
  const hit = walk(dir).find((p) => statSync(p).size === bytes.byteLength && Buffer.compare(readFileSync(p), bytes) === 0);
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
  const edge = await startNodeServer({ port: 0, dataDir, corsOrigins: ['*'], rateLimitPerSecond: 0, log: null, env: {} });
  const token = await developmentToken(edge.secret.secret);
  await publish(edge.url, token, await makeFixtureBundle('1', 1, 'fixture'), true);
  await publish(edge.url, token, await makeFixtureBundle('1', 1, 'corrupt'), true);
  const bad = await makeFixtureBundle('2', 2, 'corrupt');
  await publish(edge.url, token, bad, false);
  corruptStored(dataDir, bad.files.get('items.safetensors')!);
  project.provide('edge', { url: edge.url, token, deadUrl: `http://127.0.0.1:${await freePort()}` });
  return async () => {
    await edge.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
