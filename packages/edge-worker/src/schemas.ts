// The request and response schemas of the edge API: validation and the OpenAPI document come
// from the same zod objects. Identifiers are restricted to a safe alphabet, so that a client
// cannot slip quotes, spaces, control characters or path separators into keys.
import { z } from '@hono/zod-openapi';

/**
 * User, item and event identifiers: letters, digits and . _ : @ + - | ; at most 128 characters. `|` is in
 * the subjects of Auth0 and others (`auth0|5f3a9b`, `google-oauth2|1234`), which apps use as user ids.
 */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@+|-]{0,127}$/;
export const idSchema = z.string().regex(ID_PATTERN, {
  error:
    'expected an id of letters, digits and . _ : @ + - | (at most 128 characters, starting with a letter or digit)',
});

/** Raw feature (column) names; `__proto__` is refused (it cannot be a key of a JSON object in JavaScript). */
export const FEATURE_NAME = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
export const featureNameSchema = z
  .string()
  .regex(FEATURE_NAME, { error: 'expected a feature name of letters, digits and _ . - (at most 64 characters)' });

/** `view:name` references as in the feature spec. */
export const featureRefSchema = z
  .string()
  .regex(/^(user|item|context):[A-Za-z0-9_.-]{1,64}$/, { error: 'expected a feature reference such as "user:age"' });

export const MAX_STRING = 1024;
export const MAX_LIST = 1024;
const finite = z.number().refine(Number.isFinite, { error: 'expected a finite number' });
const boundedNumber = finite.refine((x) => Math.abs(x) <= 1e15, {
  error: 'expected a number with magnitude at most 1e15',
});
const boundedString = z.string().max(MAX_STRING, { error: `expected at most ${MAX_STRING} characters` });

export const featureValueSchema = z
  .union([
    boundedNumber,
    boundedString,
    z.boolean(),
    z.null(),
    z.array(z.union([boundedNumber, boundedString])).max(MAX_LIST, { error: `expected at most ${MAX_LIST} values` }),
  ])
  .openapi('FeatureValue', {
    description: 'A number, string, boolean, null, or a flat list of numbers/strings (multi-hot, sequence).',
  });

/** The latest event time in milliseconds the API takes (2100-01-01). */
export const MAX_TS_MS = 4_102_444_800_000;
/** Event time: milliseconds since the epoch, or an ISO 8601 date-time. */
export const timestampSchema = z.union([z.int().min(0).max(MAX_TS_MS), z.iso.datetime({ offset: true })]);

export const pushRowSchema = z
  .strictObject({
    entity: z.enum(['user', 'item']),
    id: idSchema,
    features: z
      .record(featureNameSchema, featureValueSchema)
      .refine((f) => Object.keys(f).length >= 1 && Object.keys(f).length <= 256, {
        error: 'expected 1 to 256 features',
      }),
    event_ts: timestampSchema
      .optional()
      .openapi({ description: 'When the values became true (ms or ISO); default: now.' }),
  })
  .openapi('FeatureRow');

export const pushRequestSchema = z
  .strictObject({
    rows: z.array(pushRowSchema).min(1).max(5000),
    model: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/)
      .optional()
      .openapi({ description: "Validate against this model's feature spec (default: the edge's spec model)." }),
  })
  .openapi('FeaturePushRequest');

export const pushResponseSchema = z
  .object({
    rows: z.number(),
    written: z.number().openapi({ description: 'Feature values stored.' }),
    stale: z.number().openapi({ description: 'Values older (by event time) than the stored ones, kept out.' }),
    spec: z.object({ model: z.string(), version: z.string() }).nullable(),
  })
  .openapi('FeaturePushResponse');

export const statusSchema = z.enum(['PRESENT', 'NOT_FOUND', 'OUTSIDE_MAX_AGE']);

