// The retrieval bundle (docs/ARCHITECTURE.md, "The bundle"): retrieval.safetensors (the user tower's and
// item tower's weights: dense tensors by name and the table per field), items.safetensors (the
// item tower's output for the whole catalogue in float32, in int8 with per-row scales, and the
// catalogue's item features in model-ready form) and manifest.json (architecture with the full
// field layout, feature spec, vocabularies, files with sha256, training data and metrics).
// retrieval.safetensors holds only the weights and the config, so the same seed and data give
// the same bytes (the manifest's createdAt differs, the weights file does not).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  describeFile,
  parseBundleManifest,
  readSafetensors,
  verifyBundleFile,
  writeSafetensors,
  type BundleManifest,
  type Tensor,
  type FeatureSpec,
  type Vocabularies,
  UsageError,
} from '@vireo/core';
import { readManifest } from '../ranking/bundle.ts';
import { quantizeRows, type RetrievalConfig } from './retrieval.ts';

/** The catalogue's embeddings and features as items.safetensors holds them. */
export interface ItemEmbeddings {
  /** (N, D) float32 unit rows. */
  embeddings: Float32Array;
  /** (N, D) int8 with (N) per-row scales: embeddings ≈ scales[i] · values[i]. */
  values: Int8Array;
  scales: Float32Array;
}

/** Quantises a catalogue's float32 embeddings into the int8 form. */
export function itemEmbeddings(embeddings: Float32Array, N: number, D: number): ItemEmbeddings {
  return { embeddings, ...quantizeRows(embeddings, N, D) };
}

/** retrieval.safetensors bytes: the weights and the config (deterministic for the same weights). */
export function retrievalFile(config: RetrievalConfig, tensors: Map<string, Tensor>): Uint8Array {
  return writeSafetensors(tensors, { format: 'vireo-retrieval', config: JSON.stringify(config) });
}

/** What a bundle records of the dataset it was trained on; the trainer's `Dataset` is one. */
export interface BundleDataset {
  spec: FeatureSpec;
  vocabularies: Vocabularies;
  summary: {
    source: string;
    name: string;
    counts: Record<string, number>;
    splits: Record<string, unknown>;
    timeRange: { min: number; max: number } | null;
  };
  /** The catalogue's model-ready item features, (N, ·) per feature name. */
  items: { rows: number; columns: Map<string, Tensor> } | null;
}

/** items.safetensors bytes: embeddings (F32), embeddings.int8 (I8), embeddings.scale (F32), item features. */
export function itemsFile(ds: Pick<BundleDataset, 'items'>, items: ItemEmbeddings, D: number): Uint8Array {
  const N = ds.items!.rows;
  const tensors = new Map<string, Tensor>([
    ['embeddings', { dtype: 'F32', shape: [N, D], data: items.embeddings }],
    ['embeddings.int8', { dtype: 'I8', shape: [N, D], data: items.values }],
    ['embeddings.scale', { dtype: 'F32', shape: [N], data: items.scales }],
  ]);
  for (const [name, t] of ds.items!.columns) if (!name.startsWith('oracle:')) tensors.set(`features.${name}`, t);
  return writeSafetensors(tensors, { format: 'vireo-items', rows: 'item rows in vocabularies["item:id"] order' });
}

/** What writeBundle needs besides the files' bytes. */
export interface BundleInfo {
  name: string;
  version: string;
  config: RetrievalConfig;
  ds: BundleDataset;
  metrics: Record<string, unknown>;
  training: Record<string, unknown>;
}

/** The ranker's files, which a retrieval model trained into the same folder keeps (writeBundle). */
const RANKING_FILES = ['ranking.safetensors', 'ranking.onnx'];

/**
 * Writes the three files into `dir` and returns the manifest. A ranker already there from the same data (the same
 * feature spec and vocabularies) stays in the manifest with its metrics, so that training the retrieval model again
 * into a bundle does not drop its ranker; one from other data is left out.
 */
