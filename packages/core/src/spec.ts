// The feature spec: one JSON document that says, for every feature the models see, where its raw
// value comes from, what kind it is and how it becomes a number or an index. Ingest writes it
// (with fitted statistics filled in), the bundle carries it, the edge and the runtime read it.
//
// Index conventions for every categorical kind (categorical, multi_hot, sequence):
//   0 = PAD (missing value, or an unused slot of a multi-hot / sequence row)
//   1 = OOV (a value not in the vocabulary)
//   2.. = vocabulary entries (vocabulary[j] → j + 2), or hash buckets (bucket b → b + 2)
// so an embedding table for a feature has `cardinality(feature, vocabularies)` rows.
import { z } from 'zod';

/** Index of padding / missing values in every categorical feature. */
export const PAD_INDEX = 0;
/** Index of out-of-vocabulary values in every categorical feature. */
export const OOV_INDEX = 1;
/** First index used by vocabulary entries and hash buckets. */
export const FIRST_INDEX = 2;

const POSITIVE_INT = 'expected a positive integer';
const positiveInt = z.int({ error: POSITIVE_INT }).positive({ error: POSITIVE_INT });
const finite = z
  .number({ error: 'expected a finite number' })
  .refine(Number.isFinite, { error: 'expected a finite number' });

/** `view:name`, e.g. `user:age_bucket`, `item:genres`, `context:hour`. */
export const featureRefSchema = z
  .string({ error: 'expected a feature reference such as "user:age"' })
  .regex(/^(user|item|context):[A-Za-z0-9_.-]+$/, {
    error: 'expected "view:name" with view one of user, item, context (e.g. "item:genres")',
  });

/** One step of a numeric feature's transform pipeline, applied in order. */
export const numericTransformSchema = z.discriminatedUnion(
  'op',
  [
    z.strictObject({ op: z.literal('log1p') }),
    z.strictObject({ op: z.literal('clip'), min: finite.optional(), max: finite.optional() }),
    // mean/std are fitted by ingest when absent; a spec without them cannot transform yet.
    z.strictObject({
      op: z.literal('standardize'),
      mean: finite.optional(),
      std: finite.refine((s) => s > 0, { error: 'expected a positive number' }).optional(),
    }),
    z.strictObject({
      op: z.literal('bucketize'),
      boundaries: z
        .array(finite)
        .min(1, { error: 'expected at least one boundary' })
        .refine((b) => b.every((x, i) => i === 0 || x > b[i - 1]), {
          error: 'expected strictly increasing boundaries',
        }),
    }),
  ],
  { error: 'expected op to be one of log1p, clip, standardize, bucketize' },
);

const base = {
  name: featureRefSchema,
  /** Raw column (CSV header, JSON key, Parquet column); defaults to the part of `name` after the colon. */
  source: z.string().min(1).optional(),
  /** Embedding width hint for the model builder. */
  dim: positiveInt.optional(),
  description: z.string().optional(),
};

/** Shared by every categorical kind: a learned vocabulary (default) or hash buckets. */
const categoricalEncoding = {
  /** Hash buckets: the value's FNV-1a hash modulo `buckets` (no vocabulary needed). */
  buckets: positiveInt.optional(),
  /** Vocabulary name in the `vocabularies` map; defaults to the feature name. Ignored when `buckets` is set. */
  vocabulary: z.string().min(1).optional(),
  /** Vocabulary fitting at ingest: values seen fewer times become OOV. */
  minCount: positiveInt.optional(),
  /** Vocabulary fitting at ingest: keep the most frequent `maxSize` values. */
  maxSize: positiveInt.optional(),
};

export const numericFeatureSchema = z.strictObject({
  ...base,
  kind: z.literal('numeric'),
  transforms: z.array(numericTransformSchema).default([]),
  /** Raw value used when the input is missing or not a number (before transforms). */
  fill: finite.default(0),
});

