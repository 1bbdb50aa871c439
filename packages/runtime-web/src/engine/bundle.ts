// Bundles on the device: fetch the manifest (the edge's `/v1/models/:name/latest` or a static
// folder URL), download each listed file with progress, verify its size and sha256, and keep the
// verified files in the engine store keyed by version, so that a reload starts offline. A bundle
// that fails verification is refused (BundleIntegrityError, nothing cached); the caller keeps
// serving its last good version.
import { BundleIntegrityError, parseBundleManifest, verifyBundleFile, type BundleManifest } from '@vireo/core';
import { EdgeError, fetchOrThrow } from './errors.ts';
import { currentKey, fileKey, manifestKey, type EngineStore } from './store.ts';

/** Where a model comes from. */
export interface ModelSource {
  /**
   * A folder URL holding manifest.json and the files (`https://cdn/x/models/shop/7/`), or, with
   * `edge`, the model's name in the edge registry.
   */
  model: string;
  /** Edge base URL (`http://localhost:8787`): the manifest is `/v1/models/:name/latest`. */
  edge?: string;
  token?: string;
  fetch?: typeof fetch;
  /**
   * Milliseconds to wait for each answer (its headers) before an EdgeError `timeout`: an edge that
   * accepts connections and never answers cannot hold a start. Default none.
   */
  timeoutMs?: number;
}

/** Download progress of one bundle. */
export interface BundleProgress {
  version: string;
  file: string;
  loaded: number;
  total: number;
  /** Bytes of all files loaded so far / in all. */
  bundleLoaded: number;
  bundleTotal: number;
  fromCache: boolean;
}

/** A verified bundle: its manifest and every file's bytes. */
export interface LoadedBundle {
  manifest: BundleManifest;
  files: Map<string, Uint8Array>;
  fromCache: boolean;
  /** Set when the verified files could not be stored (quota): the bundle serves, uncached. */
  cacheError?: Error;
}

/** The model's name and whether `model` is a registry name (edge) or a folder URL. */
function isRegistry(src: ModelSource): boolean {
  return src.edge !== undefined && !/^[a-z]+:\/\//i.test(src.model) && !src.model.startsWith('/');
}

function headers(src: ModelSource): Record<string, string> {
  return src.token ? { authorization: `Bearer ${src.token}` } : {};
}

/** The URL of a bundle file. */
export function fileUrl(src: ModelSource, manifest: Pick<BundleManifest, 'name' | 'version'>, file: string): string {
  if (isRegistry(src)) {
    const edge = src.edge!.replace(/\/$/, '');
    return `${edge}/v1/models/${encodeURIComponent(manifest.name)}/${encodeURIComponent(manifest.version)}/${file}`;
  }
  return new URL(file, src.model.endsWith('/') ? src.model : src.model + '/').toString();
}

/** Fetches and validates the current manifest. Throws an EdgeError on a network or HTTP failure or a timeout. */
export async function fetchManifest(src: ModelSource): Promise<BundleManifest> {
  const url = isRegistry(src)
    ? `${src.edge!.replace(/\/$/, '')}/v1/models/${encodeURIComponent(src.model)}/latest`
    : new URL('manifest.json', src.model.endsWith('/') ? src.model : src.model + '/').toString();
  const res = await fetchOrThrow(
    src.fetch ?? fetch,
    url,
    { headers: headers(src), cache: 'no-cache' },
    `Fetching the manifest ${url}`,
    src.timeoutMs,
  );
  return parseBundleManifest(await res.text());
}

async function readBody(res: Response, onChunk: (loaded: number) => void): Promise<Uint8Array> {
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    onChunk(bytes.byteLength);
    return bytes;
  }
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.byteLength;
    onChunk(loaded);
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Downloads (or reads from the store) every file of `manifest`, verifies each, and caches the
 * verified files. Throws BundleIntegrityError naming the first bad file (a damaged cached copy
 * too, when it cannot be downloaded again); nothing is cached then. A failed download is an EdgeError.
 */
