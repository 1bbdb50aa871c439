// A verified bundle turned into what the backends run: the retrieval config and weights, the
// catalogue (float32 and int8 item embeddings, model-ready item features), the ranker's config,
// weights and ONNX bytes, and the vocabularies that map ids to rows. Pure TypeScript.
//
// Inputs are model-ready values keyed by feature name (`user:id` → index, `item:genres` →
// indices, `context:hour` → index or number), as the edge's `?transform=1` gives them and as
// ingest wrote them into items.safetensors (`features.<name>`, one row per item).
import {
  FIRST_INDEX,
  OOV_INDEX,
  PAD_INDEX,
  featureView,
  readSafetensors,
  type BundleManifest,
  type Tensor,
} from '@vireo/core';
import { historyThrough, rankingWeightsFromSafetensors, sparseWidth, type RankingConfig } from './ranking/ranking.ts';
import {
  itemIdIndex,
  servingTimeFeature,
  TIME_FEATURE,
  type FieldValue,
  type RetrievalConfig,
} from './retrieval/retrieval.ts';
import { tensorsToArrays } from './retrieval/towers.ts';

/** Model-ready feature values by name. */
/** A bundle whose files were checked against the manifest's sha256 (the engine's loadBundle gives one). */
export interface VerifiedBundle {
  manifest: BundleManifest;
  files: Map<string, Uint8Array>;
}

export type FeatureValues = Record<string, unknown>;

export interface RetrievalData {
  config: RetrievalConfig;
  params: Float32Array;
  table: Float32Array;
}

export interface RankingData {
  config: RankingConfig;
  params: Float32Array;
  tables: Float32Array[];
  onnx: Uint8Array | null;
}

/** Everything a backend needs, parsed once per bundle version. */
export interface ModelData {
  manifest: BundleManifest;
  /** N items, row i ↔ itemIds[i]. */
  itemIds: string[];
  itemRow: Map<string, number>;
  /** D and the catalogue's embeddings (N, D), float32 and int8. */
  D: number;
  items: Float32Array;
  itemsInt8: { values: Int8Array; scales: Float32Array } | null;
  /** Item features (`features.<name>` in items.safetensors), per feature: (N) or (N, L). */
  itemFeatures: Map<string, Tensor>;
  retrieval: RetrievalData;
  ranking: RankingData | null;
  /** user id → user:id index (from the vocabulary); unknown users are OOV. */
  userIndex: Map<string, number>;
}

/** A bundle this engine cannot run: one sentence naming what is missing. */
export class BundleFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleFormatError';
  }
}

/** Parses a verified bundle's files into ModelData. */
export function parseModel(bundle: VerifiedBundle): ModelData {
  const { manifest, files } = bundle;
  const where = `bundle ${manifest.name}@${manifest.version}`;
  const need = (name: string) => {
    const b = files.get(name);
    if (!b)
      throw new BundleFormatError(
        `${where} has no ${name}: the engine needs a retrieval model (retrieval.safetensors, items.safetensors).`,
      );
    return b;
  };
  const config = (manifest.architecture.retrieval as { config?: RetrievalConfig } | undefined)?.config;
  if (!config)
    throw new BundleFormatError(
      `${where} holds no retrieval architecture ` +
        `(architecture.retrieval.config): export it with \`vireo train retrieval\`.`,
    );
  const { params, table } = tensorsToArrays(config, readSafetensors(need('retrieval.safetensors')).tensors);
  const itemTensors = readSafetensors(need('items.safetensors')).tensors;
  const emb = itemTensors.get('embeddings');
  if (emb?.dtype !== 'F32' || emb.shape.length !== 2)
    throw new BundleFormatError(`${where}: items.safetensors has no F32 (N, D) 'embeddings' tensor.`);
  const [N, D] = emb.shape;
  const int8 = itemTensors.get('embeddings.int8');
  const scale = itemTensors.get('embeddings.scale');
  const itemFeatures = new Map<string, Tensor>();
  for (const [name, t] of itemTensors)
    if (name.startsWith('features.')) itemFeatures.set(name.slice('features.'.length), t);
  const vocab = manifest.vocabularies['item:id'] ?? [];
  const itemIds = Array.from({ length: N }, (_, i) => vocab[i] ?? String(i));
  const users = manifest.vocabularies['user:id'] ?? [];
  let ranking: RankingData | null = null;
  const rankingBytes = files.get('ranking.safetensors');
  if (rankingBytes) {
    const r = rankingWeightsFromSafetensors(rankingBytes);
    ranking = { ...r, onnx: files.get('ranking.onnx') ?? null };
  }
  return {
    manifest,
    itemIds,
    itemRow: new Map(itemIds.map((id, i) => [id, i])),
    D,
    items: emb.data as Float32Array,
    itemsInt8: int8 && scale ? { values: int8.data as Int8Array, scales: scale.data as Float32Array } : null,
    itemFeatures,
    retrieval: { config, params, table },
    ranking,
    userIndex: new Map(users.map((u, i) => [u, i + FIRST_INDEX])),
  };
}

