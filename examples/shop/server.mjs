// The shop's backend: serves the built site and mints each visitor's edge token. Nothing else:
// the browser talks to the edge itself. The visitor id lives in a cookie; the token is an HS256
// JWT signed with the secret the edge verifies (VIREO_JWT_SECRET), its subject the visitor, its
// scopes what a page needs (read features and models, write events), valid for an hour.
//   VIREO_JWT_SECRET=… VIREO_EDGE_URL=http://127.0.0.1:8787 VIREO_MODEL=shop PORT=3000 node server.mjs [dist]
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { SignJWT } from 'jose';

const root = resolve(process.argv[2] ?? 'dist');
const secret = process.env.VIREO_JWT_SECRET;
const edge = process.env.VIREO_EDGE_URL ?? 'http://127.0.0.1:8787';
const model = process.env.VIREO_MODEL ?? 'shop';
if (!secret) {
  console.error('shop: set VIREO_JWT_SECRET to the edge’s secret (see docs/getting-started.md).');
  process.exit(2);
}
const key = new TextEncoder().encode(secret);
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };

async function session(req, res) {
  const cookie = /(?:^|;\s*)visitor=([\w-]+)/.exec(req.headers.cookie ?? '');
  const visitor = cookie?.[1] ?? randomUUID();
  const token = await new SignJWT({ scope: 'features:read events:write' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(visitor)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(key);
  res.writeHead(200, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'set-cookie': `visitor=${visitor}; Path=/; SameSite=Lax; Max-Age=31536000`,
  });
  res.end(JSON.stringify({ token, edge, model, visitor }));
}

async function file(req, res) {
  const path = new URL(req.url, 'http://x').pathname;
  const target = normalize(join(root, path === '/' ? 'index.html' : path));
  if (!target.startsWith(root)) return void res.writeHead(404).end();
  try {
    const body = await readFile(target);
    res.writeHead(200, { 'content-type': TYPES[extname(target)] ?? 'application/octet-stream' }).end(body);
  } catch {
    const index = await readFile(join(root, 'index.html')).catch(() => null);
    if (index && !extname(path)) return void res.writeHead(200, { 'content-type': 'text/html' }).end(index);
    res.writeHead(404).end('not found');
  }
}

const server = createServer((req, res) => {
  const handler = req.url?.startsWith('/api/session') ? session : file;
  handler(req, res).catch((err) => {
    console.error('shop:', err);
    if (!res.headersSent) res.writeHead(500).end();
  });
});
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`shop: http://127.0.0.1:${server.address().port} (edge ${edge}, model ${model})`);
});
