// examples/shop as a web team builds it, so that a broken package fails CI:
//  1. scripts/pack.mjs packs @vireo/runtime-web and @vireo/edge-worker (`pnpm pack`, each built by
//     its prepack); the shop is copied out of the repository and installs the tarballs with npm (the
//     project's globalSetup, test/scratch.ts, which cli.e2e.test.ts shares);
//  2. `vite build` and the esbuild build of the shop; a scratch TypeScript project that installs only
//     the runtime tarball type-checks createEngine and createEngineWorker usage (skipLibCheck off);
//  3. the packed `vireo-edge` starts with a secret it shares with the shop's backend; the trained
//     fixture bundle (@vireo/testkit) is published to it as model 'shop';
//  4. headless Chromium (WebGPU on SwiftShader) opens a product page of each build, with the engine in
//     the page and in a Web Worker: recommendations appear, a click reaches the edge's history, and
//     the page still recommends offline once visited.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { chromiumArgs, chromiumPath } from '@vireo/testkit/chromium';
import { trainedFixtureBundle } from '@vireo/testkit/trained-fixture';
import { npmEnv as env, run } from './scratch.ts';

const work = inject('shopWork');
const app = inject('shopApp');
const secret = randomBytes(32).toString('hex');
const children: ChildProcess[] = [];
const log: string[] = [];
let browser: Browser;
let edgeUrl: string;
let adminToken: string;
let users: string[];
let items: string[];

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

/** Starts a Node process and resolves once `url` answers. */
async function serve(args: string[], cwd: string, extra: NodeJS.ProcessEnv, url: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { cwd, env: { ...env(), ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  child.stdout!.on('data', (b: Buffer) => log.push(b.toString()));
  child.stderr!.on('data', (b: Buffer) => log.push(b.toString()));
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}:\n${log.join('')}`);
    if (
      await fetch(url).then(
        (r) => r.status < 500,
        () => false,
      )
    )
      return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${args.join(' ')} did not answer at ${url}:\n${log.join('')}`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function publishFixture(): Promise<void> {
  const trained = await trainedFixtureBundle({ log: (m) => log.push(`fixture: ${m}\n`) });
  const base = `${edgeUrl}/v1/models/shop/1`;
  const auth = { authorization: `Bearer ${adminToken}` };
  const put = async (path: string, body: BodyInit, type: string) => {
    const res = await fetch(`${base}/${path}`, { method: 'PUT', headers: { ...auth, 'content-type': type }, body });
    if (!res.ok) throw new Error(`publishing ${path}: HTTP ${res.status} ${await res.text()}`);
  };
  await put('manifest.json', JSON.stringify({ ...trained.manifest, name: 'shop', version: '1' }), 'application/json');
  for (const [name, bytes] of trained.files) await put(name, bytes as BodyInit, 'application/octet-stream');
  const res = await fetch(`${base}/promote`, { method: 'POST', headers: auth });
  if (!res.ok) throw new Error(`promoting shop/1: HTTP ${res.status} ${await res.text()}`);
  users = trained.manifest.vocabularies['user:id'] ?? [];
  items = trained.manifest.vocabularies['item:id'] ?? [];
}

async function openShop(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}\n`));
  page.on('console', (m) => log.push(`console: ${m.text()}\n`));
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready || document.body.dataset.error, null, {
    timeout: 120_000,
  });
  const error = await page.evaluate(() => document.body.dataset.error);
  if (error) throw new Error(`the shop failed at ${url}: ${error}\n${log.join('').slice(-4000)}`);
  return page;
}

const shown = (page: Page) => page.$$eval('#recs a', (as) => as.map((a) => (a as HTMLElement).dataset.item ?? ''));

beforeAll(async () => {
  run('npx', ['vite', 'build', '--logLevel', 'warn'], app);
  run(process.execPath, ['build-esbuild.mjs'], app);

  const edgePort = await freePort();
  edgeUrl = `http://127.0.0.1:${edgePort}`;
  const edgeBin = join(app, 'node_modules/@vireo/edge-worker/dist/node/vireo-edge.js');
  const edgeArgs = [edgeBin, '--port', String(edgePort), '--data', join(work, 'edge'), '--cors', '*', '--quiet'];
  await serve(edgeArgs, app, { VIREO_JWT_SECRET: secret }, `${edgeUrl}/healthz`);
  const jose = (await import(
    pathToFileURL(createRequire(join(app, 'package.json')).resolve('jose')).href
  )) as typeof import('jose');
  adminToken = await new jose.SignJWT({ scope: 'features:read events:write models:publish admin service' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('shop-test')
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret));
  await publishFixture();
  browser = await chromium.launch({ executablePath: chromiumPath(), args: chromiumArgs(), headless: true });
});

afterAll(async () => {
  await browser?.close();
  for (const c of children) await stop(c);
});

