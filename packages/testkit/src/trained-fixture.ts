// Test fixture (Node only, not part of the library build): a bundle made by the trainer on a
// small synthetic world, through the same commands a user runs:
//   vireo ingest --source synthetic (20 users, 40 items, 800 impressions, 4 categories)
//   vireo train retrieval (2 epochs) → vireo train ranking (1 epoch)
// about 20 s on 2 cores through SwiftShader. The bundle is cached under
// node_modules/.cache/vireo-trained-fixture/<hash>, the hash taken over the sources that decide
// what the trainer writes (trainer, model, core, shaders), so a change to the retrieval or
// ranking model retrains it on the next run and an unchanged tree reuses it.
// `node --import ./packages/trainer/bin/register.mjs packages/testkit/src/trained-fixture.ts`
// (re)makes it by hand and prints where it is.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBundleManifest, type BundleManifest } from '@vireo/core';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const VIREO = join(ROOT, 'packages/trainer/bin/vireo.mjs');
export const TRAINED_WORLD = { users: 20, items: 40, events: 800, categories: 4, epochs: 2, rankingEpochs: 1, seed: 1 };
const SOURCES = [
  'packages/trainer/src',
  'packages/trainer/bin',
  'packages/models/src',
  'packages/core/src',
  'packages/kernels/src',
];

export interface TrainedBundle {
  dir: string;
  manifest: BundleManifest;
  files: Map<string, Uint8Array>;
}

function sourceHash(): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(TRAINED_WORLD));
  const walk = (d: string): string[] =>
    readdirSync(d)
      .sort()
      .flatMap((n) => {
        const p = join(d, n);
        return statSync(p).isDirectory()
          ? walk(p)
          : /\.(ts|mjs|wgsl|json)$/.test(n) && !/\.test\.ts$/.test(n)
            ? [p]
            : [];
      });
  for (const s of SOURCES) for (const p of walk(join(ROOT, s))) h.update(p.slice(ROOT.length)).update(readFileSync(p));
  return h.digest('hex').slice(0, 16);
}

function vireo(args: string[], log: string[]): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [VIREO, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (b: Buffer) => log.push(b.toString()));
    child.stderr.on('data', (b: Buffer) => log.push(b.toString()));
    child.once('error', fail);
    child.once('exit', (code) =>
      code === 0
        ? ok()
        : fail(
            new Error(
              `trained fixture: \`vireo ` +
                `${args.slice(0, 2).join(' ')}\` exited with ${code}:\n${log.join('').slice(-2000)}`,
            ),
          ),
    );
  });
}

/** Reads a bundle folder (manifest.json + the files it lists). */
export function readBundleDir(dir: string): TrainedBundle {
  const manifest = parseBundleManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
  const files = new Map(manifest.files.map((f) => [f.name, new Uint8Array(readFileSync(join(dir, f.name)))] as const));
  return { dir, manifest, files };
}

/** The trainer-made bundle, trained now unless the cache holds one for these sources. */
export async function trainedFixtureBundle(opts: { log?: (m: string) => void } = {}): Promise<TrainedBundle> {
  const cacheRoot = join(ROOT, 'node_modules/.cache/vireo-trained-fixture');
  const dir = join(cacheRoot, sourceHash());
  if (existsSync(join(dir, 'manifest.json'))) return readBundleDir(dir);
  const work = `${dir}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const w = TRAINED_WORLD;
  const t0 = performance.now();
  const log: string[] = [];
  opts.log?.(
    `training the fixture bundle (synthetic world: ${w.users} users, ${w.items} items, ${w.events} impressions)…`,
  );
  await vireo(
    [
      'ingest',
      '--source',
      'synthetic',
      '--out',
      join(work, 'data'),
      '--users',
      String(w.users),
      '--items',
      String(w.items),
      '--events',
      String(w.events),
      '--categories',
      String(w.categories),
      '--seed',
      String(w.seed),
    ],
    log,
  );
  const out = join(work, 'bundle');
  await vireo(
    [
      'train',
      'retrieval',
      '--data',
      join(work, 'data'),
      '--out',
      out,
      '--name',
      'fixture',
      '--version',
      '1',
      '--epochs',
      String(w.epochs),
      '--seed',
      String(w.seed),
      '--quiet',
    ],
    log,
  );
  await vireo(
    [
      'train',
      'ranking',
      '--data',
      join(work, 'data'),
      '--out',
      out,
      '--epochs',
      String(w.rankingEpochs),
      '--seed',
      String(w.seed),
      '--quiet',
    ],
    log,
  );
  rmSync(join(out, 'checkpoint'), { recursive: true, force: true });
  rmSync(join(out, 'checkpoint.safetensors'), { force: true });
  rmSync(dir, { recursive: true, force: true });
  renameSync(out, dir);
  rmSync(work, { recursive: true, force: true });
  opts.log?.(`trained the fixture bundle in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${dir}`);
  return readBundleDir(dir);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const b = await trainedFixtureBundle({ log: (m) => console.log(m) });
  console.log(
    `${b.manifest.name}@${b.manifest.version}: ` +
      `${b.manifest.vocabularies['item:id']?.length} items, files ${[...b.files.keys()].join(', ')} in ${b.dir}`,
  );
}
