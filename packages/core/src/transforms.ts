// The one transform module: raw value → model-ready number or indices. Ingest uses it offline,
// the edge and the runtime online, so the same raw value gives the same tensor everywhere.
// Numeric outputs are rounded to float32 (Math.fround) because that is what every tensor holds.
import {
  FIRST_INDEX,
  OOV_INDEX,
  PAD_INDEX,
  SpecError,
  featureSource,
  vocabularyName,
  type Feature,
  type FeatureSpec,
  type IndexedFeature,
  type NumericFeature,
  type Vocabularies,
} from './spec.ts';

/**
 * FNV-1a, 32-bit, over the UTF-8 bytes of `text` (offset basis 0x811c9dc5, prime 0x01000193).
 * Stable across JS engines and easy to reproduce elsewhere (Python, SQL, Rust).
 * @example fnv1a32('a') // 0xe40c292c
 */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  const byte = (b: number) => {
    h ^= b;
    h = Math.imul(h, 0x01000193);
  };
  // UTF-8 encoding inline: no TextEncoder allocation per value on the hot path.
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) byte(c);
    else if (c < 0x800) {
      byte(0xc0 | (c >> 6));
      byte(0x80 | (c & 63));
    } else if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      c = 0x10000 + ((c - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00);
      byte(0xf0 | (c >> 18));
      byte(0x80 | ((c >> 12) & 63));
      byte(0x80 | ((c >> 6) & 63));
      byte(0x80 | (c & 63));
    } else {
      if (c >= 0xd800 && c < 0xe000) c = 0xfffd; // lone surrogate: what TextEncoder writes
      byte(0xe0 | (c >> 12));
      byte(0x80 | ((c >> 6) & 63));
      byte(0x80 | (c & 63));
    }
  }
  return h >>> 0;
}

/**
 * The index of `value` among `buckets` hash buckets: FIRST_INDEX + fnv1a32(value) % buckets.
 * @example hashBucket('FR', 100) // always the same integer in [2, 102)
 */
export function hashBucket(value: string, buckets: number): number {
  return FIRST_INDEX + (fnv1a32(value) % buckets);
}

/** A vocabulary ready for lookups: value → index (FIRST_INDEX-based). */
export type VocabLookup = ReadonlyMap<string, number>;

/**
 * Builds the lookup for a vocabulary list: `values[j]` → `j + FIRST_INDEX`.
 * @example vocabLookup(['Action', 'Comedy']).get('Comedy') // 3
 */
export function vocabLookup(values: readonly string[]): VocabLookup {
  const map = new Map<string, number>();
  values.forEach((v, j) => map.set(v, j + FIRST_INDEX));
  return map;
}

/** Vocabulary lookups built once per spec, reused for every row. */
export type Lookups = ReadonlyMap<string, VocabLookup>;

/**
 * Builds a lookup for every vocabulary the spec's indexed features use.
 * @example const lookups = buildLookups(spec, vocabularies); transformRow(spec, row, lookups);
 */
export function buildLookups(spec: Pick<FeatureSpec, 'features'>, vocabularies: Vocabularies): Lookups {
  const out = new Map<string, VocabLookup>();
  for (const f of spec.features) {
    if (f.kind === 'numeric' || f.buckets !== undefined) continue;
    const name = vocabularyName(f);
    if (out.has(name)) continue;
    const values = vocabularies[name];
    if (!values) throw new SpecError(`${f.name}: vocabulary "${name}" is missing`);
    out.set(name, vocabLookup(values));
  }
  return out;
}

/** A raw scalar as it arrives from CSV, JSON or a feature store. */
export type RawScalar = string | number | boolean | null | undefined;
/** A raw value: a scalar, or a list for multi-hot and sequence features. */
export type RawValue = RawScalar | readonly RawScalar[];

function isMissing(v: RawScalar): v is null | undefined | '' {
  return v === null || v === undefined || v === '';
}

