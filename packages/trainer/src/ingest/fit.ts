// Fitting a feature spec to data: one streaming pass collects, per feature, the statistics its
// transforms need (vocabulary counts, the mean and std before `standardize`), then `fit()` returns
// the spec with those values filled in, the vocabularies and the statistics for statistics.json.
import {
  splitValues,
  transformNumeric,
  vocabularyName,
  type Feature,
  type FeatureSpec,
  type IndexedFeature,
  type Label,
  type NumericFeature,
  type RawValue,
  type Vocabularies,
} from '@vireo/core';
import type { DatasetStatistics, FeatureStatistics } from './dataset.ts';

/** Running mean / variance (Welford), min and max. */
class Moments {
  count = 0;
  mean = 0;
  m2 = 0;
  min = Infinity;
  max = -Infinity;
  add(x: number): void {
    this.count++;
    const d = x - this.mean;
    this.mean += d / this.count;
    this.m2 += d * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
  }
  get std(): number {
    return this.count > 1 ? Math.sqrt(this.m2 / (this.count - 1)) : 0;
  }
}

function isMissing(raw: RawValue): boolean {
  return raw === null || raw === undefined || raw === '' || (typeof raw === 'string' && raw.trim() === '');
}

function toNumber(raw: RawValue): number {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'boolean') return Number(raw);
  if (typeof raw === 'string') return raw.trim() === '' ? NaN : Number(raw);
  return NaN;
}

interface NumericAcc {
  feature: NumericFeature;
  raw: Moments;
  missing: number;
  /** Index of the first standardize without mean/std, and the pipeline before it. */
  standardizeAt: number;
  before: NumericFeature | null;
  pre: Moments;
}

interface IndexedAcc {
  feature: IndexedFeature;
  counts: Map<string, number> | null; // null for hashed features: no vocabulary to fit
  missing: number;
}

/** Collects what a spec's transforms need, row by row. */
export class SpecFitter {
  private rows = 0;
  private readonly numeric = new Map<string, NumericAcc>();
  private readonly indexed = new Map<string, IndexedAcc>();
  private readonly labels = new Map<string, { label: Label; moments: Moments; missing: number; positives: number }>();

  /** `fixed` vocabularies (entity ids) are kept as given rather than fitted by frequency. */
  constructor(
    readonly spec: FeatureSpec,
    readonly fixed: Vocabularies = {},
  ) {
    for (const f of spec.features) {
      if (f.kind === 'numeric') {
        const at = f.transforms.findIndex(
          (t) => t.op === 'standardize' && (t.mean === undefined || t.std === undefined),
        );
        this.numeric.set(f.name, {
          feature: f,
          raw: new Moments(),
          missing: 0,
          standardizeAt: at,
          before: at >= 0 ? { ...f, transforms: f.transforms.slice(0, at) } : null,
          pre: new Moments(),
        });
      } else {
        const fitted = f.buckets === undefined && !(vocabularyName(f) in fixed);
        this.indexed.set(f.name, { feature: f, counts: fitted ? new Map() : null, missing: 0 });
      }
    }
    for (const l of spec.labels)
      this.labels.set(l.name, { label: l, moments: new Moments(), missing: 0, positives: 0 });
  }

  /** Counts one raw value of a feature (call once per row the feature appears in). */
  addFeature(feature: Feature, raw: RawValue): void {
    if (feature.kind === 'numeric') {
      const acc = this.numeric.get(feature.name)!;
      const x = toNumber(Array.isArray(raw) ? raw[0] : (raw as RawValue));
      if (Number.isFinite(x)) acc.raw.add(x);
      else acc.missing++;
      if (acc.before) acc.pre.add(transformNumeric(acc.before, Number.isFinite(x) ? x : null));
      return;
    }
    const acc = this.indexed.get(feature.name)!;
    if (feature.kind === 'categorical') {
      // The common case (every Criteo column), without the list the multi-valued kinds need.
      const v = Array.isArray(raw) ? raw[0] : raw;
      if (isMissing(v)) acc.missing++;
      else if (acc.counts) {
        const key = typeof v === 'string' ? v.trim() : String(v);
        acc.counts.set(key, (acc.counts.get(key) ?? 0) + 1);
      }
      return;
    }
    const values = splitValues(feature, raw);
    if (values.length === 0) acc.missing++;
    if (!acc.counts) return;
    for (const v of values) {
      if (isMissing(v as RawValue)) continue;
      const key = typeof v === 'string' ? v.trim() : String(v);
      acc.counts.set(key, (acc.counts.get(key) ?? 0) + 1);
    }
  }

  /** Counts one label value. */
  addLabel(name: string, value: number): void {
    const acc = this.labels.get(name);
    if (!acc) return;
    if (!Number.isFinite(value)) {
      acc.missing++;
      return;
    }
    acc.moments.add(value);
    if (value > 0.5) acc.positives++;
  }

  /** Marks one more row seen (for label and feature counts). */
  row(): void {
    this.rows++;
  }

  /** The fitted spec, vocabularies (fixed ones included) and statistics. */
  fit(): { spec: FeatureSpec; vocabularies: Vocabularies; statistics: DatasetStatistics } {
    const vocabularies: Vocabularies = { ...this.fixed };
    const statistics: DatasetStatistics = {};
    const features = this.spec.features.map((f): Feature => {
      if (f.kind === 'numeric') {
        const acc = this.numeric.get(f.name)!;
        statistics[f.name] = {
          kind: 'numeric',
          count: acc.raw.count + acc.missing,
          missing: acc.missing,
          ...(acc.raw.count ? { mean: acc.raw.mean, std: acc.raw.std, min: acc.raw.min, max: acc.raw.max } : {}),
        };
        if (acc.standardizeAt < 0) return f;
        // A constant column standardizes to 0 rather than dividing by 0.
        const std = acc.pre.std > 0 ? acc.pre.std : 1;
        const transforms = f.transforms.map((t, j) =>
          j === acc.standardizeAt ? { op: 'standardize' as const, mean: acc.pre.mean, std } : t,
        );
        return { ...f, transforms };
      }
      const acc = this.indexed.get(f.name)!;
      const stat: FeatureStatistics = { kind: f.kind, count: Math.max(this.rows, acc.missing), missing: acc.missing };
      if (acc.counts) {
        const sorted = [...acc.counts.entries()].sort(
          (a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0),
        );
        const kept = sorted.filter(([, c]) => c >= (f.minCount ?? 1)).slice(0, f.maxSize ?? Infinity);
        const name = vocabularyName(f);
        // Features sharing a vocabulary: the first fitted wins (they name the same values).
        if (!(name in vocabularies)) vocabularies[name] = kept.map(([v]) => v);
        stat.distinct = sorted.length;
        stat.vocabularySize = vocabularies[name].length;
        stat.top = sorted.slice(0, 10);
      } else if (f.buckets === undefined) {
        stat.vocabularySize = vocabularies[vocabularyName(f)]?.length ?? 0;
      }
      statistics[f.name] = stat;
      return f;
    });
    for (const [name, acc] of this.labels) {
      const m = acc.moments;
      statistics[`label:${name}`] =
        acc.label.kind === 'binary'
          ? {
              kind: 'binary',
              count: m.count + acc.missing,
              missing: acc.missing,
              positives: acc.positives,
              rate: m.count ? acc.positives / m.count : 0,
            }
          : {
              kind: 'regression',
              count: m.count + acc.missing,
              missing: acc.missing,
              ...(m.count ? { mean: m.mean, std: m.std, min: m.min, max: m.max } : {}),
            };
    }
    return { spec: { ...this.spec, features }, vocabularies, statistics };
  }
}