export async function loadBundle(
  src: ModelSource,
  manifest: BundleManifest,
  store: EngineStore,
  onProgress?: (p: BundleProgress) => void,
): Promise<LoadedBundle> {
  const f = src.fetch ?? fetch;
  const files = new Map<string, Uint8Array>();
  const bundleTotal = manifest.files.reduce((s, x) => s + x.bytes, 0);
  let done = 0;
  let fromCache = true;
  const fresh: [string, Uint8Array][] = [];
  for (const entry of manifest.files) {
    const key = fileKey(manifest.name, manifest.version, entry.name);
    let bytes = await store.getFile(key);
    let cached = bytes !== undefined;
    let damaged: Error | null = null;
    if (cached) {
      try {
        await verifyBundleFile(manifest, entry.name, bytes!);
      } catch (err) {
        cached = false; // a damaged cache entry: fetch again
        damaged = err as Error;
      }
    }
    if (!cached) {
      fromCache = false;
      const url = fileUrl(src, manifest, entry.name);
      let res: Response;
      try {
        res = await fetchOrThrow(f, url, { headers: headers(src) }, `Downloading ${url}`, src.timeoutMs);
      } catch (err) {
        if (!damaged || !(err instanceof EdgeError)) throw err;
        throw new BundleIntegrityError(
          `${damaged.message.replace(/\.$/, '')} (the copy cached on this device), and downloading it again ` +
            `failed: ${err.message}`,
          entry.name,
        );
      }
      bytes = await readBody(res, (loaded) =>
        onProgress?.({
          version: manifest.version,
          file: entry.name,
          loaded,
          total: entry.bytes,
          bundleLoaded: done + loaded,
          bundleTotal,
          fromCache: false,
        }),
      );
      await verifyBundleFile(manifest, entry.name, bytes);
      fresh.push([key, bytes]);
    } else {
      onProgress?.({
        version: manifest.version,
        file: entry.name,
        loaded: entry.bytes,
        total: entry.bytes,
        bundleLoaded: done + entry.bytes,
        bundleTotal,
        fromCache: true,
      });
    }
    files.set(entry.name, bytes!);
    done += entry.bytes;
  }
  // Caching is best effort: a bundle over the origin's storage quota still serves (the next
  // start downloads it again), and without its files the version is not offered offline.
  let cacheError: Error | undefined;
  if (fresh.length > 0) {
    try {
      await store.putFiles(fresh);
    } catch (err) {
      await store.deleteFiles(fileKey(manifest.name, manifest.version, '')).catch(() => {});
      cacheError = new Error(
        `${manifest.name}@${manifest.version} serves but could not be cached on this device ` +
          `(${(err as Error).message || (err as Error).name}); the next start downloads it again.`,
      );
    }
  }
  if (!cacheError) await store.putMeta(manifestKey(src.model, manifest.version), manifest);
  return { manifest, files, fromCache, ...(cacheError ? { cacheError } : {}) };
}

/** Records `manifest` as the last good version of the source `source` (ModelSource.model) (after it loaded and
 * answered). */
export async function markGood(store: EngineStore, source: string, manifest: BundleManifest): Promise<void> {
  const old = await store.getMeta<string>(currentKey(source));
  await store.putMeta(currentKey(source), manifest.version);
  // Keep the previous version's files too (an experiment may still use it); drop older ones.
  const prev = await store.getMeta<string>(`previous:${source}`);
  if (old && old !== manifest.version) {
    await store.putMeta(`previous:${source}`, old);
    if (prev && prev !== old && prev !== manifest.version) await store.deleteFiles(fileKey(manifest.name, prev, ''));
  }
}

/** The cached manifest of the model's last good version, if any. */
export async function cachedManifest(store: EngineStore, source: string): Promise<BundleManifest | undefined> {
  const version = await store.getMeta<string>(currentKey(source));
  if (!version) return undefined;
  return store.getMeta<BundleManifest>(manifestKey(source, version));
}

export { BundleIntegrityError };
