// The model bundle's manifest (docs/ARCHITECTURE.md, "The bundle") and its integrity check. A bundle is a
// folder or URL prefix holding `manifest.json` and the files it lists; each file's sha256 is checked
// before use so that a half-uploaded or tampered bundle is refused.
import { z } from 'zod';
import { SpecError, featureSpecSchema, formatIssues } from './spec.ts';

const nonNegativeInt = z
  .int({ error: 'expected a non-negative integer' })
  .nonnegative({ error: 'expected a non-negative integer' });
const positiveInt = z.int({ error: 'expected a positive integer' }).positive({ error: 'expected a positive integer' });

/** One file of the bundle. */
export const bundleFileSchema = z.strictObject({
  /** Path relative to the manifest, e.g. `items.safetensors`. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-][A-Za-z0-9_./-]*$/, { error: 'expected a relative file name without ".." or leading "/"' })
    .refine((n) => !n.split('/').includes('..'), { error: 'expected a relative file name without ".."' }),
  bytes: nonNegativeInt,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: 'expected 64 lowercase hex digits' }),
});

/** Two-tower retrieval: user tower and item tower dimensions. Other fields are kept as written. */
export const retrievalArchitectureSchema = z.looseObject({
  /** D: the shared user/item embedding width. */
  embeddingDim: positiveInt,
  /** Hidden widths of the user tower MLP, e.g. [256, 128]. */
  userTowerLayers: z.array(positiveInt).default([]),
  itemTowerLayers: z.array(positiveInt).default([]),
  /** L: history length the user tower attends over. */
  historyLength: nonNegativeInt.default(0),
  attentionHeads: nonNegativeInt.default(0),
  temperature: z.number().positive().optional(),
});

/** DLRM ranking: bottom MLP, embedding tables, interaction, top MLP, task heads. */
export const rankingArchitectureSchema = z.looseObject({
  embeddingDim: positiveInt,
  bottomMlp: z.array(positiveInt),
  topMlp: z.array(positiveInt),
  interaction: z.enum(['dot', 'cat'], { error: 'expected interaction to be dot or cat' }),
  heads: z.array(z.enum(['ctr', 'cvr', 'revenue'], { error: 'expected heads from ctr, cvr, revenue' })).min(1),
  /** Dense (numeric) feature names in input order. */
  denseFeatures: z.array(z.string()).default([]),
  /** Sparse (embedded) feature names in table order. */
  sparseFeatures: z.array(z.string()).default([]),
});

/**
 * Where a version came from (written by `vireo refresh`): the version it was warm-started from,
 * the edge events it was trained on (cursor range of GET /v1/events/export), and the metrics of
 * both on the same held-out window. Optional: bundles written by `vireo train` have none.
 */
export const lineageSchema = z.looseObject({
  /** The promoted version this one was warm-started from (null: trained from scratch). */
  parent: z.string().nullable(),
  /** Events consumed: cursors `after` (exclusive) to `through` (inclusive), how many, their time range. */
  events: z
    .looseObject({
      after: z.string(),
      through: z.string(),
      count: z.int().nonnegative(),
      timeRange: z.object({ min: z.number(), max: z.number() }).nullable().optional(),
    })
    .optional(),
  /**
   * Items added without retraining (decision kind 'items-only'): cursors of GET /v1/features/export
   * (`after` exclusive, `through` inclusive), how many were added, their ids (the first 100).
   */
  items: z
    .looseObject({ after: z.string(), through: z.string(), count: z.int().nonnegative(), ids: z.array(z.string()) })
    .optional(),
  /** The parent's metrics on the same held-out window as this version's `metrics`. */
  parentMetrics: z.record(z.string(), z.unknown()).optional(),
  /**
   * What the refresh decided and why: { kind: 'retrain', promote, reason, margin, champion, challenger }
   * or { kind: 'items-only', promote: true, reason, seconds }.
   */
  decision: z.record(z.string(), z.unknown()).optional(),
});

export const bundleManifestSchema = z.strictObject({
  format: z.literal('vireo-bundle', { error: 'expected format "vireo-bundle"' }).default('vireo-bundle'),
  formatVersion: z.literal(1, { error: 'expected formatVersion 1' }).default(1),
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*$/, { error: 'expected a lowercase name of letters, digits, "-" and "_"' }),
  version: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.+-]*$/, { error: 'expected a version such as "3" or "2024-06-01.1"' }),
  createdAt: z.iso.datetime({ offset: true, error: 'expected an ISO 8601 date-time' }),
  architecture: z
    .strictObject({
      retrieval: retrievalArchitectureSchema.optional(),
      ranking: rankingArchitectureSchema.optional(),
    })
    .refine((a) => a.retrieval || a.ranking, { error: 'expected a retrieval or a ranking architecture (or both)' }),
  featureSpec: featureSpecSchema,
  /** Vocabulary name → values, `values[j]` encoding as index j + FIRST_INDEX. */
  vocabularies: z.record(z.string(), z.array(z.string())).default({}),
  files: z
    .array(bundleFileSchema)
    .min(1, { error: 'expected at least one file' })
    .refine((fs) => new Set(fs.map((f) => f.name)).size === fs.length, { error: 'expected unique file names' }),
  /** What the models were trained on: source, counts, splits, time range (free-form, from dataset.json). */
  trainingData: z.record(z.string(), z.unknown()).default({}),
  /** Evaluation results, e.g. { "retrieval": { "recall@100": 0.31 }, "ranking": { "auc.ctr": 0.78 } }. */
  metrics: z.record(z.string(), z.unknown()).default({}),
  /** Lineage of a refreshed version (optional). */
  lineage: lineageSchema.optional(),
  /**
   * True for a bundle that has no ranker by design: the registry then promotes it over a complete
   * version; a bundle without `ranking.safetensors` and without this flag is refused there.
   */
  retrievalOnly: z.boolean().optional(),
});