describe('examples/shop on the packed packages', () => {
  test('a TypeScript project with only the runtime tarball type-checks createEngine and createEngineWorker', () => {
    const scratch = join(work, 'consumer');
    mkdirSync(scratch);
    const tarball = readdirSync(join(app, 'vendor')).find((f) => f.startsWith('vireo-runtime-web-'))!;
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(app, 'vendor', tarball)], scratch);
    writeFileSync(
      join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'ESNext',
          moduleResolution: 'Bundler',
          lib: ['ES2022', 'DOM'],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        include: ['consumer.ts'],
      }),
    );
    writeFileSync(
      join(scratch, 'consumer.ts'),
      [
        'import { createEngine, createEngineWorker, ' +
          "BundleIntegrityError, type RecommendResult } from '@vireo/runtime-web';",
        "const engine = await createEngine({ model: 'shop', " +
          "edge: 'https://edge.example', token: 't', backend: 'auto' });",
        "const r: RecommendResult = await engine.recommend({ userId: 'u1', k: 10 });",
        'const first: string | undefined = r.items[0]?.itemId;',
        "await engine.observe({ userId: 'u1', itemId: first ?? 'i1', type: 'click' });",
        "const worker = await createEngineWorker({ model: 'shop', edge: 'https://edge.example', token: 't' });",
        "const w = await worker.recommend({ userId: 'u1', k: 4 });",
        'console.log(engine.backend, worker.adapter, w.items.length, r.timings, BundleIntegrityError.name);',
        'await worker.dispose();',
        '',
      ].join('\n'),
    );
    run(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', scratch], scratch);
    // TypeScript 6 and 7 declare WebGPU in lib.dom, and @webgpu/types beside it is 150 duplicate identifiers: the
    // package's `types@<6` entry adds @webgpu/types for TypeScript 5 only (it added them for every version).
    const versions = { typescript6: '6.0.3', typescript7: '7.0.2' };
    const aliases = Object.entries(versions).map(([alias, v]) => `${alias}@npm:typescript@${v}`);
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--no-save', ...aliases], scratch);
    for (const alias of Object.keys(versions))
      run(process.execPath, [join(scratch, 'node_modules', alias, 'bin/tsc'), '-p', scratch], scratch);
  });

  for (const build of ['dist', 'dist-esbuild'] as const) {
    test(
      `${build === 'dist' ? 'Vite' : 'esbuild'} build: ` +
        `recommendations in the page and in a worker, clicks, offline`,
      async () => {
        const port = await freePort();
        const shop = `http://127.0.0.1:${port}`;
        const server = await serve(
          [join(app, 'server.mjs'), build],
          app,
          { VIREO_JWT_SECRET: secret, VIREO_EDGE_URL: edgeUrl, VIREO_MODEL: 'shop', PORT: String(port) },
          `${shop}/api/session`,
        );
        const visitor = users[users.length - 1 - (build === 'dist' ? 0 : 1)];
        const context = await browser.newContext();
        await context.addCookies([{ name: 'visitor', value: visitor, url: shop }]);
        try {
          // The engine in the page, on WebGPU: forced, since on a CPU-only machine 'auto' serves on the CPU
          // path (SwiftShader is a CPU).
          const page = await openShop(context, `${shop}/?backend=webgpu&item=${encodeURIComponent(items[0])}`);
          expect(await page.evaluate(() => document.body.dataset.backend)).toBe('webgpu');
          const recs = await shown(page);
          expect(recs).toHaveLength(4);
          expect(new Set(recs).size).toBe(4);
          for (const id of recs) expect(items).toContain(id);

          // A click goes through observe() to the edge: the visitor's real-time history has it.
          await Promise.all([page.waitForURL(/item=/), page.click(`#recs a[data-item="${recs[0]}"]`)]);
          await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
          let history = '';
          for (let i = 0; i < 100 && !history.includes(recs[0]); i++) {
            await new Promise((r) => setTimeout(r, 300));
            const res = await fetch(`${edgeUrl}/v1/users/${encodeURIComponent(visitor)}/features`, {
              headers: { authorization: `Bearer ${adminToken}` },
            });
            history = await res.text();
          }
          expect(history).toContain(recs[0]);

          // The engine in a Web Worker (the runtime's worker file, bundled by the shop's bundler).
          const worker = await openShop(
            context,
            `${shop}/?engine=worker&backend=webgpu&item=${encodeURIComponent(items[1])}`,
          );
          expect(await worker.evaluate(() => document.body.dataset.backend)).toBe('webgpu');
          expect(await shown(worker)).toHaveLength(4);

          // Offline after the first visit: the service worker has the page, IndexedDB the model.
          await context.setOffline(true);
          const offline = await openShop(context, `${shop}/?backend=webgpu&item=${encodeURIComponent(items[2])}`);
          expect(await shown(offline)).toHaveLength(4);
          await context.setOffline(false);
        } catch (err) {
          throw new Error(`${(err as Error).message}\nlog:\n${log.join('').slice(-6000)}`);
        } finally {
          await context.close();
          await stop(server);
        }
      },
    );
  }
});
