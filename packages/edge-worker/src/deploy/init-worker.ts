// `vireo-edge init-worker`: a wrangler.toml for a project that installed @vireo/edge-worker, so the team deploys
// the edge to its Cloudflare account from the package (docs/deploy-cloudflare.md) instead of a Vireo checkout.
// The file is the package's own wrangler.toml (the bindings the Worker expects) with `main` and `migrations_dir`
// pointing into the installed package and the Worker's name set. This module sits two folders below the package
// root, as dist/node/cli.js does once built, so the package's files resolve the same way from both.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Thrown for the user's mistakes: one sentence. */
export class InitWorkerError extends Error {}

/** The package's root folder: the one holding wrangler.toml and migrations/. */
export const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The Worker entry a deployment uses: the built one of the installed package; in a Vireo checkout (this module
 * run from its source) the source, which wrangler bundles itself, never a dist/ left from an older build.
 */
export function workerEntry(packageDir = PACKAGE_DIR, fromSource = import.meta.url.endsWith('.ts')): string {
  const built = resolve(packageDir, 'dist/worker/worker.js');
  const source = resolve(packageDir, 'src/worker.ts');
  for (const entry of fromSource ? [source, built] : [built, source]) if (existsSync(entry)) return entry;
  throw new InitWorkerError(
    `${packageDir} has neither dist/worker/worker.js nor src/worker.ts: reinstall @vireo/edge-worker.`,
  );
}

/** wrangler.toml paths are relative to the file and use forward slashes. */
const tomlPath = (from: string, to: string) => relative(from, to).split(sep).join('/');

/**
 * The wrangler.toml text for a project whose configuration lives in `outDir`: the package's bindings, `main` and
 * `migrations_dir` relative to `outDir`, and the Worker named `name`.
 * @example writeFileSync('wrangler.toml', workerConfig({ outDir: process.cwd(), name: 'shop-edge' }));
 */
export function workerConfig(opts: { outDir: string; name: string; packageDir?: string; entry?: string }): string {
  const packageDir = opts.packageDir ?? PACKAGE_DIR;
  const template = readFileSync(resolve(packageDir, 'wrangler.toml'), 'utf8');
  // The template's opening comments are about the repository; the bindings' own comments stay.
  const body = template.slice(template.search(/^name\s*=/m));
  const set = (text: string, key: string, value: string) => {
    const line = new RegExp(`^${key}\\s*=.*$`, 'm');
    if (!line.test(text)) throw new Error(`the package's wrangler.toml has no '${key} =' line`);
    return text.replace(line, `${key} = ${JSON.stringify(value)}`);
  };
  let text = set(body, 'name', opts.name);
  text = set(text, 'main', tomlPath(opts.outDir, opts.entry ?? workerEntry(packageDir)));
  text = set(text, 'migrations_dir', tomlPath(opts.outDir, resolve(packageDir, 'migrations')));
  return (
    '# The Vireo edge on Cloudflare Workers, written by `vireo-edge init-worker` (@vireo/edge-worker).\n' +
    '# Replace the placeholder ids with those `wrangler d1 create`, `wrangler kv namespace create` print,\n' +
    '# then: wrangler d1 migrations apply <database_name> --remote; wrangler secret put VIREO_JWT_SECRET;\n' +
    '# wrangler deploy. Locally: wrangler d1 migrations apply <database_name> --local; wrangler dev.\n' +
    text
  );
}

/**
 * Writes `out` (wrangler.toml by default) unless it exists and `force` is not set; returns what to print.
 * @example initWorker({ out: 'wrangler.toml', name: 'vireo-edge', force: false });
 */
export function initWorker(opts: { out: string; name: string; force: boolean }): string {
  const out = resolve(opts.out);
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(opts.name))
    throw new InitWorkerError(
      `--name must be a Worker name: lower-case letters, digits and dashes, at most 63, got '${opts.name}'.`,
    );
  if (!existsSync(dirname(out)))
    throw new InitWorkerError(`--out ${opts.out}: the folder ${dirname(out)} does not exist.`);
  const entry = workerEntry();
  try {
    // 'wx' fails if the file exists, in the same call that creates it (no check-then-write race).
    writeFileSync(out, workerConfig({ outDir: dirname(out), name: opts.name, entry }), {
      flag: opts.force ? 'w' : 'wx',
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new InitWorkerError(`${opts.out} exists: pass --force to replace it, or --out another file.`);
    throw err;
  }
  return (
    `wrote ${opts.out}: the Worker ${opts.name} from ${tomlPath(dirname(out), entry)}.\n` +
    'next: wrangler d1 create vireo-edge; wrangler kv namespace create FEATURE_CACHE; ' +
    'wrangler r2 bucket create vireo-models;\n' +
    `      put the printed ids in ${opts.out}; wrangler d1 migrations apply vireo-edge --remote;\n` +
    '      wrangler secret put VIREO_JWT_SECRET; wrangler deploy   (docs/deploy-cloudflare.md)\n'
  );
}
