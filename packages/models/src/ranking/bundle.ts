// The ranker in a model bundle: ranking.safetensors (+ ranking.onnx) listed in manifest.json
// beside whatever is already there (retrieval's files), or a new ranker-only bundle.
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  describeFile,
  parseBundleManifest,
  SpecError,
  verifyBundleFile,
  writeSafetensors,
  BundleIntegrityError,
  type BundleManifest,
  type BundleManifestInput,
  type FeatureSpec,
  type Tensor,
  type Vocabularies,
  readSafetensors,
  UsageError,
} from '@vireo/core';
import { rankingTensors, rankingWeightsFromSafetensors, type RankingConfig } from './ranking.ts';

/** ranking.safetensors' item columns for derived features: `through.item:category`, one value per item row. */
export const THROUGH_PREFIX = 'through.';

/** The manifest's `architecture.ranking` for a config (plus the table shapes, for readers). */
export function rankingArchitecture(c: RankingConfig): Record<string, unknown> {
  return {
    embeddingDim: c.embeddingDim,
    bottomMlp: c.bottomMlp,
    topMlp: c.topMlp,
    towerMlp: c.towerMlp,
    interaction: c.interaction,
    heads: c.heads,
    denseFeatures: c.denseFeatures,
    sparseFeatures: c.sparseFeatures.map((f) => f.name),
    tables: c.sparseFeatures.map((f) => ({ feature: f.name, rows: f.rows, width: f.width })),
    outputs: ['pCtr', 'pCvr', 'log1pRevenue'],
    ...(c.wide ? { wide: true } : {}),
  };
}

/** Reads and validates OUT/manifest.json when there is one. */
export function readManifest(dir: string): BundleManifest | null {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) return null;
  try {
    return parseBundleManifest(readFileSync(path, 'utf8'));
  } catch (err) {
    if (err instanceof SpecError) throw new UsageError(`${path}: ${err.message}`);
    throw err;
  }
}

/**
 * Writes ranking.safetensors, ranking.onnx and the manifest into `dir`. An existing manifest keeps
 * its files and architecture (retrieval's) when it was made from the same feature spec; a
 * bundle from other data is refused rather than mixed. With `items`, the item columns the ranker's derived features
 * go through (`user:recent_items>item:category`: each item's category) are kept in ranking.safetensors as
 * `through.<name>`, one value per item row, so that a bundle without a retrieval model (and its items.safetensors)
 * can still score raw rows (`vireo predict`).
 */
export async function writeRankingBundle(
  dir: string,
  args: {
    config: RankingConfig;
    params: Float32Array;
    tables: Float32Array[];
    onnx: Uint8Array;
    spec: FeatureSpec;
    vocabularies: Vocabularies;
    name: string;
    trainingData: Record<string, unknown>;
    metrics: Record<string, unknown>;
    /** The dataset's items table (its columns, one row per item). */
    items?: { columns: Map<string, Tensor> } | null;
  },
): Promise<BundleManifest> {
  mkdirSync(dir, { recursive: true });
  const { tensors, metadata } = rankingTensors(args.config, args.params, args.tables);
  for (const s of args.config.sparseFeatures) {
    const column = s.derived ? args.items?.columns.get(s.derived.through) : undefined;
    if (column) tensors.set(`${THROUGH_PREFIX}${s.derived!.through}`, column);
  }
  const files: [string, Uint8Array][] = [
    ['ranking.safetensors', writeSafetensors(tensors, metadata)],
    ['ranking.onnx', args.onnx],
  ];
  const old = readManifest(dir);
  if (old && JSON.stringify(old.featureSpec) !== JSON.stringify(args.spec)) {
    throw new UsageError(
      `${dir} holds a bundle made from another feature spec ` +
        `(${old.featureSpec.name ?? 'unnamed'}); write the ranker to a new --out folder.`,
    );
  }
  for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
  const described = await Promise.all(files.map(([name, bytes]) => describeFile(name, bytes)));
  const keep = (old?.files ?? []).filter((f) => !files.some(([name]) => name === f.name));
  const manifest: BundleManifestInput = {
    format: 'vireo-bundle',
    formatVersion: 1,
    name:
      old?.name ??
      (args.name
        .toLowerCase()
        .replace(/[^a-z0-9_-]+/g, '-')
        .replace(/^[^a-z0-9]+/, '') ||
        'ranker'),
    version: old?.version ?? new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '.'),
    createdAt: new Date().toISOString(),
    architecture: { ...(old?.architecture ?? {}), ranking: rankingArchitecture(args.config) as never },
    featureSpec: args.spec,
    vocabularies: old?.vocabularies ?? args.vocabularies,
    files: [...keep, ...described],
    trainingData: { ...(old?.trainingData ?? {}), ranking: args.trainingData },
    metrics: { ...(old?.metrics ?? {}), ranking: args.metrics },
  };
  const parsed = parseBundleManifest(manifest);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(parsed, null, 2) + '\n');
  return parsed;
}

/**
 * Loads the ranker of a bundle folder, checking ranking.safetensors against the manifest's size
 * and sha256 first.
 * @example const { manifest, config, params, tables } = await loadRankingBundle('bundle/');
 */
export async function loadRankingBundle(dir: string): Promise<{
  manifest: BundleManifest;
  config: RankingConfig;
  params: Float32Array;
  tables: Float32Array[];
  /** The item columns kept for derived features (writeRankingBundle's `items`), by item feature name. */
  through: Map<string, Tensor>;
}> {
  const manifest = readManifest(dir);
  if (!manifest)
    throw new UsageError(`${dir} has no manifest.json: pass a bundle folder written by vireo train ranking.`);
  if (!manifest.files.some((f) => f.name === 'ranking.safetensors'))
    throw new UsageError(
      `the bundle in ${dir} has no ranker (ranking.safetensors is not ` +
        `in its manifest); train one with vireo train ranking --out ${dir}.`,
    );
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(join(dir, 'ranking.safetensors'));
  } catch {
    throw new UsageError(`${dir}/ranking.safetensors is listed in the manifest but cannot be read.`);
  }
  try {
    await verifyBundleFile(manifest, 'ranking.safetensors', bytes);
  } catch (err) {
    if (err instanceof BundleIntegrityError) throw new UsageError(`${err.message}.`);
    throw err;
  }
  const file = readSafetensors(bytes);
  const through = new Map<string, Tensor>();
  for (const [name, t] of file.tensors)
    if (name.startsWith(THROUGH_PREFIX)) through.set(name.slice(THROUGH_PREFIX.length), t);
  return { manifest, ...rankingWeightsFromSafetensors(file), through };
}