/**
 * The user tower's field values (config.userFields order) from model-ready values, for a request
 * at `ts` (unix seconds; `context:time` is derived from it, as the trainer derives it from the
 * event's time).
 */
export function userFieldValues(
  m: ModelData,
  userId: string,
  values: FeatureValues,
  ts = Date.now() / 1000,
): FieldValue[] {
  const c = m.retrieval.config;
  return c.userFields.map((f) => {
    if (f.kind === 'numeric')
      return (f.features ?? []).map((n) => (n === TIME_FEATURE ? servingTimeFeature(c, ts) : Number(values[n] ?? 0)));
    const v = values[f.name];
    if (v === undefined || v === null) return f.name === 'user:id' ? (m.userIndex.get(userId) ?? OOV_INDEX) : null;
    return v as FieldValue;
  });
}

/**
 * Model-ready values with `user:id` from the bundle's own vocabulary (when it has one): the key's index is this
 * version's, whatever the edge answered (an edge before 2026-12-04 answered the padding index 0 for every user; one
 * on another version of the model, that version's index).
 */
export function withUserKey(m: ModelData, userId: string, values: FeatureValues): FeatureValues {
  if (m.userIndex.size === 0) return values;
  return { ...values, 'user:id': m.userIndex.get(userId) ?? OOV_INDEX };
}

/** The item:id indices of a history of item ids (unknown items are skipped). */
export function historyIndices(m: ModelData, itemIds: readonly string[]): Uint32Array {
  const out: number[] = [];
  for (const id of itemIds) {
    const row = m.itemRow.get(id);
    if (row !== undefined) out.push(itemIdIndex(row));
  }
  return Uint32Array.from(out);
}

/**
 * A derived ranker feature's value (see SparseFeatureShape.derived): the user's history (item:id
 * indices in `values[sequence]`) mapped slot by slot to each item's `through` index from
 * items.safetensors (historyThrough, as the trainer builds it).
 */
export function derivedValue(
  m: ModelData,
  derived: { sequence: string; through: string },
  values: FeatureValues,
): Int32Array | null {
  const history = values[derived.sequence];
  const column = m.itemFeatures.get(derived.through);
  if (!column || !(Array.isArray(history) || ArrayBuffer.isView(history))) return null;
  return historyThrough(history as ArrayLike<number>, column.data as ArrayLike<number>);
}

/**
 * The ranker's history features (user sequences over item:id, e.g. `user:recent_items`) with the
 * on-device events appended: the edge's list (last L positives, oldest first, PAD-padded) without
 * the items the device already holds, then the device's items, the last L kept, PAD to width —
 * the layout the trainer builds, and the same merge as the user tower's history. So a click
 * reaches the ranker (and the features derived from its history) before the edge has it.
 * `localItemIds` oldest first; unknown items are left out. Returns `values` unchanged when empty.
 */