export const categoricalFeatureSchema = z.strictObject({
  ...base,
  kind: z.literal('categorical'),
  ...categoricalEncoding,
});

export const multiHotFeatureSchema = z.strictObject({
  ...base,
  kind: z.literal('multi_hot'),
  ...categoricalEncoding,
  /** L: values kept per row (first L), the rest of the row is PAD. */
  maxLength: positiveInt,
  /** Separator when the raw value is one string, e.g. MovieLens genres "Action|Comedy". */
  separator: z.string().min(1).default('|'),
});

export const sequenceFeatureSchema = z.strictObject({
  ...base,
  kind: z.literal('sequence'),
  ...categoricalEncoding,
  /** L: the most recent L values are kept, oldest first, right-padded with PAD. */
  maxLength: positiveInt,
  separator: z.string().min(1).default('|'),
});

export const featureSchema = z.discriminatedUnion(
  'kind',
  [numericFeatureSchema, categoricalFeatureSchema, multiHotFeatureSchema, sequenceFeatureSchema],
  {
    error: 'expected kind to be one of numeric, categorical, multi_hot, sequence',
  },
);

export const labelSchema = z.strictObject({
  /** e.g. `click`, `conversion`, `revenue`, `rating`. */
  name: z.string().regex(/^[A-Za-z0-9_]+$/, { error: 'expected a plain name such as "click"' }),
  source: z.string().min(1).optional(),
  kind: z.enum(['binary', 'regression'], { error: 'expected kind to be binary or regression' }),
  /** Value of a missing label (an empty cell, an absent key), e.g. 0 for the revenue of a row without an order;
   * without it a row missing the label is malformed. A binary label's fill is 0 or 1. */
  fill: finite.optional(),
});

export const featureSpecSchema = z
  .strictObject({
    version: z.literal(1, { error: 'expected version 1' }).default(1),
    name: z.string().optional(),
    /** Raw columns holding the entity keys; `item` or `user` may be absent (e.g. Criteo logs). */
    entities: z
      .strictObject({
        user: z.strictObject({ key: z.string().min(1) }).optional(),
        item: z.strictObject({ key: z.string().min(1) }).optional(),
      })
      .default({}),
    /** Raw column holding the event time (unix seconds, milliseconds or an ISO date). */
    timestamp: z.string().min(1).optional(),
    features: z.array(featureSchema),
    labels: z.array(labelSchema).default([]),
  })
  .superRefine((spec, ctx) => {
    const seen = new Map<string, number>();
    spec.features.forEach((f, i) => {
      const prev = seen.get(f.name);
      if (prev !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['features', i, 'name'],
          message: `duplicate feature "${f.name}" (also features[${prev}])`,
        });
      seen.set(f.name, i);
      if (f.kind === 'numeric') {
        f.transforms.forEach((t, j) => {
          if (t.op === 'clip' && t.min !== undefined && t.max !== undefined && t.min > t.max) {
            ctx.addIssue({
              code: 'custom',
              path: ['features', i, 'transforms', j, 'max'],
              message: 'expected max ≥ min',
            });
          }
          if (t.op === 'bucketize' && j !== f.transforms.length - 1) {
            ctx.addIssue({
              code: 'custom',
              path: ['features', i, 'transforms', j],
              message: 'expected bucketize to be the last transform',
            });
          }
        });
      }
    });
    const labels = new Set<string>();
    spec.labels.forEach((l, i) => {
      if (l.kind === 'binary' && l.fill !== undefined && l.fill !== 0 && l.fill !== 1)
        ctx.addIssue({ code: 'custom', path: ['labels', i, 'fill'], message: 'expected 0 or 1 for a binary label' });
      if (labels.has(l.name))
        ctx.addIssue({ code: 'custom', path: ['labels', i, 'name'], message: `duplicate label "${l.name}"` });
      labels.add(l.name);
    });
  });