export const onlineRequestSchema = z
  .strictObject({
    features: z.array(featureRefSchema).min(1).max(256),
    entities: z.strictObject({
      user_id: z.array(idSchema).min(1).max(1000).optional(),
      item_id: z.array(idSchema).min(1).max(1000).optional(),
    }),
    max_age_s: z
      .number()
      .positive()
      .max(10 * 365 * 86400)
      .optional()
      .openapi({ description: 'Values older than this are OUTSIDE_MAX_AGE.' }),
    transform: z
      .boolean()
      .optional()
      .openapi({ description: "Answer model-ready values: features are then the spec's feature names." }),
    model: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/)
      .optional(),
  })
  .openapi('OnlineFeaturesRequest');

export const onlineResponseSchema = z
  .object({
    metadata: z.object({
      feature_names: z.array(z.string()),
      model: z.object({ name: z.string(), version: z.string() }).nullable(),
    }),
    results: z.array(
      z.object({
        values: z.array(z.unknown()),
        statuses: z.array(statusSchema),
        event_timestamps: z.array(z.number().nullable()),
      }),
    ),
  })
  .openapi('OnlineFeaturesResponse');

export const entityFeaturesQuerySchema = z.object({
  features: z.string().max(4096).optional().openapi({ description: 'Comma-separated feature names (default: all).' }),
  max_age_s: z.coerce
    .number({ error: 'expected a number of seconds' })
    .positive()
    .max(10 * 365 * 86400)
    .optional(),
  transform: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .openapi({ description: 'Add model-ready values transformed with the spec.' }),
  model: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/)
    .optional(),
});

export const entityFeaturesResponseSchema = z
  .object({
    entity: z.enum(['user', 'item']),
    id: z.string(),
    found: z.boolean(),
    features: z.record(z.string(), z.unknown()),
    statuses: z.record(z.string(), statusSchema),
    event_timestamps: z.record(z.string(), z.number().nullable()),
    realtime: z.record(z.string(), z.unknown()).nullable(),
    model_ready: z
      .object({ model: z.string(), version: z.string(), values: z.record(z.string(), z.unknown()) })
      .optional(),
  })
  .openapi('EntityFeatures');

export const EVENT_TYPE = /^[a-z][a-z0-9_]{0,31}$/;
export const CONTEXT_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Bounds of an event's context: keys, string length, list length (see eventSchema). */
export const CONTEXT_LIMITS = { keys: 32, string: 256, list: 32 } as const;
const contextKey = z.string().regex(CONTEXT_KEY, { error: 'expected context keys of letters, digits and _' });
const contextValue = z.union([
  boundedNumber,
  z.string().max(CONTEXT_LIMITS.string),
  z.boolean(),
  z.null(),
  z.array(z.union([boundedNumber, z.string().max(CONTEXT_LIMITS.string)])).max(CONTEXT_LIMITS.list),
]);

export const eventSchema = z
  .strictObject({
    event_id: idSchema,
    user_id: idSchema,
    item_id: idSchema,
    type: z.string().regex(EVENT_TYPE, { error: 'expected a type such as "click" (lowercase letters, digits, _)' }),
    value: boundedNumber.nullable().optional(),
    ts: timestampSchema,
    context: z
      .record(contextKey, contextValue)
      .refine((c) => Object.keys(c).length <= CONTEXT_LIMITS.keys, { error: 'expected at most 32 context keys' })
      .optional(),
  })
  .openapi('Event');

export const eventsRequestSchema = z
  .strictObject({
    events: z
      .array(z.unknown())
      .min(1, { error: 'expected at least one event' })
      .max(1000, { error: 'expected at most 1,000 events per batch' })
      .openapi({ description: 'Up to 1,000 events (see the Event schema); each is validated on its own.' }),
  })
  .openapi('EventBatch');

export const eventsResponseSchema = z
  .object({
    accepted: z.number(),
    duplicate: z.number(),
    rejected: z.number(),
    rejections: z.array(z.object({ index: z.number(), event_id: z.string().nullable(), reasons: z.array(z.string()) })),
  })
  .openapi('EventBatchResult');

export const errorSchema = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), details: z.unknown() }),
  })
  .openapi('Error');