export type BundleFile = z.output<typeof bundleFileSchema>;
export type BundleManifest = z.output<typeof bundleManifestSchema>;
export type BundleManifestInput = z.input<typeof bundleManifestSchema>;
export type BundleLineage = z.output<typeof lineageSchema>;
export type RetrievalArchitecture = z.output<typeof retrievalArchitectureSchema>;
export type RankingArchitecture = z.output<typeof rankingArchitectureSchema>;

/**
 * Validates a manifest (object or JSON string). Throws a SpecError naming the first bad path,
 * e.g. `files[1].sha256: expected 64 lowercase hex digits`.
 * @example const manifest = parseBundleManifest(await (await fetch(`${url}/manifest.json`)).text());
 */
export function parseBundleManifest(json: unknown): BundleManifest {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (err) {
      throw new SpecError(`manifest is not valid JSON: ${(err as Error).message}`);
    }
  }
  const result = bundleManifestSchema.safeParse(value);
  if (!result.success) {
    const issues = formatIssues(result.error);
    throw new SpecError(issues[0], issues);
  }
  return result.data;
}

/**
 * SHA-256 of `bytes` as 64 lowercase hex digits, through Web Crypto (`crypto.subtle`), which Node 20,
 * browsers (secure contexts) and Workers all provide.
 * @example await sha256Hex(new TextEncoder().encode('abc')) // 'ba7816bf…f20015ad'
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  const view = new Uint8Array(digest);
  let hex = '';
  for (let i = 0; i < view.length; i++) hex += view[i].toString(16).padStart(2, '0');
  return hex;
}

/**
 * The manifest entry for a file's bytes.
 * @example manifest.files.push(await describeFile('items.safetensors', bytes));
 */
export async function describeFile(name: string, bytes: Uint8Array): Promise<BundleFile> {
  return { name, bytes: bytes.byteLength, sha256: await sha256Hex(bytes) };
}

/** A bundle file whose size or hash differs from its manifest entry. */
export class BundleIntegrityError extends Error {
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
    this.name = 'BundleIntegrityError';
  }
}

/**
 * Checks a fetched file against its manifest entry; throws a BundleIntegrityError that names the
 * file and what differs, so a loader can refuse the bundle and keep its last good version.
 * @example await verifyBundleFile(manifest, 'ranking.safetensors', bytes);
 */
export async function verifyBundleFile(
  manifest: Pick<BundleManifest, 'name' | 'version' | 'files'>,
  name: string,
  bytes: Uint8Array,
): Promise<void> {
  const entry = manifest.files.find((f) => f.name === name);
  const where = `bundle ${manifest.name}@${manifest.version}`;
  if (!entry) throw new BundleIntegrityError(`${where}: "${name}" is not listed in manifest.json`, name);
  if (bytes.byteLength !== entry.bytes)
    throw new BundleIntegrityError(
      `${where}: "${name}" is ${bytes.byteLength} bytes but the ` +
        `manifest says ${entry.bytes}; the bundle is incomplete or corrupt`,
      name,
    );
  const actual = await sha256Hex(bytes);
  if (actual !== entry.sha256)
    throw new BundleIntegrityError(
      `${where}: "${name}" has sha256 ${actual} but the manifest ` +
        `says ${entry.sha256}; the bundle is corrupt or was modified`,
      name,
    );
}