export function withLocalHistory(m: ModelData, values: FeatureValues, localItemIds: readonly string[]): FeatureValues {
  if (!m.ranking || localItemIds.length === 0) return values;
  const local = Array.from(historyIndices(m, localItemIds));
  const localSet = new Set(local);
  const out = { ...values };
  for (const f of m.manifest.featureSpec?.features ?? []) {
    if (f.kind !== 'sequence' || featureView(f.name) !== 'user' || (f.vocabulary ?? f.name) !== 'item:id') continue;
    const shape = m.ranking.config.sparseFeatures.find((s) => s.name === f.name && !s.derived);
    if (!shape) continue;
    const edge = values[f.name];
    const known =
      Array.isArray(edge) || ArrayBuffer.isView(edge)
        ? Array.from(edge as ArrayLike<number>, Number).filter((v) => v !== PAD_INDEX && !localSet.has(v))
        : [];
    const merged = [...known, ...local].slice(-shape.width);
    out[f.name] = [...merged, ...new Array<number>(shape.width - merged.length).fill(PAD_INDEX)];
  }
  return out;
}

/**
 * The ranker's inputs for `rows` (catalogue rows of the candidates): dense (n, Nd) and sparse
 * (n, S), each feature from the item's row of items.safetensors, else the user's / context's
 * values (derived features computed from them); `item:id` defaults to the item's row index.
 */
export function rankingInputs(
  m: ModelData,
  c: RankingConfig,
  rows: ArrayLike<number>,
  values: FeatureValues,
  dense: Float32Array,
  sparse: Int32Array,
): void {
  const n = rows.length;
  const Nd = Math.max(1, c.denseFeatures.length);
  const S = sparseWidth(c);
  if (c.denseFeatures.length === 0) dense.fill(1, 0, n);
  c.denseFeatures.forEach((name, j) => {
    const t = m.itemFeatures.get(name);
    const shared = Number(values[name] ?? 0);
    for (let b = 0; b < n; b++) dense[b * Nd + j] = t ? Number(t.data[rows[b]]) : shared;
  });
  let slot = 0;
  for (const f of c.sparseFeatures) {
    // Each value clamped as `v < f.rows ? v : OOV_INDEX`; the feature's source is found once, not per value.
    const W = f.width;
    const clamp = (v: number) => (v < f.rows ? v : OOV_INDEX);
    const pad = clamp(PAD_INDEX);
    const t = f.derived ? undefined : m.itemFeatures.get(f.name);
    if (t) {
      // The item's row of items.safetensors: (N, W) columns, or one value then PAD.
      const data = t.data as ArrayLike<number | bigint>;
      const cols = t.shape.length > 1 ? t.shape[1] : 0;
      for (let b = 0, at = slot; b < n; b++, at += S) {
        if (cols > 0) for (let l = 0; l < W; l++) sparse[at + l] = clamp(Number(data[rows[b] * cols + l]));
        else {
          sparse[at] = clamp(Number(data[rows[b]]));
          for (let l = 1; l < W; l++) sparse[at + l] = pad;
        }
      }
    } else if (f.name === 'item:id') {
      for (let b = 0, at = slot; b < n; b++, at += S) {
        sparse[at] = clamp(itemIdIndex(rows[b]));
        for (let l = 1; l < W; l++) sparse[at + l] = pad;
      }
    } else {
      // The user's or context's values (or derived from them): the same W values in every row.
      const shared = f.derived ? derivedValue(m, f.derived, values) : values[f.name];
      const row = new Int32Array(W);
      for (let l = 0; l < W; l++) {
        let v: number;
        if (Array.isArray(shared) || ArrayBuffer.isView(shared))
          v = Number((shared as ArrayLike<number>)[l] ?? PAD_INDEX);
        else v = l === 0 && shared !== undefined && shared !== null ? Number(shared) : PAD_INDEX;
        row[l] = clamp(v);
      }
      for (let b = 0, at = slot; b < n; b++, at += S) for (let l = 0; l < W; l++) sparse[at + l] = row[l];
    }
    slot += W;
  }
}