export const MODEL_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const MODEL_VERSION = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/;
export const modelParams = z.object({
  name: z.string().regex(MODEL_NAME, { error: 'expected a model name of lowercase letters, digits, - and _' }),
});
export const versionParams = modelParams.extend({
  version: z.string().regex(MODEL_VERSION, { error: 'expected a version of letters, digits and _ . + -' }),
});
export const fileParams = versionParams.extend({
  file: z
    .string()
    .max(256)
    .regex(/^[A-Za-z0-9_.-][A-Za-z0-9_./-]*$/, { error: 'expected a relative file name' })
    .refine((f) => !f.split('/').some((p) => p === '' || p === '.' || p === '..'), {
      error: 'expected a file name without empty, "." or ".." parts',
    }),
});

export const versionSummarySchema = z
  .object({
    version: z.string(),
    created_at: z.number(),
    created_by: z.string(),
    complete: z.boolean(),
    bytes: z.number(),
    files: z.array(z.object({ name: z.string(), bytes: z.number(), sha256: z.string(), uploaded: z.boolean() })),
  })
  .openapi('ModelVersion');

const promotionEntrySchema = z
  .object({
    seq: z.number(),
    action: z.enum(['promote', 'rollback']),
    version: z.string(),
    at: z.number(),
    by: z.string(),
  })
  .openapi('PromotionEntry');

export const modelSummarySchema = z
  .object({
    name: z.string(),
    promoted: z.string().nullable(),
    versions: z.array(versionSummarySchema).openapi({ description: 'A page of versions, oldest first' }),
    next: z
      .string()
      .nullable()
      .openapi({ description: 'The cursor to ask `after` for the next page of versions; null after the last page' }),
    highestDeleted: z
      .string()
      .nullable()
      .openapi({
        description:
          'The largest whole-number version among deleted ones, null when none: deleted versions cannot be ' +
          'published again, so a publisher numbering versions goes past it',
      }),
    rollbackTo: z.string().nullable().openapi({
      description: 'The version a rollback would return to (promoted before the promoted one); null if none',
    }),
    history: z
      .array(promotionEntrySchema)
      .openapi({ description: 'The newest entries of the promotion history (at most 20), oldest first' }),
    historyBefore: z.string().nullable().openapi({
      description: 'The cursor of older entries (`before` at /promotions); null when the history is whole',
    }),
  })
  .openapi('Model');

export const promotionsPageSchema = z
  .object({
    name: z.string(),
    promotions: z.array(promotionEntrySchema).openapi({ description: 'A page of the promotion history, oldest first' }),
    before: z
      .string()
      .nullable()
      .openapi({ description: 'The cursor to ask `before` for the page of older entries; null after the first entry' }),
  })
  .openapi('PromotionHistory');

export const promotionResponseSchema = z
  .object({
    name: z.string(),
    promoted: z.string(),
    previous: z.string().nullable(),
  })
  .openapi('Promotion');

export const deletionResponseSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    files: z.number().openapi({ description: 'Files removed from storage, manifest.json included' }),
    bytes: z.number().openapi({ description: 'Their bytes' }),
  })
  .openapi('Deletion');

export const uploadResponseSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    file: z.string(),
    result: z.enum(['created', 'stored', 'identical']),
    missing: z.array(z.string()),
  })
  .openapi('Upload');

/**
 * The `after` query of the export routes and of a model's versions: '0' or the `next` of an earlier page
 * (docs/ARCHITECTURE.md §7).
 */
export const exportCursor = (what: string) =>
  z
    .string()
    .regex(/^(0|[1-9][0-9]{0,14})$/, { error: "expected a cursor: '0' or the 'next' of an earlier answer" })
    .optional()
    .openapi({ description: `Cursor: ${what} after it. '0' (the default) is the beginning.` });

/** The `limit` query of the export routes and of a model's versions: 1 to 1,000 rows a page. */
export const exportLimit = (description: string) =>
  z.coerce
    .number({ error: 'expected an integer from 1 to 1,000' })
    .int({ error: 'expected an integer' })
    .min(1, { error: 'expected at least 1' })
    .max(1000, { error: 'expected at most 1,000' })
    .optional()
    .openapi({ description });
