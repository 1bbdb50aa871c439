// `vireo refresh --keep N`: every refresh publishes a complete bundle, promoted or not, so without
// pruning a model's versions on the edge (and its storage) grow without bound. After each refresh the
// oldest versions beyond the newest N are deleted (DELETE /v1/models/:name/:version), never the
// promoted one nor the one a rollback would return to: they are skipped here, and the edge refuses
// them with 409 anyway (a promotion meanwhile): a 409 counts as kept, not as an error.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promotedStack } from '@vireo/edge-worker';
import { UsageError } from '../cli/args.ts';

export interface PruneOptions {
  edge: string;
  token: string;
  model: string;
  /** Versions kept, the newest by creation; 0 turns pruning off. */
  keep: number;
  /** The refresh's state folder: a deleted version's bundle and champion copies there (bundles/V, models/V) go too. */
  stateDir?: string;
  fetch?: typeof fetch;
}

/** What one prune did: `vireo refresh --json` prints it as `pruned`. */
export interface PruneResult {
  /** The model's versions before. */
  versions: number;
  keep: number;
  /** Deleted, oldest first, with the files and bytes the edge removed. */
  deleted: Array<{ version: string; files: number; bytes: number }>;
  /** Older than the newest `keep` but kept: the promoted version, the rollback target, or refused by the edge. */
  kept: string[];
  /** Bytes freed in all. */
  bytes: number;
}

/**
 * A page of `GET /v1/models/{name}` (an edge without paging answers every version and no `next`; one without
 * `rollbackTo` answers the whole promotion history instead).
 */
type ModelListing = {
  versions: Array<{ version: string }>;
  next?: string | null;
  promoted?: string | null;
  rollbackTo?: string | null;
  history: Array<{ action: 'promote' | 'rollback'; version: string }>;
};

/**
 * Deletes the model's versions older than its newest `keep`, except the promoted one and the rollback target.
 * @example const r = await pruneVersions({ edge, token, model: 'vireo', keep: 20 }); // r.deleted
 */
export async function pruneVersions(o: PruneOptions): Promise<PruneResult> {
  const f = o.fetch ?? fetch;
  const call = async (path: string, method = 'GET') => {
    try {
      return await f(`${o.edge}${path}`, { method, headers: { authorization: `Bearer ${o.token}` } });
    } catch (err) {
      throw new UsageError(`cannot reach the edge at ${o.edge} (${(err as Error).message}): is it running?`, 1);
    }
  };
  const refused = async (res: Response, method: string, path: string) => {
    const text = await res.text();
    let message = text.slice(0, 300);
    let code = '';
    try {
      ({ message, code } = (JSON.parse(text) as { error: { message: string; code: string } }).error);
    } catch {}
    return { message: `the edge answered ${res.status} to ${method} ${path}: ${message}`, code };
  };
  const result: PruneResult = { versions: 0, keep: o.keep, deleted: [], kept: [], bytes: 0 };
  if (o.keep <= 0) return result;
  // Every version, page after page (the edge lists them oldest first, in the order they were created).
  const versions: string[] = [];
  let last: ModelListing | null = null;
  for (let after: string | null | undefined = '0'; after; ) {
    const path = `/v1/models/${o.model}?limit=1000&after=${after}`;
    const listed = await call(path);
    if (listed.status === 404) return result;
    if (listed.status !== 200) throw new UsageError((await refused(listed, 'GET', path)).message, 1);
    const page = (await listed.json()) as ModelListing;
    for (const v of page.versions) versions.push(v.version);
    last = page;
    after = page.next;
  }
  result.versions = versions.length;
  // The promoted version and the one a rollback returns to, as the edge says them (an older edge: by replaying the
  // whole history it answers, as that edge does).
  const protect = new Set(
    last && last.rollbackTo !== undefined
      ? [last.promoted, last.rollbackTo].filter((v): v is string => typeof v === 'string')
      : promotedStack(last?.history ?? []).slice(-2),
  );
  for (const version of versions.slice(0, Math.max(0, versions.length - o.keep))) {
    if (protect.has(version)) {
      result.kept.push(version);
      continue;
    }
    const path = `/v1/models/${o.model}/${encodeURIComponent(version)}`;
    const res = await call(path, 'DELETE');
    if (res.status === 200) {
      const { files, bytes } = (await res.json()) as { files: number; bytes: number };
      result.deleted.push({ version, files, bytes });
      result.bytes += bytes;
      // The refresh's own copies of it, so that the state folder does not grow without bound either.
      for (const folder of ['bundles', 'models']) {
        const local = o.stateDir && join(o.stateDir, folder, version);
        if (local && existsSync(local)) rmSync(local, { recursive: true, force: true });
      }
    } else if (res.status === 409) {
      // Promoted, or become the rollback target, since the listing.
      await res.body?.cancel();
      result.kept.push(version);
    } else {
      const why = await refused(res, 'DELETE', path);
      // Deleted by someone else since the listing.
      if (why.code === 'version_not_found' || why.code === 'model_not_found') continue;
      if (res.status === 404 || res.status === 405)
        throw new UsageError(
          `the edge at ${o.edge} does not delete model versions (${why.message}): update it, or refresh with --keep 0.`,
          1,
        );
      throw new UsageError(why.message, 1);
    }
  }
  return result;
}

const mb = (bytes: number) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`);

/** Versions as a short list: all of up to 6, else the first three … the last. */
const short = (versions: string[]) =>
  versions.length <= 6
    ? versions.join(', ')
    : `${versions.slice(0, 3).join(', ')} … ${versions.at(-1)} (${versions.length})`;

/** One line saying what a prune deleted; null when it deleted nothing. */
export function pruneLine(model: string, r: PruneResult): string | null {
  if (r.deleted.length === 0) return null;
  const n = r.deleted.length;
  const kept = r.kept.length > 0 ? `, and the older ${short(r.kept)} (promoted or rollback target)` : '';
  return (
    `pruned ${model}: deleted ${n} old version${n === 1 ? '' : 's'} (${short(r.deleted.map((d) => d.version))}; ` +
    `${mb(r.bytes)}); kept the newest ${Math.min(r.keep, r.versions)} of ${r.versions}${kept}`
  );
}
