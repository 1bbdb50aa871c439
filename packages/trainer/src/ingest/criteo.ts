// Criteo display-advertising logs (Kaggle DAC layout): one impression per line, tab-separated,
//   label  I1 … I13  C1 … C26
// label 0/1 (click), I = integer counts, C = 32-bit hashed categories in hex, empty = missing.
// No user or item ids, no time: rows are in time order, so the row number is the time and the
// ranking split takes the last rows. The bundle this trains is a ranker only.
import { parseFeatureSpec, type FeatureSpec } from '@vireo/core';
import type { DatasetSummary } from './dataset.ts';
import type { IngestOptions } from './options.ts';
import { tsvReader } from './readers.ts';
import { ingestTabular } from './tabular.ts';

export const CRITEO_DENSE = Array.from({ length: 13 }, (_, i) => `i${i + 1}`);
export const CRITEO_SPARSE = Array.from({ length: 26 }, (_, i) => `c${i + 1}`);
export const CRITEO_COLUMNS = ['label', ...CRITEO_DENSE, ...CRITEO_SPARSE];

/**
 * The Criteo feature spec: counts through log1p then standardize (fitted), categories through a
 * vocabulary of values seen at least `minCount` times (rarer ones share the OOV row).
 * @example criteoSpec(1).features[0] // { name: 'context:i1', kind: 'numeric', transforms: [log1p, standardize] }
 */
export function criteoSpec(minCount: number): FeatureSpec {
  return parseFeatureSpec({
    name: 'criteo',
    features: [
      ...CRITEO_DENSE.map((c) => ({
        name: `context:${c}`,
        kind: 'numeric',
        transforms: [{ op: 'log1p' }, { op: 'standardize' }],
      })),
      ...CRITEO_SPARSE.map((c) => ({ name: `context:${c}`, kind: 'categorical', minCount })),
    ],
    labels: [{ name: 'click', source: 'label', kind: 'binary' }],
  });
}

/** Criteo's counts are integers; anything else in I1–I13 is a malformed row. */
function checkCriteo(row: Record<string, unknown>): string | null {
  for (const c of CRITEO_DENSE) {
    const v = row[c] as string;
    if (v !== '' && !/^-?\d+$/.test(v))
      return `${c.toUpperCase()} must be an integer or empty, got ${JSON.stringify(v)}`;
  }
  return null;
}

/** Ingests a Criteo TSV file. */
export async function ingestCriteo(path: string, opts: IngestOptions & { minCount: number }): Promise<DatasetSummary> {
  return ingestTabular(
    {
      source: 'criteo',
      spec: criteoSpec(opts.minCount),
      reader: await tsvReader(path, CRITEO_COLUMNS),
      check: checkCriteo,
      options: { minCount: opts.minCount },
    },
    opts,
  );
}
