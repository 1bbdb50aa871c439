// New items without retraining (docs/ARCHITECTURE.md, section 4, "Refresh"): the items pushed to
// the edge since the last look (GET /v1/features/export?entity=item) are kept in STATE/items.json,
// and those the promoted bundle does not hold yet get rows in an items-only bundle: their
// model-ready features from their pushed values (core's transforms, the bundle's spec and
// vocabularies), their embeddings from the promoted bundle's item tower (its weights unchanged;
// the item:id row of an id the tables never saw is the OOV row, what the parent's tables give it),
// appended to items.safetensors and to vocabularies["item:id"]. Every other file is the parent's,
// byte for byte, so the bundle stays complete; `vireo refresh` publishes and promotes it with
// lineage decision `items-only`. The next full retrain gives the new items rows of their own
// (refresh/dataset.ts fills their features from the same pushed values).
import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  buildLookups,
  describeFile,
  featureSource,
  featureView,
  FIRST_INDEX,
  parseBundleManifest,
  readSafetensors,
  transformValue,
  type BundleManifest,
  type RawValue,
  type Tensor,
  type TypedArray,
} from '@vireo/core';
import type { Gpu } from '@vireo/kernels';
import { ItemTower, itemFieldValues, RetrievalWeights } from '@vireo/models';
import { itemEmbeddings, itemsFile, readBundle } from '@vireo/models/training';
import { UsageError } from '../cli/args.ts';
import { refuseForeignCursor } from './pull.ts';

/** One item as the edge exports it (GET /v1/features/export): its pushed values by source name. */
export interface PushedItem {
  seq: number;
  id: string;
  features: Record<string, unknown>;
  /** Newest event time of its values, ms since the epoch. */
  event_ts: number;
  written_at: number;
}

/** STATE/items.json: the item cursor and every item pushed so far (its latest values). */
export interface ItemFeed {
  cursor: number;
  items: Record<string, PushedItem>;
}

/** What one pull of pushed items added: cursors `after` (exclusive) to `through` (inclusive). */
export interface ItemPull {
  after: string;
  through: string;
  count: number;
  /** Why nothing could be pulled (a token without features:export), or null. */
  refused: string | null;
}

export const itemFeedPath = (stateDir: string) => join(stateDir, 'items.json');

/**
 * Reads STATE/items.json (empty when absent).
 * @example const { items } = readItemFeed('.vireo/refresh');
 */
export function readItemFeed(stateDir: string): ItemFeed {
  const path = itemFeedPath(stateDir);
  if (!existsSync(path)) return { cursor: 0, items: {} };
  return JSON.parse(readFileSync(path, 'utf8')) as ItemFeed;
}

