// The scratch project of shop-e2e (vitest.e2e.config.ts's globalSetup), made once for both test files:
// the shop copied out of the repository, scripts/pack.mjs's tarballs in its vendor/, and one `npm install`
// of the shop's dependencies plus the `vireo` CLI (@vireo/trainer), as a web team adds the CLI to train
// its models. shop.e2e.test.ts builds and drives the shop there, cli.e2e.test.ts runs the installed CLI;
// one install serves both, since npm compiles better-sqlite3 (the edge's) from source in about a minute.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The temporary folder holding the scratch shop (deleted after the run). */
    shopWork: string;
    /** The scratch shop: WORK/shop, its tarballs in vendor/ and installed in node_modules/. */
    shopApp: string;
  }
}

const SHOP = fileURLToPath(new URL('..', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SHOP_FILES = ['package.json', 'index.html', 'vite.config.js', 'build-esbuild.mjs', 'server.mjs', 'tsconfig.json'];

/** The environment of npm and the installed commands: no funding or audit chatter, Node's headers found. */
export function npmEnv(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' };
  if (!e.npm_config_nodedir && existsSync('/usr/include/node/node.h')) e.npm_config_nodedir = '/usr';
  return e;
}

/** Runs a command to completion and returns its stdout; a failure throws with the command's output. */
export function run(cmd: string, args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(cmd, args, {
      cwd,
      env: { ...npmEnv(), ...extra },
      stdio: 'pipe',
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? e.message}`);
  }
}

export default function setup(project: TestProject): () => void {
  const work = mkdtempSync(join(tmpdir(), 'vireo-shop-'));
  const app = join(work, 'shop');
  mkdirSync(app);
  for (const f of SHOP_FILES) cpSync(join(SHOP, f), join(app, f));
  for (const d of ['src', 'public']) cpSync(join(SHOP, d), join(app, d), { recursive: true });
  run(process.execPath, [join(ROOT, 'scripts/pack.mjs'), join(app, 'vendor')], ROOT);
  const cli = readdirSync(join(app, 'vendor')).find((f) => f.startsWith('vireo-trainer-'));
  if (!cli) throw new Error(`scripts/pack.mjs packed no vireo-trainer tarball into ${join(app, 'vendor')}`);
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--save-dev', `./vendor/${cli}`], app);
  project.provide('shopWork', work);
  project.provide('shopApp', app);
  return () => rmSync(work, { recursive: true, force: true });
}
