// A real Node edge on loopback for one describe block: a temporary data folder, and tokens signed
// with its secret. The refresh's tests (pull, prune) talk to it over HTTP as `vireo refresh` does.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signHs256 } from '@vireo/edge-worker';
import { type RunningServer, startNodeServer } from '@vireo/edge-worker/node';
import { afterAll, beforeAll } from 'vitest';

export interface LoopbackEdge {
  /** The running edge (set in beforeAll). */
  edge: RunningServer;
  /** A temporary folder; the edge's data is in `root/edge`. */
  root: string;
  /** A token for `trainer` with the scopes given. */
  token: string;
  /** A token for `sub` with `scope`, valid for 10 minutes. */
  sign(sub: string, scope: string): Promise<string>;
}

/** Starts an edge before the block's tests and removes it after; `scope` is the scopes of `token`. */
export function loopbackEdge(name: string, scope: string): LoopbackEdge {
  const secret = `${name}-test-secret-0123456789-abcdefghij`;
  const ctx: LoopbackEdge = {
    edge: undefined as unknown as RunningServer,
    root: '',
    token: '',
    sign: (sub, s) => signHs256({ sub, scope: s, exp: Math.floor(Date.now() / 1000) + 600 }, secret),
  };
  beforeAll(async () => {
    ctx.root = mkdtempSync(join(tmpdir(), `vireo-${name}-`));
    ctx.edge = await startNodeServer({
      port: 0,
      dataDir: join(ctx.root, 'edge'),
      log: null,
      env: { VIREO_JWT_SECRET: secret },
    });
    ctx.token = await ctx.sign('trainer', scope);
  });
  afterAll(async () => {
    await ctx.edge.close();
    rmSync(ctx.root, { recursive: true, force: true });
  });
  return ctx;
}