/** Replaces STATE/items.json whole (write, fsync, rename): the cursor and the items never disagree. */
function writeItemFeed(stateDir: string, feed: ItemFeed): void {
  const path = itemFeedPath(stateDir);
  const fd = openSync(`${path}.tmp`, 'w');
  try {
    writeSync(fd, JSON.stringify(feed));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(`${path}.tmp`, path);
}

/**
 * Pulls the items pushed since the feed's cursor, page by page; each page is kept (with the cursor
 * after it) before the next is asked for, and an item pushed again replaces its earlier values.
 * A token without `features:export` is not an error here: the refresh goes on without new items.
 * @example const pulled = await pullItems({ edge, token, stateDir: '.vireo/refresh' });
 */
export async function pullItems(o: {
  edge: string;
  token: string;
  stateDir: string;
  pageSize?: number;
  fetch?: typeof fetch;
}): Promise<ItemPull> {
  const fetchImpl = o.fetch ?? fetch;
  mkdirSync(o.stateDir, { recursive: true });
  const feed = readItemFeed(o.stateDir);
  const start = feed.cursor;
  let count = 0;
  for (;;) {
    const url = `${o.edge}/v1/features/export?entity=item&after=${feed.cursor}&limit=${o.pageSize ?? 1000}`;
    let res: Response;
    try {
      res = await fetchImpl(url, { headers: { authorization: `Bearer ${o.token}` } });
    } catch (err) {
      throw new UsageError(`cannot reach the edge at ${o.edge} (${(err as Error).message}): is it running?`, 1);
    }
    if (res.status === 401 || res.status === 403 || res.status === 404) {
      await res.body?.cancel();
      const refused =
        res.status === 404
          ? 'the edge has no GET /v1/features/export (an older edge): new items wait for the next full retrain'
          : `the edge refused the token (${res.status}) for GET /v1/features/export: new items need a token ` +
            'with the features:export scope';
      return { after: String(start), through: String(feed.cursor), count, refused };
    }
    await refuseForeignCursor(res, feed.cursor, 'feature');
    if (!res.ok) throw new UsageError(`the edge answered ${res.status} to ${url}: ${await res.text()}`, 1);
    const page = (await res.json()) as { rows: PushedItem[]; next: string };
    const fresh = page.rows.filter((r) => r.seq > feed.cursor);
    if (fresh.length === 0) break;
    for (const row of fresh) feed.items[row.id] = row;
    feed.cursor = fresh.at(-1)!.seq;
    count += fresh.length;
    writeItemFeed(o.stateDir, feed);
  }
  return { after: String(start), through: String(feed.cursor), count, refused: null };
}

/** The pushed items a bundle's catalogue lacks, oldest push first. */
export function newItems(feed: ItemFeed, manifest: BundleManifest): PushedItem[] {
  const known = new Set(manifest.vocabularies['item:id'] ?? []);
  return Object.values(feed.items)
    .filter((item) => !known.has(item.id))
    .sort((a, b) => a.seq - b.seq);
}

/** Writes the model-ready value `v` of one feature into row `r` of a (N, width) column. */
function setRow(data: TypedArray, r: number, width: number, v: number | Int32Array): void {
  if (typeof v === 'number') {
    data[r * width] = v;
    return;
  }
  for (let l = 0; l < width; l++) data[r * width + l] = l < v.length ? v[l] : 0;
}

/** The model-ready item columns (N0 + n rows): the parent's rows, then the new items' from their pushed values. */
export function growItemColumns(
  manifest: BundleManifest,
  columns: ReadonlyMap<string, Tensor>,
  N0: number,
  added: readonly PushedItem[],
): Map<string, Tensor> {
  const spec = manifest.featureSpec;
  const lookups = buildLookups(spec, manifest.vocabularies);
  const byName = new Map(spec.features.filter((f) => featureView(f.name) === 'item').map((f) => [f.name, f]));
  const N = N0 + added.length;
  const out = new Map<string, Tensor>();
  for (const [name, t] of columns) {
    const width = t.shape.slice(1).reduce((a, b) => a * b, 1);
    const data = new (t.data.constructor as { new (n: number): TypedArray })(N * width);
    data.set(t.data as never);
    const f = byName.get(name);
    added.forEach((item, k) => {
      const r = N0 + k;
      // Row r of the catalogue is vocabulary entry r: the id's index; past the parent's table it
      // serves as OOV (retrieval.ts clamps it) until a retrain gives it a row.
      if (name === 'item:id') setRow(data, r, width, r + FIRST_INDEX);
      else if (f) setRow(data, r, width, transformValue(f, item.features[featureSource(f)] as RawValue, lookups));
    });
    out.set(name, { dtype: t.dtype, shape: [N, ...t.shape.slice(1)], data });
  }
  return out;
}

/** What an items-only update wrote. */
export interface ItemsOnlyBundle {
  manifest: BundleManifest;
  added: string[];
  /** Rows in the catalogue before and after. */
  before: number;
  after: number;
}

/**
 * Writes into `out` the parent bundle (folder `parentDir`) with `added` appended to its catalogue:
 * their features and their item-tower embeddings (on the GPU, the parent's weights), the other files
 * copied. The manifest is the parent's with the new version, vocabulary, files; no lineage yet.
 * @example const b = await itemsOnlyBundle(gpu, 'state/models/2', items, 'state/bundles/3', '3');
 */
export async function itemsOnlyBundle(
  gpu: Gpu,
  parentDir: string,
  added: readonly PushedItem[],
  out: string,
  version: string,
): Promise<ItemsOnlyBundle> {
  const parent = await readBundle(parentDir, 'the promoted bundle');
  const c = parent.config;
  const D = c.embeddingDim;
  const itemsBytes = readFileSync(join(parentDir, 'items.safetensors'));
  const columns = new Map<string, Tensor>();
  for (const [name, t] of readSafetensors(itemsBytes).tensors)
    if (name.startsWith('features.')) columns.set(name.slice('features.'.length), t);
  const ids = parent.manifest.vocabularies['item:id'] ?? [];
  const N0 = parent.items.embeddings.length / D;
  if (ids.length !== N0)
    throw new UsageError(
      `the promoted bundle lists ${ids.length} item ids for ${N0} embeddings: it cannot take new items.`,
    );
  const grown = growItemColumns(parent.manifest, columns, N0, added);
  const N = N0 + added.length;

  // The item tower over the new rows, in batches (the parent's weights, as embedItems runs it).
  const embeddings = new Float32Array(N * D);
  embeddings.set(parent.items.embeddings);
  const weights = RetrievalWeights.fromTensors(gpu, c, parent.weights);
  const tower = await ItemTower.create(gpu, weights, { maxBatch: Math.min(64, Math.max(1, added.length)) });
  try {
    const value = itemFieldValues(c, grown);
    for (let start = N0; start < N; start += tower.maxBatch) {
      const B = Math.min(tower.maxBatch, N - start);
      tower.set(B, (b, j) => value(start + b, j));
      gpu.run((pass) => tower.encode(pass));
      embeddings.set(await gpu.readF32(tower.act.out.buffer, B * D, tower.act.out.offset), start * D);
    }
  } finally {
    tower.destroy();
    weights.destroy();
  }

  mkdirSync(out, { recursive: true });
  const items = itemsFile({ items: { rows: N, columns: grown } }, itemEmbeddings(embeddings, N, D), D);
  const files = [];
  for (const f of parent.manifest.files) {
    if (f.name === 'items.safetensors') {
      files.push(await describeFile('items.safetensors', items));
      continue;
    }
    copyFileSync(join(parentDir, f.name), join(out, f.name));
    files.push(f);
  }
  const vocabularies = { ...parent.manifest.vocabularies, 'item:id': [...ids, ...added.map((i) => i.id)] };
  const manifest = parseBundleManifest({
    ...parent.manifest,
    version,
    createdAt: new Date().toISOString(),
    vocabularies,
    files,
    lineage: undefined,
  });
  writeFileSync(join(out, 'items.safetensors'), items);
  return { manifest, added: added.map((i) => i.id), before: N0, after: N };
}