/** A validated feature spec (defaults filled in). */
export type FeatureSpec = z.output<typeof featureSpecSchema>;
/** A feature spec as written by hand (defaults optional). */
export type FeatureSpecInput = z.input<typeof featureSpecSchema>;
export type Feature = z.output<typeof featureSchema>;
export type NumericFeature = z.output<typeof numericFeatureSchema>;
export type CategoricalFeature = z.output<typeof categoricalFeatureSchema>;
export type MultiHotFeature = z.output<typeof multiHotFeatureSchema>;
export type SequenceFeature = z.output<typeof sequenceFeatureSchema>;
export type IndexedFeature = CategoricalFeature | MultiHotFeature | SequenceFeature;
export type NumericTransform = z.output<typeof numericTransformSchema>;
export type Label = z.output<typeof labelSchema>;
export type FeatureView = 'user' | 'item' | 'context';
/** Vocabulary name → its values; value `vocabularies[v][j]` encodes as index `j + FIRST_INDEX`. */
export type Vocabularies = Record<string, string[]>;

/** A document that failed validation; `message` names the first bad path, `issues` lists them all. */
export class SpecError extends Error {
  constructor(
    message: string,
    readonly issues: string[] = [message],
  ) {
    super(message);
    this.name = 'SpecError';
  }
}

/** Renders a zod path as `features[3].buckets`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(root)';
}

/** Turns a zod error into one line per issue, each led by its path. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

/**
 * Validates a feature spec (an object or a JSON string) and fills defaults.
 * Throws a {@link SpecError} whose message names the path of the first problem.
 * @example
 * const spec = parseFeatureSpec({ features: [{ name: 'item:genres', kind: 'multi_hot', maxLength: 4 }] });
 * // parseFeatureSpec({ features: [{ name: 'item:id', kind: 'categorical', buckets: -1 }] })
 * //   throws "features[0].buckets: expected a positive integer"
 */
export function parseFeatureSpec(json: unknown): FeatureSpec {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (err) {
      throw new SpecError(`feature spec is not valid JSON: ${(err as Error).message}`);
    }
  }
  const result = featureSpecSchema.safeParse(value);
  if (!result.success) {
    const issues = formatIssues(result.error);
    throw new SpecError(issues[0], issues);
  }
  return result.data;
}

/** The view of a feature reference: `item:genres` → `item`. */
export function featureView(name: string): FeatureView {
  return name.slice(0, name.indexOf(':')) as FeatureView;
}

/** The raw column a feature reads: `source`, else the part of the name after the colon. */
export function featureSource(feature: Pick<Feature, 'name' | 'source'>): string {
  return feature.source ?? feature.name.slice(feature.name.indexOf(':') + 1);
}

/** True for kinds that encode to indices into an embedding table. */
export function isIndexed(feature: Feature): feature is IndexedFeature {
  return feature.kind !== 'numeric';
}

/** The vocabulary name an indexed feature uses (its own name unless it shares one). */
export function vocabularyName(feature: IndexedFeature): string {
  return feature.vocabulary ?? feature.name;
}

/**
 * Rows an embedding table needs for this feature: PAD + OOV + vocabulary or buckets.
 * Numeric features that end in `bucketize` are categorical too: boundaries.length + 1 buckets, no PAD/OOV.
 * @example cardinality({ name: 'item:id', kind: 'categorical', buckets: 1000 }, {}) // 1002
 */
export function cardinality(feature: Feature, vocabularies: Vocabularies): number {
  if (feature.kind === 'numeric') {
    const last = feature.transforms[feature.transforms.length - 1];
    return last?.op === 'bucketize' ? last.boundaries.length + 1 : 0;
  }
  if (feature.buckets !== undefined) return FIRST_INDEX + feature.buckets;
  const vocab = vocabularies[vocabularyName(feature)];
  if (!vocab) throw new SpecError(`${feature.name}: vocabulary "${vocabularyName(feature)}" is missing`);
  return FIRST_INDEX + vocab.length;
}
