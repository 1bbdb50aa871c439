// What the registry checks before it acknowledges a bundle (docs/ARCHITECTURE.md, "Model registry"):
// a manifest is parsed within a bounded time, its file names are ones the upload route takes, and
// its feature spec transforms with its own vocabularies; so a version that can be promoted loads.
import {
  parseBundleManifest,
  SpecError,
  transformValue,
  vocabularyName,
  type BundleManifest,
  type Feature,
  type Lookups,
} from '@vireo/core';
import { ApiError } from '../errors.ts';
import { protoKeyError, refuseProtoKey } from '../middleware/json-body.ts';
import type { Limits } from '../routes/deps.ts';

export type ManifestLimits = Pick<Limits, 'maxSequenceLength' | 'maxVocabulary' | 'maxVocabularyTotal'>;

/** Vocabulary values checked between two turns of the event loop (about a millisecond each). */
const SLICE = 20_000;
const nextTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** Why a bundle file name cannot be uploaded (the rule of the upload route), or null. */
export function fileNameProblem(name: string): string | null {
  if (name.length > 256) return 'is longer than 256 characters';
  if (!/^[A-Za-z0-9_.-][A-Za-z0-9_./-]*$/.test(name)) return 'is not a relative name of letters, digits and _ . - /';
  if (name.split('/').some((p) => p === '' || p === '.' || p === '..')) return 'has an empty, "." or ".." part';
  if (name === 'manifest.json') return 'is the manifest itself';
  return null;
}

function invalid(message: string, details: unknown = null): ApiError {
  return new ApiError('invalid_manifest', `manifest.json: ${message}`, details);
}

/**
 * A manifest's JSON parsed: whole, or (`vocabularySizes` set) without the vocabularies' values,
 * which the parser has checked to be lists of strings. `error` when it is not JSON.
 */
export type ParsedManifest = { value?: unknown; vocabularySizes?: Record<string, number>; error?: string };

/** Parses a manifest's text, maybe elsewhere (a worker thread on Node: see manifest-parser.ts). */
export type ManifestParser = (text: string, whole: boolean) => Promise<ParsedManifest>;

/** Parses on this thread (Workers, tests). */
export const inlineManifestParser: ManifestParser = async (text) => {
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    return { error: `not valid JSON (${(err as Error).message.slice(0, 200)})` };
  }
};

/**
 * Parses and checks a manifest. The vocabularies, the only part that grows with the catalogue,
 * are validated in slices with other requests served in between, or by the parser itself; with
 * `whole` false the returned vocabularies may be empty lists (their names and sizes were checked).
 * @example const manifest = await readManifest(text, deps.limits);
 */
export async function readManifest(
  text: string,
  limits: ManifestLimits,
  parser: ManifestParser = inlineManifestParser,
  whole = false,
): Promise<BundleManifest> {
  const parsed = await parser(text, whole);
  if (parsed.error !== undefined) throw invalid(`${parsed.error}.`);
  const raw = parsed.value;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('expected a JSON object.');
  const { vocabularies, ...rest } = raw as Record<string, unknown>;
  // As for every JSON body (jsonBody): the manifest's schema would drop the key without a word. The vocabularies'
  // values are lists of strings (checked below), so only their names are looked at.
  refuseProtoKey(text, rest, 'manifest.json');
  const names = parsed.vocabularySizes ?? vocabularies;
  if (names && typeof names === 'object' && Object.hasOwn(names, '__proto__'))
    throw protoKeyError('$.vocabularies', 'manifest.json');
  let manifest: BundleManifest;
  try {
    manifest = parseBundleManifest(rest);
  } catch (err) {
    if (err instanceof SpecError) throw invalid(err.message, { issues: err.issues.slice(0, 50) });
    throw err;
  }
  if (parsed.vocabularySizes) {
    checkSizes(Object.entries(parsed.vocabularySizes), limits);
    manifest.vocabularies = Object.fromEntries(Object.keys(parsed.vocabularySizes).map((k) => [k, []]));
  } else manifest.vocabularies = await checkVocabularies(vocabularies, limits);
  const problems = bundleProblems(manifest, limits);
  if (problems.length > 0) throw invalid(`${problems[0]}.`, { issues: problems.slice(0, 50) });
  return manifest;
}

