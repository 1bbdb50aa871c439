// `vireo predict --bundle BUNDLE --input FILE [--json]`: scores raw rows with a bundle's ranker.
// Rows are in a layout `vireo ingest` accepts — Criteo TSV (label optional) for a Criteo-trained
// bundle, otherwise CSV with a header or JSON Lines keyed by the spec's source columns — and go
// through the bundle's feature spec (the same transforms as ingest, the edge and the browser)
// and the WGSL forward. One line per good row; malformed rows are reported with their line
// number (on stderr, and as {"line", "error"} objects with --json) and make the exit code 1.
import { readFileSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import {
  auc,
  buildLookups,
  featureSource,
  featureView,
  transformValue,
  type Feature,
  type FeatureSpec,
  type Lookups,
  type NumericFeature,
  type RawValue,
  readSafetensors,
  type BundleManifest,
  type Tensor,
} from '@vireo/core';
import { historyThrough, RankingModel, sparseWidth, type RankingConfig } from '@vireo/models';
import { parseFlags, UsageError } from '../cli/args.ts';
import { outputFile } from '../cli/paths.ts';
import { CRITEO_COLUMNS, CRITEO_DENSE } from '../ingest/criteo.ts';
import { fileSize, forEachLine, forEachRecord } from '../ingest/read.ts';
import { openGpu } from '../node/gpu.ts';
import { loadRankingBundle } from '@vireo/models/training';

const FLAGS = {
  bundle: { type: 'string' },
  input: { type: 'string' },
  format: { type: 'string' },
  json: { type: 'boolean' },
  example: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const HELP = `usage: vireo predict --bundle BUNDLE --input FILE [--format criteo|csv|jsonl] [--json]
       vireo predict --bundle BUNDLE --example FILE     write a few example rows for this bundle
       vireo predict --bundle BUNDLE --help             list the columns this bundle reads

Scores raw rows with the bundle's ranker (WGSL forward). Rows use the layout vireo ingest reads:
Criteo TSV (label, I1–I13, C1–C26; the label may be left out) for a Criteo-trained bundle, or CSV
with a header / JSON Lines keyed by the feature spec's source columns. Labels are optional.
Prints one line per row: line, pCtr, pCvr, revenue (a conversion's revenue; "-" without that head).
Malformed rows are reported with their line numbers and make the exit code 1.

flags:
  --format F   criteo, csv or jsonl (default: criteo for a Criteo bundle, else from the extension)
  --json       one JSON object per row: {"line", "pCtr", "pCvr", "revenue"} or {"line", "error"}
  --example F  write example rows to F and exit: Criteo TSV for a Criteo bundle, JSON Lines for a
               .jsonl/.ndjson/.json name (or --format jsonl), else CSV with a header

A feature derived from a history (e.g. user:recent_items>item:category, the categories of the recent
items) is not a column: it is computed from the history column and the bundle's items.safetensors.
`;

/** One raw column a bundle's ranker reads: the column, the feature(s) it feeds and their kind. */
export interface InputColumn {
  column: string;
  features: string[];
  kind: Feature['kind'];
  separator?: string;
}

/** The raw column a feature reads (entity ids from the spec's key columns). */
function columnOf(spec: FeatureSpec, f: Feature): string {
  const view = featureView(f.name);
  if (f.source === undefined && f.name.endsWith(':id') && (view === 'user' || view === 'item'))
    return spec.entities[view]?.key ?? featureSource(f);
  return featureSource(f);
}

/**
 * The columns a row needs for this ranker, in its input order: every dense and sparse feature's
 * source column; a derived feature (SparseFeatureShape.derived) needs its history's column only.
 * @example inputColumns(manifest.featureSpec, config).map((c) => c.column) // ['user_id', 'recent_items', …]
 */
export function inputColumns(spec: FeatureSpec, c: RankingConfig): InputColumn[] {
  const features = new Map(spec.features.map((f) => [f.name, f]));
  const names = [...c.denseFeatures, ...c.sparseFeatures.map((s) => (s.derived ? s.derived.sequence : s.name))];
  const out = new Map<string, InputColumn>();
  for (const name of names) {
    const f = features.get(name);
    if (!f) continue;
    const column = columnOf(spec, f);
    const seen = out.get(column);
    if (seen) {
      if (!seen.features.includes(name)) seen.features.push(name);
      continue;
    }
    const separator = 'separator' in f ? (f.separator as string) : undefined;
    out.set(column, { column, features: [name], kind: f.kind, ...(separator ? { separator } : {}) });
  }
  return [...out.values()];
}

function columnsHelp(manifest: BundleManifest, c: RankingConfig): string {
  const cols = inputColumns(manifest.featureSpec, c);
  const lines = cols.map(
    (col) =>
      `  ${col.column.padEnd(22)} ${col.kind}${col.separator ? ` (values joined by '${col.separator}')` : ''}` +
      ` → ${col.features.join(', ')}`,
  );
  const label = manifest.featureSpec.labels.find((l) => l.name === 'click' || l.name === 'like');
  const tail = label ? `\noptional label column: ${label.source ?? label.name} (0/1; gives a CTR AUC)\n` : '\n';
  return (
    `\ncolumns of ${manifest.name} ${manifest.version} (missing ` +
    `values take the feature's fill or OOV):\n${lines.join('\n')}${tail}`
  );
}

/**
 * A plausible raw value of a numeric feature for example row `i`: the fitted transforms run backwards from a
 * standardized 0, -0.5 and +0.5 (MovieLens' year: 1995, 1985, 2004); the fill (plus i) when nothing was fitted.
 * Before, every numeric column was 1, 2, 3 (a film from the year 1).
 */
export function typicalNumeric(f: NumericFeature, i: number): number {
  let x: number | null = null;
  for (const t of [...f.transforms].reverse()) {
    if (t.op === 'standardize' && t.mean !== undefined && t.std !== undefined)
      x = t.mean + (x ?? [0, -0.5, 0.5][i % 3]) * t.std;
    else if (t.op === 'bucketize') x = t.boundaries[Math.floor(t.boundaries.length / 2)];
    else if (t.op === 'log1p' && x !== null) x = Math.round(Math.expm1(x));
    else if (t.op === 'clip' && x !== null) x = Math.min(t.max ?? x, Math.max(t.min ?? x, x));
  }
  if (x === null) x = f.fill + i;
  return Math.abs(x) >= 10 ? Math.round(x) : Number(x.toFixed(2));
}

/** A few example rows for the bundle, in the layout predict reads, from its vocabularies. */
export function exampleRows(manifest: BundleManifest, c: RankingConfig, format: Format, n = 3): string {
  const spec = manifest.featureSpec;
  const byName = new Map(spec.features.map((f) => [f.name, f]));
  const sample = (col: InputColumn, i: number): string => {
    const f = byName.get(col.features[0])!;
    if (f.kind === 'numeric') return String(typicalNumeric(f, i));
    const vocab = manifest.vocabularies[('vocabulary' in f && f.vocabulary) || f.name] ?? [];
    const pick = (k: number) => (vocab.length ? vocab[k % vocab.length] : `value${k}`);
    if (f.kind === 'categorical') return pick(i);
    return [pick(i), pick(i + 1), pick(i + 2)].join(col.separator ?? '|');
  };
  const cols = inputColumns(spec, c);
  if (format === 'criteo') {
    const have = new Map(cols.map((col) => [col.column, col]));
    const rows = Array.from({ length: n }, (_, i) =>
      CRITEO_COLUMNS.slice(1)
        .map((name) => (have.has(name) ? sample(have.get(name)!, i) : ''))
        .join('\t'),
    );
    return `${rows.join('\n')}\n`;
  }
  if (format === 'jsonl') {
    // One object per row keyed by column: numbers as numbers, a list's values as an array.
    const value = (col: InputColumn, i: number): RawValue => {
      const v = sample(col, i);
      const f = byName.get(col.features[0])!;
      if (f.kind === 'numeric') return Number(v);
      return f.kind === 'categorical' ? v : v.split(col.separator ?? '|');
    };
    const rows = Array.from({ length: n }, (_, i) =>
      JSON.stringify(Object.fromEntries(cols.map((col) => [col.column, value(col, i)]))),
    );
    return `${rows.join('\n')}\n`;
  }
  const quote = (v: string) => (/[",\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
  const rows = Array.from({ length: n }, (_, i) => cols.map((col) => quote(sample(col, i))).join(','));
  return `${cols.map((col) => quote(col.column)).join(',')}\n${rows.join('\n')}\n`;
}

/**
 * Each item's value of the item features derived features go through: items.safetensors' (a bundle with a retrieval
 * model; it also holds items a refresh appended), else the columns the ranker kept (`through.<name>`).
 */
function throughColumns(
  dir: string,
  manifest: BundleManifest,
  c: RankingConfig,
  kept: Map<string, Tensor>,
): Map<string, ArrayLike<number>> {
  const wanted = [...new Set(c.sparseFeatures.flatMap((s) => (s.derived ? [s.derived.through] : [])))];
  const out = new Map<string, ArrayLike<number>>();
  if (wanted.length === 0) return out;
  const items = manifest.files.some((f) => f.name === 'items.safetensors')
    ? readSafetensors(new Uint8Array(readFileSync(join(dir, 'items.safetensors')))).tensors
    : null;
  for (const name of wanted) {
    const t = items?.get(`features.${name}`) ?? kept.get(name);
    if (!t)
      throw new UsageError(
        `the bundle in ${dir} derives a feature from the history through ${name} but holds no ${name} per item ` +
          `(neither items.safetensors nor ranking.safetensors): train its ranker again with this version of vireo.`,
      );
    out.set(name, t.data as ArrayLike<number>);
  }
  return out;
}

/** The layouts predict reads (and --example writes). */
export type Format = 'criteo' | 'csv' | 'jsonl';
type RawRow = Record<string, RawValue>;

/** A scored or rejected input row. */
export interface PredictedRow {
  line: number;
  pCtr?: number;
  pCvr?: number | null;
  revenue?: number | null;
  error?: string;
}

function pickFormat(flag: string | undefined, path: string, source: unknown): Format {
  if (flag !== undefined) {
    if (flag === 'criteo' || flag === 'csv' || flag === 'jsonl') return flag;
    throw new UsageError(`--format must be criteo, csv or jsonl, got '${flag}'.`);
  }
  if (source === 'criteo') return 'criteo';
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.json' || ext === '.ndjson') return 'jsonl';
  if (ext === '.tsv' || ext === '.txt') return 'criteo';
  throw new UsageError(`cannot tell the layout of ${path} from its extension: pass --format criteo, csv or jsonl.`);
}

/**
 * Reads every row as raw values keyed by column, or a reason it is malformed; returns the columns the file has (a
 * CSV's header, every key of a JSON Lines file), or null for Criteo TSV, whose columns are fixed.
 */
async function readRows(
  path: string,
  format: Format,
  onRow: (row: RawRow | string, line: number) => void,
): Promise<Set<string> | null> {
  if (format === 'criteo') {
    await forEachRecord(path, 'tsv', (fields, line) => {
      if (!fields || (fields.length === 1 && fields[0] === '')) return;
      // With the label: 40 columns; without: 39 (I1–I13, C1–C26).
      const columns =
        fields.length === CRITEO_COLUMNS.length
          ? CRITEO_COLUMNS
          : fields.length === CRITEO_COLUMNS.length - 1
            ? CRITEO_COLUMNS.slice(1)
            : null;
      if (!columns)
        return onRow(
          `expected ${CRITEO_COLUMNS.length} tab-separated fields (or ` +
            `${CRITEO_COLUMNS.length - 1} without the label), found ${fields.length}`,
          line,
        );
      const row: RawRow = {};
      columns.forEach((c, j) => (row[c] = fields[j]));
      for (const c of CRITEO_DENSE) {
        const v = row[c] as string;
        if (v !== '' && !/^-?\d+$/.test(v))
          return onRow(`${c.toUpperCase()} must be an integer or empty, got ${JSON.stringify(v)}`, line);
      }
      onRow(row, line);
    });
    return null;
  }
  if (format === 'csv') {
    let header: string[] | null = null;
    await forEachRecord(path, 'csv', (fields, line) => {
      if (header === null) {
        if (!fields) throw new UsageError(`${path}: the header line has an unterminated quote.`);
        header = fields.map((f) => f.trim().replace(/^\uFEFF/, ''));
        return;
      }
      if (fields === null) return onRow('unterminated quoted field', line);
      if (fields.length === 1 && fields[0] === '') return;
      if (fields.length !== header.length)
        return onRow(`expected ${header.length} fields, found ${fields.length}`, line);
      const row: RawRow = {};
      header.forEach((c, j) => (row[c] = fields[j]));
      onRow(row, line);
    });
    if (header === null) throw new UsageError(`${path} is empty: expected a header line.`);
    return new Set<string>(header);
  }
  const keys = new Set<string>();
  await forEachLine(path, (text, line) => {
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return onRow(`not valid JSON (${(err as Error).message})`, line);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      return onRow('expected a JSON object', line);
    for (const key of Object.keys(value)) keys.add(key);
    onRow(value as RawRow, line);
  });
  return keys;
}

/** Up to 12 names joined by commas, then how many more. */
function someOf(names: string[]): string {
  return names.length > 12 ? `${names.slice(0, 12).join(', ')} … (${names.length - 12} more)` : names.join(', ');
}

/**
 * The bundle's input columns the file lacks. None of them there (a file for another model, a wrong header) is a
 * sentence and exit 2: every row would score as the same all-missing row. Some missing is one warning line: a
 * missing value is allowed per row (it takes the feature's fill or OOV), but a missing column is almost always a
 * mistake.
 * @example checkColumns('rows.csv', 'bundle/', inputColumns(spec, config), new Set(['foo', 'bar'])); // throws
 */
export function checkColumns(path: string, bundle: string, needed: InputColumn[], has: ReadonlySet<string>): void {
  if (has.size === 0) return; // no rows, nothing to judge
  const missing = needed.filter((c) => !has.has(c.column));
  if (missing.length === 0) return;
  if (missing.length === needed.length)
    throw new UsageError(
      `${path} has none of the columns the bundle reads: it lacks ${someOf(missing.map((c) => c.column))} and has ` +
        `${someOf([...has])} (\`vireo predict --bundle ${bundle} --help\` lists the columns).`,
    );
  process.stderr.write(
    `vireo predict: ${path} has no column ${someOf(missing.map((c) => c.column))} (read by ` +
      `${someOf(missing.flatMap((c) => c.features))}): every row takes their fill or OOV value.\n`,
  );
}

/** The raw value a feature reads from a row: entity ids come from the spec's key columns. */
function rawValue(spec: FeatureSpec, f: Feature, row: RawRow): RawValue {
  const view = featureView(f.name);
  if (f.source === undefined && f.name.endsWith(':id') && (view === 'user' || view === 'item')) {
    const key = spec.entities[view]?.key;
    if (key && key in row) return row[key];
  }
  return row[featureSource(f)];
}

/** A numeric raw value that is present but not a number: the row is malformed, not filled. */
function badNumber(raw: RawValue): boolean {
  if (raw === null || raw === undefined || raw === '' || typeof raw === 'number' || typeof raw === 'boolean')
    return false;
  if (Array.isArray(raw)) return raw.length > 1 || badNumber(raw[0]);
  return !Number.isFinite(Number(String(raw).trim()));
}

/**
 * Transforms raw rows into the ranker's inputs; rows it cannot use come back as errors.
 * @example const { dense, sparse, kept, errors } = encodeRows(spec, lookups, config, rows);
 */
export function encodeRows(
  spec: FeatureSpec,
  lookups: Lookups,
  c: RankingConfig,
  rows: { row: RawRow; line: number }[],
  through: ReadonlyMap<string, ArrayLike<number>> = new Map(),
): { dense: Float32Array; sparse: Int32Array; kept: number[]; errors: PredictedRow[]; labels: (number | null)[] } {
  const features = new Map(spec.features.map((f) => [f.name, f]));
  const Nd = c.denseFeatures.length;
  const S = sparseWidth(c);
  const dense = new Float32Array(rows.length * Nd);
  const sparse = new Int32Array(rows.length * S);
  const kept: number[] = [];
  const errors: PredictedRow[] = [];
  const labels: (number | null)[] = [];
  const clickLabel = spec.labels.find((l) => l.name === 'click' || l.name === 'like');
  const denseRow = new Float32Array(Nd);
  const sparseRow = new Int32Array(S);
  rows.forEach(({ row, line }) => {
    try {
      c.denseFeatures.forEach((name, j) => {
        const f = features.get(name)!;
        const raw = rawValue(spec, f, row);
        if (badNumber(raw))
          throw new Error(`${name} (column ${featureSource(f)}) is not a number: ${JSON.stringify(raw)}`);
        denseRow[j] = transformValue(f, raw, lookups) as number;
      });
      let slot = 0;
      for (const s of c.sparseFeatures) {
        if (s.derived) {
          // The history's item:id indices, each mapped to that item's value (historyThrough).
          const seq = features.get(s.derived.sequence);
          const column = through.get(s.derived.through);
          if (!seq || !column)
            throw new Error(`${s.name} derives from ${s.derived.sequence}, which the bundle cannot provide`);
          const history = transformValue(seq, rawValue(spec, seq, row), lookups);
          const indices = typeof history === 'number' ? Int32Array.of(history) : history;
          const v = historyThrough(indices.subarray(0, s.width), column);
          sparseRow.fill(0, slot, slot + s.width);
          sparseRow.set(v.subarray(0, s.width), slot);
          slot += s.width;
          continue;
        }
        const f = features.get(s.name);
        if (!f) throw new Error(`${s.name} is not in the bundle's feature spec`);
        const raw = rawValue(spec, f, row);
        if (f.kind === 'numeric' && badNumber(raw))
          throw new Error(`${s.name} (column ${featureSource(f)}) is not a number: ${JSON.stringify(raw)}`);
        const v = transformValue(f, raw, lookups);
        if (typeof v === 'number') sparseRow[slot] = v;
        else sparseRow.set(v.subarray(0, s.width), slot);
        slot += s.width;
      }
      let label: number | null = null;
      if (clickLabel) {
        const raw = row[clickLabel.source ?? clickLabel.name];
        if (raw !== undefined && raw !== null && raw !== '') {
          const t = String(raw).trim().toLowerCase();
          label = t === '1' || t === 'true' ? 1 : t === '0' || t === 'false' ? 0 : NaN;
          if (Number.isNaN(label))
            throw new Error(`label ${clickLabel.name} must be 0 or 1, got ${JSON.stringify(raw)}`);
        }
      }
      dense.set(denseRow, kept.length * Nd);
      sparse.set(sparseRow, kept.length * S);
      kept.push(line);
      labels.push(label);
    } catch (err) {
      errors.push({ line, error: (err as Error).message });
    }
  });
  return {
    dense: dense.subarray(0, kept.length * Nd),
    sparse: sparse.subarray(0, kept.length * S),
    kept,
    errors,
    labels,
  };
}

/** `vireo predict`: returns the exit code (0 all rows scored, 1 some rows malformed). */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, FLAGS, 'vireo predict');
  if (values.help && !values.bundle) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!values.bundle)
    throw new UsageError('--bundle BUNDLE is required (a folder with manifest.json and ranking.safetensors).');
  const { manifest, config, params, tables, through } = await loadRankingBundle(values.bundle);
  const source = (manifest.trainingData.ranking as { source?: unknown } | undefined)?.source;
  if (values.help) {
    process.stdout.write(HELP + columnsHelp(manifest, config));
    return 0;
  }
  if (values.example !== undefined) {
    outputFile(values.example, '--example');
    // The layout the file's name (or --format) asks for, as --input reads it back; CSV by default.
    const ext = extname(values.example).toLowerCase();
    const format: Format =
      values.format !== undefined
        ? pickFormat(values.format, values.example, source)
        : source === 'criteo'
          ? 'criteo'
          : ext === '.jsonl' || ext === '.json' || ext === '.ndjson'
            ? 'jsonl'
            : 'csv';
    writeFileSync(values.example, exampleRows(manifest, config, format));
    process.stderr.write(`wrote example rows for ${manifest.name} ${manifest.version} to ${values.example}\n`);
    return 0;
  }
  if (!values.input) throw new UsageError('--input FILE is required (raw rows to score; --example FILE writes some).');
  await fileSize(values.input);
  const format = pickFormat(values.format, values.input, source);
  const spec = manifest.featureSpec;
  const lookups = buildLookups(spec, manifest.vocabularies);

  const good: { row: RawRow; line: number }[] = [];
  const bad: PredictedRow[] = [];
  const columns = await readRows(values.input, format, (row, line) =>
    typeof row === 'string' ? bad.push({ line, error: row }) : good.push({ row, line }),
  );
  if (columns) checkColumns(values.input, values.bundle, inputColumns(spec, config), columns);
  const encoded = encodeRows(spec, lookups, config, good, throughColumns(values.bundle, manifest, config, through));
  bad.push(...encoded.errors);
  const n = encoded.kept.length;

  const scored: PredictedRow[] = [];
  if (n > 0) {
    const gpu = await openGpu();
    try {
      const model = await RankingModel.create(gpu, config, { maxBatch: Math.min(1000, n) });
      model.writeWeights(params, tables);
      const out = await model.score(config.denseFeatures.length ? encoded.dense : null, encoded.sparse, n);
      model.destroy();
      const has = (t: string) => config.heads.includes(t as never);
      encoded.kept.forEach((line, i) => {
        scored.push({
          line,
          pCtr: out[i * 3],
          pCvr: has('cvr') ? out[i * 3 + 1] : null,
          revenue: has('revenue') ? Math.max(0, Math.expm1(out[i * 3 + 2])) : null,
        });
      });
    } finally {
      gpu.destroy();
    }
  }

  const all = [...scored, ...bad].sort((a, b) => a.line - b.line);
  const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toPrecision(6));
  const lines: string[] = [];
  if (!values.json) lines.push('line\tpCtr\tpCvr\trevenue');
  for (const r of all) {
    if (values.json) lines.push(JSON.stringify(r));
    else if (r.error === undefined) lines.push(`${r.line}\t${fmt(r.pCtr)}\t${fmt(r.pCvr)}\t${fmt(r.revenue)}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  for (const r of bad.sort((a, b) => a.line - b.line))
    process.stderr.write(`vireo predict: ${values.input} line ${r.line}: ${r.error}\n`);
  const labelled = encoded.labels.map((l, i) => [l, scored[i]?.pCtr] as const).filter(([l]) => l !== null);
  if (labelled.length > 0 && labelled.length === n) {
    const a = auc(
      labelled.map(([l]) => l!),
      labelled.map(([, p]) => p!),
    );
    process.stderr.write(
      `scored ${n} row${n === 1 ? '' : 's'} (${bad.length} malformed); CTR AUC over ` +
        `the ${n} labelled rows: ${Number.isNaN(a) ? 'n/a (one class)' : a.toFixed(4)}\n`,
    );
  } else process.stderr.write(`scored ${n} row${n === 1 ? '' : 's'} (${bad.length} malformed)\n`);
  return bad.length > 0 ? 1 : 0;
}
