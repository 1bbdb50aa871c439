// The feature spec the edge validates pushes against and transforms with: the `featureSpec` and
// `vocabularies` of a promoted model's manifest (@vireo/core). Manifests of a version never
// change, so parsed specs are cached by name@version; which version is promoted is re-read at
// most every `promotedTtlMs`.
import {
  buildLookups,
  featureSource,
  featureView,
  transformValue,
  type Feature,
  type FeatureSpec,
  type Lookups,
  type RawValue,
} from '@vireo/core';
import { ApiError } from '../errors.ts';
import { inlineManifestParser, type ManifestLimits, type ManifestParser, readManifest } from '../registry/manifest.ts';
import type { EntityKind, FeatureValue, Storage } from '../storage/types.ts';

/** A promoted model's spec, ready to validate and transform. */
export type ActiveSpec = { model: string; version: string; spec: FeatureSpec; lookups: () => Lookups };

export type SpecResolverOptions = {
  /** The model whose spec applies when a request names none; default: the most recently promoted model. */
  defaultModel?: string | null;
  /** Bounds on manifests (vocabulary sizes, maxLength), as at upload. */
  limits?: ManifestLimits;
  /** Parses manifests (a worker thread on Node). */
  parseManifest?: ManifestParser;
  /** How long the promoted version of a model is remembered, in ms. Default 2000. */
  promotedTtlMs?: number;
  now?: () => number;
};

/**
 * Finds and caches feature specs from the model registry.
 * @example const active = await specs.resolve('ranker'); // null when nothing is promoted
 */
export function specResolver(storage: Storage, options: SpecResolverOptions = {}) {
  const opts = {
    defaultModel: null,
    promotedTtlMs: 2000,
    now: () => Date.now(),
    limits: { maxSequenceLength: 4096, maxVocabulary: 250_000, maxVocabularyTotal: 500_000 },
    parseManifest: inlineManifestParser,
    ...options,
  };
  const parsed = new Map<string, Promise<ActiveSpec>>();
  const promoted = new Map<string, { at: number; version: Promise<string | null> }>();

  async function promotedVersion(model: string | null): Promise<{ model: string; version: string } | null> {
    const key = model ?? '';
    let entry = promoted.get(key);
    if (!entry || opts.now() - entry.at > opts.promotedTtlMs) {
      const version = (async () => {
        if (model !== null) return (await storage.models.promotionHead(model)).promoted;
        // No model named: the one whose last promotion is the most recent and which still has a promoted version.
        const latest = await storage.models.latestPromoted();
        return latest ? `${latest.name}@${latest.version}` : null;
      })();
      promoted.set(key, (entry = { at: opts.now(), version }));
      version.catch(() => promoted.delete(key));
    }
    const version = await entry.version;
    if (version === null) return null;
    if (model !== null) return { model, version };
    const at = version.indexOf('@');
    return { model: version.slice(0, at), version: version.slice(at + 1) };
  }

  async function load(model: string, version: string): Promise<ActiveSpec> {
    const key = `${model}@${version}`;
    let spec = parsed.get(key);
    if (!spec) {
      spec = (async () => {
        const blob = await storage.models.openFile(model, version, 'manifest.json');
        if (!blob) throw new ApiError('version_not_found', `Model '${model}' version '${version}' has no manifest.`);
        // The checks of the upload again: a manifest stored by an older edge that would not
        // transform is a 422 naming the problem, not a 500 on every read.
        const text = await new Response(blob.body).text();
        const manifest = await readManifest(text, opts.limits, opts.parseManifest, true);
        let lookups: Lookups | null = null;
        return {
          model,
          version,
          spec: manifest.featureSpec,
          lookups: () => (lookups ??= buildLookups(manifest.featureSpec, manifest.vocabularies)),
        };
      })();
      parsed.set(key, spec);
      spec.catch(() => parsed.delete(key));
    }
    return spec;
  }

  return {
    /** The spec of `model` (or of the default model); null when no version is promoted. */
    async resolve(model?: string | null): Promise<ActiveSpec | null> {
      const found = await promotedVersion(model ?? opts.defaultModel);
      return found ? load(found.model, found.version) : null;
    },
    /** Forgets which version of `name` is promoted (after a local promote or roll-back). */
    invalidate(name: string) {
      promoted.delete(name);
      promoted.delete('');
    },
  };
}

export type SpecResolver = ReturnType<typeof specResolver>;

const isScalar = (v: FeatureValue) => v === null || typeof v !== 'object';

/** Why a raw value does not fit a feature of the spec, or null when it does. */
function misfit(feature: Feature, value: FeatureValue): string | null {
  switch (feature.kind) {
    case 'numeric':
      return value === null || typeof value === 'number' || typeof value === 'boolean'
        ? null
        : `expected a number for ${feature.name} (numeric)`;
    case 'categorical':
      return isScalar(value) ? null : `expected one value for ${feature.name} (categorical), got a list`;
    case 'multi_hot':
    case 'sequence':
      return value === null || Array.isArray(value) || typeof value === 'string'
        ? null
        : `expected a list (or a '${feature.separator}'-separated string) for ${feature.name} (${feature.kind})`;
  }
}

/** The spec's features of one view, grouped by the raw column they read. */
export function featuresBySource(spec: FeatureSpec, view: EntityKind): Map<string, Feature[]> {
  const out = new Map<string, Feature[]>();
  for (const f of spec.features) {
    if (featureView(f.name) !== view) continue;
    const source = featureSource(f);
    out.set(source, [...(out.get(source) ?? []), f]);
  }
  return out;
}

/** Problems of one pushed row against the spec: unknown columns and values of the wrong kind. */
export function specProblems(
  spec: FeatureSpec,
  entity: EntityKind,
  features: Record<string, FeatureValue>,
  bySource = featuresBySource(spec, entity),
): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(features)) {
    const targets = bySource.get(name);
    if (!targets) {
      problems.push(
        `'${name}' is not ${entity === 'item' ? 'an' : 'a'} ${entity} feature source in the spec ` +
          `(known: ${[...bySource.keys()].join(', ') || 'none'})`,
      );
      continue;
    }
    for (const f of targets) {
      const why = misfit(f, value);
      if (why) problems.push(`'${name}': ${why}`);
    }
  }
  return problems;
}

/**
 * `user:id` of a user, `item:id` of an item: the entity's own key, as the trainer's ingest reads it (the key column
 * whatever the feature's `source`), never a pushed column.
 */
export const isEntityKey = (feature: Pick<Feature, 'name'>, view: EntityKind): boolean => feature.name === `${view}:id`;

/** Model-ready values of one view from a raw row of entity `id` (Int32Arrays become plain lists for JSON). */
export function modelReady(
  active: ActiveSpec,
  view: EntityKind,
  raw: Record<string, FeatureValue>,
  id: string,
): Record<string, number | number[]> {
  const out: Record<string, number | number[]> = {};
  const lookups = active.lookups();
  for (const f of active.spec.features) {
    if (featureView(f.name) !== view) continue;
    const value = isEntityKey(f, view) ? id : raw[featureSource(f)];
    out[f.name] = toJson(transformValue(f, value as RawValue, lookups));
  }
  return out;
}

/** One feature's model-ready value (for `user:id` / `item:id`, pass the entity's id: isEntityKey). */
export function modelReadyOne(active: ActiveSpec, feature: Feature, raw: FeatureValue | undefined): number | number[] {
  return toJson(transformValue(feature, raw as RawValue, active.lookups()));
}

const toJson = (v: number | Int32Array) => (typeof v === 'number' ? v : Array.from(v));
