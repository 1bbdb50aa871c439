// `vireo refresh --keep N` (refresh/prune.ts) against a real Node edge on loopback: small fake
// versions published through the HTTP API stand in for the bundles a refresh publishes.
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeBundle } from '@vireo/edge-worker/testing';
import { describe, expect, it } from 'vitest';
import { loopbackEdge } from '../../test/edge.ts';
import { UsageError } from '../cli/args.ts';
import { parseRefreshFlags } from '../commands/refresh.ts';
import { pruneLine, pruneVersions } from './prune.ts';
import { nextVersion } from './run.ts';

describe('pruneVersions', () => {
  const ctx = loopbackEdge('prune', 'models:publish features:read');

  const api = (path: string, method = 'GET', body?: Uint8Array) =>
    fetch(`${ctx.edge.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ctx.token}` },
      body: body as Uint8Array<ArrayBuffer> | undefined,
    });
  /** Publishes versions 1..n of `model` (manifest and file, as a refresh does), one after the other. */
  async function publishVersions(model: string, n: number) {
    for (let v = 1; v <= n; v++) {
      const bundle = await makeBundle(model, String(v));
      expect((await api(`/v1/models/${model}/${v}/manifest.json`, 'PUT', bundle.manifest)).status).toBe(201);
      for (const [file, bytes] of Object.entries(bundle.files))
        expect((await api(`/v1/models/${model}/${v}/${file}`, 'PUT', bytes)).status).toBe(201);
      // Creation times order the listing: one version per millisecond at least.
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  const promote = async (model: string, v: string) =>
    expect((await api(`/v1/models/${model}/${v}/promote`, 'POST')).status).toBe(200);
  const versionsOf = async (model: string) =>
    ((await (await api(`/v1/models/${model}`)).json()) as { versions: Array<{ version: string }> }).versions.map(
      (v) => v.version,
    );

  it("the refresh's next version follows every page of the listing, past the first", async () => {
    await publishVersions('numbered', 3);
    // Pages of two versions: the listing of versions 1..3 takes two of them.
    const paged: typeof fetch = (url, init) => {
      const u = new URL(String(url));
      if (/^\/v1\/models\/[^/]+$/.test(u.pathname)) u.searchParams.set('limit', '2');
      return fetch(u, init);
    };
    const o = { edge: ctx.edge.url, token: ctx.token, model: 'numbered', fetch: paged };
    expect(await nextVersion(o)).toBe('4');
  });

  it('the next version goes past a deleted newest one (a deleted version cannot be published again)', async () => {
    await publishVersions('trimmed', 3);
    const o = { edge: ctx.edge.url, token: ctx.token, model: 'trimmed' };
    expect((await api('/v1/models/trimmed/3', 'DELETE')).status).toBe(200);
    // Before: 3 again, which the edge refuses (409 version_deleted), so every later refresh failed the same way.
    expect(await nextVersion(o)).toBe('4');
    const bundle = await makeBundle('trimmed', '3');
    expect((await api('/v1/models/trimmed/3/manifest.json', 'PUT', bundle.manifest)).status).toBe(409);
    expect((await api('/v1/models/trimmed/2', 'DELETE')).status).toBe(200);
    expect(await nextVersion(o)).toBe('4');
  });

  it('deletes the versions beyond the newest N, never the promoted one nor the rollback target', async () => {
    await publishVersions('ranker', 8);
    await promote('ranker', '2');
    await promote('ranker', '3');
    // The refresh's own copies in its state folder: the deleted versions' go, the kept ones' stay.
    const state = join(ctx.root, 'state');
    for (const v of ['1', '3', '6'])
      for (const f of ['bundles', 'models']) mkdirSync(join(state, f, v), { recursive: true });
    const r = await pruneVersions({ edge: ctx.edge.url, token: ctx.token, model: 'ranker', keep: 3, stateDir: state });
    expect(r.deleted.map((d) => d.version)).toEqual(['1', '4', '5']);
    expect(readdirSync(join(state, 'bundles'))).toEqual(['3', '6']);
    expect(readdirSync(join(state, 'models'))).toEqual(['3', '6']);
    expect(r.kept).toEqual(['2', '3']);
    expect(r.versions).toBe(8);
    for (const d of r.deleted) expect(d.files).toBe(2);
    expect(r.bytes).toBe(r.deleted.reduce((n, d) => n + d.bytes, 0));
    expect(await versionsOf('ranker')).toEqual(['2', '3', '6', '7', '8']);
    expect((await api('/v1/models/ranker/1/ranking.safetensors')).status).toBe(404);
    expect((await api('/v1/models/ranker/6/ranking.safetensors')).status).toBe(200);
    expect((await api('/v1/models/ranker/latest')).headers.get('vireo-model-version')).toBe('3');
    expect(pruneLine('ranker', r)).toMatch(/^pruned ranker: deleted 3 old versions \(1, 4, 5; [\d.]+ kB\); /);
    expect(pruneLine('ranker', r)).toMatch(
      /; kept the newest 3 of 8, and the older 2, 3 \(promoted or rollback target\)$/,
    );
    // Again: nothing more to delete, and no line.
    const again = await pruneVersions({ edge: ctx.edge.url, token: ctx.token, model: 'ranker', keep: 3 });
    expect(again).toMatchObject({ versions: 5, deleted: [], kept: ['2', '3'] });
    expect(pruneLine('ranker', again)).toBeNull();
    // --keep 0 deletes nothing; a model the edge does not have has nothing to prune.
    expect((await pruneVersions({ edge: ctx.edge.url, token: ctx.token, model: 'ranker', keep: 0 })).deleted).toEqual(
      [],
    );
    expect(await pruneVersions({ edge: ctx.edge.url, token: ctx.token, model: 'nothing', keep: 1 })).toMatchObject({
      versions: 0,
      deleted: [],
    });
  });

  it("counts the edge's 409 (promoted since the listing) as kept, and goes on with the others", async () => {
    await publishVersions('racer', 5);
    await promote('racer', '5');
    // Version 1 is promoted between the listing and its DELETE: the edge refuses it.
    const racing: typeof fetch = async (url, init) => {
      if (init?.method === 'DELETE' && String(url).endsWith('/v1/models/racer/1')) await promote('racer', '1');
      return fetch(url, init);
    };
    const r = await pruneVersions({ edge: ctx.edge.url, token: ctx.token, model: 'racer', keep: 2, fetch: racing });
    expect(r.kept).toEqual(['1']);
    expect(r.deleted.map((d) => d.version)).toEqual(['2', '3']);
    expect(await versionsOf('racer')).toEqual(['1', '4', '5']);
  });

  it("reads every page of the edge's version list before it decides", async () => {
    await publishVersions('paged', 7);
    await promote('paged', '1');
    // Pages of 2 versions instead of 1,000: the newest N are counted over all of them.
    const pages: string[] = [];
    const small: typeof fetch = async (url, init) => {
      const u = String(url).replace('limit=1000', 'limit=2');
      if (!init?.method || init.method === 'GET') pages.push(new URL(u).search);
      return fetch(u, init);
    };
    const r = await pruneVersions({ edge: ctx.edge.url, token: ctx.token, model: 'paged', keep: 2, fetch: small });
    expect(pages.length).toBe(4);
    expect(r).toMatchObject({ versions: 7, kept: ['1'] });
    expect(r.deleted.map((d) => d.version)).toEqual(['2', '3', '4', '5']);
    expect(await versionsOf('paged')).toEqual(['1', '6', '7']);
  });

  it('protects what the edge says is promoted and rolled back to, however long the promotion history', async () => {
    await publishVersions('long', 6);
    await promote('long', '1');
    await promote('long', '2');
    // 20 more entries: the listing shows the newest 20 alone, whose replay would find nothing promoted.
    for (let i = 0; i < 10; i++) {
      await promote('long', '3');
      expect((await api('/v1/models/long/rollback', 'POST')).status).toBe(200);
    }
    // The DELETEs the prune sends: the edge refuses the promoted version and the rollback target with a 409, which
    // the prune counts as kept, so only the requests show whether the prune knew them itself.
    const deletes: string[] = [];
    const watched: typeof fetch = async (url, init) => {
      if (init?.method === 'DELETE') deletes.push(String(url).split('/').at(-1)!);
      return fetch(url, init);
    };
    const r = await pruneVersions({ edge: ctx.edge.url, token: ctx.token, model: 'long', keep: 1, fetch: watched });
    expect(r.kept).toEqual(['1', '2']);
    expect(r.deleted.map((d) => d.version)).toEqual(['3', '4', '5']);
    expect(deletes).toEqual(['3', '4', '5']);
    // An older edge (no `rollbackTo`, the whole history in every listing): its history is replayed.
    await publishVersions('older', 4);
    for (const v of ['2', '1']) await promote('older', v);
    deletes.length = 0;
    const whole: typeof fetch = async (url, init) => {
      const res = await watched(url, init);
      if (init?.method === 'DELETE' || !String(url).includes('/v1/models/older?')) return res;
      const { rollbackTo: _, promoted: __, ...listing } = (await res.json()) as Record<string, unknown>;
      return new Response(JSON.stringify(listing), { status: res.status });
    };
    const old = await pruneVersions({ edge: ctx.edge.url, token: ctx.token, model: 'older', keep: 1, fetch: whole });
    expect(old.kept).toEqual(['1', '2']);
    expect(old.deleted.map((d) => d.version)).toEqual(['3']);
    expect(deletes).toEqual(['3']);
  });

  it('says so when the edge does not delete versions (an older edge), or refuses the token', async () => {
    await publishVersions('old', 3);
    const older: typeof fetch = async (url, init) =>
      init?.method === 'DELETE'
        ? new Response(JSON.stringify({ error: { code: 'not_found', message: 'No route.', details: null } }), {
            status: 404,
          })
        : fetch(url, init);
    await expect(
      pruneVersions({ edge: ctx.edge.url, token: ctx.token, model: 'old', keep: 1, fetch: older }),
    ).rejects.toThrow(/does not delete model versions .*--keep 0/);
    const reader = await ctx.sign('x', 'features:read');
    const refused = pruneVersions({ edge: ctx.edge.url, token: reader, model: 'old', keep: 1 });
    await expect(refused).rejects.toBeInstanceOf(UsageError);
    await expect(refused).rejects.toThrow(/403 to DELETE \/v1\/models\/old\/1/);
    expect(await versionsOf('old')).toEqual(['1', '2', '3']);
  });
});

describe('vireo refresh --keep', () => {
  const base = ['--edge', 'http://127.0.0.1:1', '--token', 't', '--state', 's', '--data', 'd'];
  it('keeps 20 versions by default; 0 turns pruning off; anything else is refused in one sentence', () => {
    expect(parseRefreshFlags(base).keep).toBe(20);
    expect(parseRefreshFlags([...base, '--keep', '0']).keep).toBe(0);
    expect(parseRefreshFlags([...base, '--keep', '5']).keep).toBe(5);
    for (const bad of ['--keep=-1', '--keep=2.5', '--keep=all'])
      expect(() => parseRefreshFlags([...base, bad])).toThrow(/^--keep must be an integer in \[0, /);
  });
});