function checkSizes(sizes: Array<[string, number]>, limits: ManifestLimits): void {
  let total = 0;
  for (const [name, size] of sizes) {
    if (size > limits.maxVocabulary)
      throw invalid(`vocabularies.${name} has ${size} values, over this edge's ${limits.maxVocabulary}.`);
    total += size;
    if (total > limits.maxVocabularyTotal)
      throw invalid(`the vocabularies hold over ${limits.maxVocabularyTotal} values in all.`);
  }
}

async function checkVocabularies(value: unknown, limits: ManifestLimits): Promise<Record<string, string[]>> {
  if (value === undefined) return {};
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw invalid('vocabularies: expected an object of name → list of strings.');
  const out: Record<string, string[]> = Object.create(null);
  const entries = Object.entries(value);
  for (const [name, values] of entries)
    if (!Array.isArray(values)) throw invalid(`vocabularies.${name}: expected a list of strings.`);
  checkSizes(
    entries.map(([name, values]) => [name, (values as unknown[]).length]),
    limits,
  );
  let sinceYield = 0;
  for (const [name, values] of entries as Array<[string, unknown[]]>) {
    for (let i = 0; i < values.length; i++) {
      if (typeof values[i] !== 'string') throw invalid(`vocabularies.${name}[${i}]: expected a string.`);
      if (++sinceYield === SLICE) {
        sinceYield = 0;
        await nextTurn();
      }
    }
    out[name] = values as string[];
  }
  return out;
}

/** Samples every feature is transformed with at publish, to find a spec that cannot transform. */
const SAMPLES = [null, 0, 1.5, 'a', ['a', 'b']] as const;

/**
 * Problems that would make a valid-looking manifest fail once promoted: file names the upload
 * route refuses, a vocabulary not in the bundle, `standardize` without mean/std, an unbounded
 * `maxLength`, and any transform that throws on a sample value.
 */
export function bundleProblems(manifest: BundleManifest, limits: ManifestLimits): string[] {
  const problems: string[] = [];
  const names = new Set(manifest.files.map((f) => f.name));
  manifest.files.forEach((f, i) => {
    const why = fileNameProblem(f.name);
    if (why) problems.push(`files[${i}].name '${f.name}' ${why}`);
    // 'a' and 'a/b' cannot both be files of one folder.
    const parts = f.name.split('/');
    for (let k = 1; k < parts.length; k++) {
      const folder = parts.slice(0, k).join('/');
      if (names.has(folder)) problems.push(`files[${i}].name '${f.name}' is inside '${folder}', which is a file`);
    }
  });
  const lookups = new Map<string, ReadonlyMap<string, number>>();
  manifest.featureSpec.features.forEach((f: Feature, i) => {
    const at = `featureSpec.features[${i}] (${f.name})`;
    if (f.kind === 'numeric') {
      f.transforms.forEach((t, j) => {
        if (t.op === 'standardize' && (t.mean === undefined || t.std === undefined))
          problems.push(`${at}.transforms[${j}]: standardize needs mean and std (run vireo ingest to fit them)`);
      });
    } else {
      if ((f.kind === 'multi_hot' || f.kind === 'sequence') && f.maxLength > limits.maxSequenceLength)
        problems.push(`${at}.maxLength ${f.maxLength} is over this edge's ${limits.maxSequenceLength}`);
      if (f.buckets === undefined) {
        const vocabulary = vocabularyName(f);
        if (!Object.hasOwn(manifest.vocabularies, vocabulary))
          problems.push(`${at}: vocabulary '${vocabulary}' is not in the bundle's vocabularies`);
        else lookups.set(vocabulary, new Map());
      }
    }
  });
  if (problems.length > 0) return problems;
  for (const f of manifest.featureSpec.features) {
    for (const sample of SAMPLES) {
      try {
        transformValue(f, sample as never, lookups as Lookups);
      } catch (err) {
        problems.push(`${f.name}: its transform fails (${(err as Error).message})`);
        break;
      }
    }
  }
  return problems;
}