/** Upper-bound search: the number of boundaries ≤ x, so values equal to a boundary go right. */
function bucketOf(boundaries: readonly number[], x: number): number {
  let lo = 0;
  let hi = boundaries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (boundaries[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Applies a numeric feature's pipeline (log1p, clip, standardize, bucketize, in the spec's order).
 * Missing or non-numeric input takes `fill`. log1p of values below 0 uses 0 (counts, prices).
 * @example transformNumeric({ name: 'item:price', kind: 'numeric', fill: 0, transforms: [{ op: 'log1p' }] }, 9) // ≈
 * 2.3026
 */
export function transformNumeric(feature: NumericFeature, raw: RawScalar): number {
  let x = isMissing(raw)
    ? NaN
    : typeof raw === 'number'
      ? raw
      : typeof raw === 'boolean'
        ? Number(raw)
        : Number(raw.trim());
  if (!Number.isFinite(x)) x = feature.fill;
  for (const t of feature.transforms) {
    switch (t.op) {
      case 'log1p':
        x = Math.log1p(Math.max(0, x));
        break;
      case 'clip':
        if (t.min !== undefined && x < t.min) x = t.min;
        if (t.max !== undefined && x > t.max) x = t.max;
        break;
      case 'standardize':
        if (t.mean === undefined || t.std === undefined)
          throw new SpecError(`${feature.name}: standardize has no fitted mean/std (run vireo ingest to fit them)`);
        x = (x - t.mean) / t.std;
        break;
      case 'bucketize':
        x = bucketOf(t.boundaries, x);
        break;
    }
  }
  return Math.fround(x);
}

function scalarKey(v: RawScalar): string {
  return typeof v === 'string' ? v.trim() : String(v);
}

function lookupFor(feature: IndexedFeature, lookups: Lookups): VocabLookup | null {
  if (feature.buckets !== undefined) return null;
  const lookup = lookups.get(vocabularyName(feature));
  if (!lookup) throw new SpecError(`${feature.name}: vocabulary "${vocabularyName(feature)}" is missing`);
  return lookup;
}

function encodeOne(feature: IndexedFeature, lookup: VocabLookup | null, v: RawScalar): number {
  if (isMissing(v)) return PAD_INDEX;
  const key = scalarKey(v);
  if (key === '') return PAD_INDEX;
  if (lookup === null) return hashBucket(key, feature.buckets!);
  return lookup.get(key) ?? OOV_INDEX;
}

/**
 * Encodes one categorical value: vocabulary index, hash bucket, OOV_INDEX for unknown values,
 * PAD_INDEX for missing ones.
 * @example encodeCategorical({ name: 'context:device', kind: 'categorical' }, 'mobile', lookups) // 2
 */
export function encodeCategorical(feature: IndexedFeature, raw: RawScalar, lookups: Lookups): number {
  return encodeOne(feature, lookupFor(feature, lookups), raw);
}

/** Splits a raw multi-valued input: a list as is, a string on the feature's separator. */
export function splitValues(feature: { separator: string }, raw: RawValue): RawScalar[] {
  if (Array.isArray(raw)) return raw as RawScalar[];
  if (isMissing(raw as RawScalar)) return [];
  return String(raw)
    .split(feature.separator)
    .filter((s) => s.trim() !== '');
}

/**
 * Encodes a multi-hot value into `out` (length L = maxLength): the first L values, then PAD.
 * Duplicates are kept once, so a bag sums each value once.
 * @example encodeMultiHot(genres, 'Action|Comedy', lookups) // Int32Array [2, 3, 0, 0]
 */
export function encodeMultiHot(
  feature: IndexedFeature & { maxLength: number; separator: string },
  raw: RawValue,
  lookups: Lookups,
  out: Int32Array = new Int32Array(feature.maxLength),
): Int32Array {
  const lookup = lookupFor(feature, lookups);
  out.fill(PAD_INDEX);
  let n = 0;
  for (const v of splitValues(feature, raw)) {
    if (n >= feature.maxLength) break;
    const idx = encodeOne(feature, lookup, v);
    if (idx === PAD_INDEX) continue;
    let dup = false;
    for (let j = 0; j < n; j++) if (out[j] === idx) dup = true;
    if (!dup) out[n++] = idx;
  }
  return out;
}

/**
 * Encodes a sequence (oldest first) into `out` (length L): the most recent L values, oldest first,
 * right-padded with PAD.
 * @example encodeSequence(recentItems, ['a', 'b', 'c'], lookups) // with L = 2: [idx(b), idx(c)]
 */
export function encodeSequence(
  feature: IndexedFeature & { maxLength: number; separator: string },
  raw: RawValue,
  lookups: Lookups,
  out: Int32Array = new Int32Array(feature.maxLength),
): Int32Array {
  const lookup = lookupFor(feature, lookups);
  const values = splitValues(feature, raw);
  out.fill(PAD_INDEX);
  const start = Math.max(0, values.length - feature.maxLength);
  for (let i = start; i < values.length; i++) out[i - start] = encodeOne(feature, lookup, values[i]);
  return out;
}

/** The model-ready form of one feature: a float (numeric), an index (categorical) or L indices. */
export type FeatureValue = number | Int32Array;

/**
 * Transforms one raw value by its feature's kind.
 * @example transformValue(spec.features[0], '42', lookups)
 */
export function transformValue(feature: Feature, raw: RawValue, lookups: Lookups): FeatureValue {
  switch (feature.kind) {
    case 'numeric':
      return transformNumeric(feature, Array.isArray(raw) ? raw[0] : (raw as RawScalar));
    case 'categorical':
      return encodeCategorical(feature, Array.isArray(raw) ? raw[0] : (raw as RawScalar), lookups);
    case 'multi_hot':
      return encodeMultiHot(feature, raw, lookups);
    case 'sequence':
      return encodeSequence(feature, raw, lookups);
  }
}

/**
 * Transforms every feature of the spec (or only those whose view is in `views`) from a raw row
 * keyed by source column. Returns feature name → value.
 * @example transformRow(spec, { hour: '13', device: 'mobile' }, lookups, ['context'])
 */
export function transformRow(
  spec: Pick<FeatureSpec, 'features'>,
  row: Readonly<Record<string, RawValue>>,
  lookups: Lookups,
  views?: readonly string[],
): Record<string, FeatureValue> {
  const out: Record<string, FeatureValue> = {};
  for (const f of spec.features) {
    if (views && !views.includes(f.name.slice(0, f.name.indexOf(':')))) continue;
    out[f.name] = transformValue(f, row[featureSource(f)], lookups);
  }
  return out;
}