export async function writeBundle(
  dir: string,
  info: BundleInfo,
  retrieval: Uint8Array,
  items: Uint8Array,
): Promise<BundleManifest> {
  const c = info.config;
  const { ds } = info;
  const files = [
    await describeFile('retrieval.safetensors', retrieval),
    await describeFile('items.safetensors', items),
  ];
  let old: BundleManifest | null = null;
  try {
    old = readManifest(dir);
  } catch {
    old = null; // an unreadable manifest is replaced, as before
  }
  const keep =
    old?.architecture.ranking &&
    old.files.some((f) => f.name === 'ranking.safetensors' && existsSync(join(dir, f.name))) &&
    JSON.stringify(old.featureSpec) === JSON.stringify(ds.spec) &&
    JSON.stringify(old.vocabularies) === JSON.stringify(ds.vocabularies)
      ? old
      : null;
  const ranker = keep ? keep.files.filter((f) => RANKING_FILES.includes(f.name)) : [];
  const kept = <T>(value: T | undefined) => (keep && value !== undefined ? { ranking: value } : {});
  const manifest = parseBundleManifest({
    name: info.name,
    version: info.version,
    createdAt: new Date().toISOString(),
    architecture: {
      retrieval: {
        embeddingDim: c.embeddingDim,
        userTowerLayers: [c.userHidden, c.embeddingDim],
        itemTowerLayers: [c.itemHidden, c.embeddingDim],
        historyLength: c.historyLength,
        attentionHeads: c.heads,
        temperature: c.temperature,
        fieldDim: c.fieldDim,
        userFeatures: c.userFields.map((f) => f.name),
        itemFeatures: c.itemFields.map((f) => f.name),
        config: c,
      },
      ...kept(keep?.architecture.ranking),
    },
    featureSpec: ds.spec,
    vocabularies: ds.vocabularies,
    files: [...files, ...ranker],
    trainingData: {
      source: ds.summary.source,
      name: ds.summary.name,
      counts: ds.summary.counts,
      splits: ds.summary.splits,
      timeRange: ds.summary.timeRange,
      ...info.training,
      ...kept((keep?.trainingData as Record<string, unknown> | undefined)?.ranking),
    },
    metrics: { ...info.metrics, ...kept((keep?.metrics as Record<string, unknown> | undefined)?.ranking) },
  });
  writeFileSync(join(dir, 'retrieval.safetensors'), retrieval);
  writeFileSync(join(dir, 'items.safetensors'), items);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/** A bundle read back and checked: every file's size and sha256 against the manifest. */
export interface LoadedBundle {
  manifest: BundleManifest;
  config: RetrievalConfig;
  weights: Map<string, Tensor>;
  items: ItemEmbeddings;
}

/** Reads a bundle folder, refusing one whose files do not match the manifest (one sentence). */
export async function readBundle(dir: string, flag = '--bundle'): Promise<LoadedBundle> {
  let manifest: BundleManifest;
  try {
    manifest = parseBundleManifest(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT'
        ? `${flag} ${dir} is not a bundle: manifest.json is missing.`
        : `${flag} ${dir}: manifest.json is invalid: ${(err as Error).message}.`,
    );
  }
  const config = (manifest.architecture.retrieval as { config?: RetrievalConfig } | undefined)?.config;
  if (!config)
    throw new UsageError(
      `${flag} ${dir} holds no retrieval model: train one into it with ` +
        `vireo train retrieval --out ${dir} (its ranker stays).`,
    );
  const read = async (name: string) => {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(join(dir, name));
    } catch {
      throw new UsageError(`${flag} ${dir} is incomplete: ${name} is missing.`);
    }
    try {
      await verifyBundleFile(manifest, name, bytes);
    } catch (err) {
      throw new UsageError((err as Error).message + '.');
    }
    return readSafetensors(bytes).tensors;
  };
  const weights = await read('retrieval.safetensors');
  const items = await read('items.safetensors');
  const get = <T>(name: string) => items.get(name)?.data as T;
  return {
    manifest,
    config,
    weights,
    items: {
      embeddings: get<Float32Array>('embeddings'),
      values: get<Int8Array>('embeddings.int8'),
      scales: get<Float32Array>('embeddings.scale'),
    },
  };
}
