// Logs described by a feature spec (CSV, JSON Lines, Parquet, and Criteo's TSV), in two streaming
// passes over the file:
//   1. check every row (keys, time, labels, numbers), give users and items their rows, keep the
//      per-event columns (user, item, time, labels: 8–30 bytes an event) and the latest raw value of
//      each user / item feature, and fit the context features (vocabularies, mean / std);
//   2. encode the context features of the good rows straight to their column files.
// Then the entity tables are fitted and encoded, and the two views written.
import {
  buildLookups,
  featureSource,
  featureView,
  type Feature,
  type FeatureSpec,
  type RawValue,
  type Vocabularies,
} from '@vireo/core';
import { DatasetWriter, type DatasetSummary } from './dataset.ts';
import { FeatureColumn, writeEntityFeatures } from './encode.ts';
import { IngestError } from './errors.ts';
import { SpecFitter } from './fit.ts';
import { Growable } from './growable.ts';
import { badRowLedger, stage, type IngestOptions } from './options.ts';
import type { RawRow, RowReader } from './readers.ts';
import { parseTime } from './time.ts';
import { timeRange, writeImpressionCore, writeInteractions } from './views.ts';

/** How one source of tabular logs is read and checked. */
export interface TabularSource {
  /** `csv`, `jsonl`, `parquet`, `criteo`. */
  source: string;
  spec: FeatureSpec;
  reader: RowReader;
  /** Extra per-row checks (e.g. Criteo's integer columns); a string is the reason the row is bad. */
  check?: (row: RawRow) => string | null;
  /** Recorded in dataset.json. */
  options?: Record<string, unknown>;
}

function isMissing(raw: RawValue): boolean {
  return raw === null || raw === undefined || (typeof raw === 'string' && raw.trim() === '');
}

/** Reads a label: binary accepts 0/1/true/false, regression any finite number; NaN when neither. */
function parseLabel(kind: 'binary' | 'regression', raw: RawValue): number {
  if (typeof raw === 'boolean') return raw ? 1 : 0;
  if (typeof raw === 'string') {
    const t = raw.trim().toLowerCase();
    if (kind === 'binary' && (t === 'true' || t === 'false')) return t === 'true' ? 1 : 0;
    raw = t === '' ? NaN : Number(t);
  }
  if (typeof raw !== 'number' || !Number.isFinite(raw)) return NaN;
  if (kind === 'binary' && raw !== 0 && raw !== 1) return NaN;
  return raw;
}

/** The history every user–item log gets unless its spec declares one: the user's last 50 positives. */
export const DEFAULT_HISTORY: Feature = {
  name: 'user:recent_items',
  kind: 'sequence',
  maxLength: 50,
  vocabulary: 'item:id',
  separator: '|',
  description: "the user's positives before this event, oldest first; built from the interactions table",
};

/**
 * The spec with the user's history added when it has users and items but no sequence over item:id: without
 * one the models would not read what the user did before (the attention history encoder, docs/ARCHITECTURE.md
 * §3), and a spec written by hand rarely knows to declare it.
 */
export function withUserHistory(spec: FeatureSpec): { spec: FeatureSpec; added: boolean } {
  const hasHistory = spec.features.some(
    (f) => f.kind === 'sequence' && featureView(f.name) === 'user' && (f.vocabulary ?? f.name) === 'item:id',
  );
  const taken = spec.features.some((f) => f.name === DEFAULT_HISTORY.name);
  if (!spec.entities.user || !spec.entities.item || hasHistory || taken) return { spec, added: false };
  return { spec: { ...spec, features: [...spec.features, DEFAULT_HISTORY] }, added: true };
}

/** Ingests one tabular source into `opts.out` and returns the summary written to dataset.json. */
export async function ingestTabular(src: TabularSource, opts: IngestOptions): Promise<DatasetSummary> {
  const started = performance.now();
  const { reader } = src;
  const { spec, added } = withUserHistory(src.spec);
  const userKey = spec.entities.user?.key;
  const itemKey = spec.entities.item?.key;
  const byView = (view: string) => spec.features.filter((f) => featureView(f.name) === view);
  // `user:id` / `item:id` are the entity keys themselves: their vocabularies are the row order.
  const isKeyFeature = (f: Feature) => (f.name === 'user:id' && userKey) || (f.name === 'item:id' && itemKey);
  const userFeatures = byView('user').filter((f) => f.kind !== 'sequence');
  const itemFeatures = byView('item').filter((f) => f.kind !== 'sequence');
  const contextFeatures = byView('context').filter((f) => f.kind !== 'sequence');
  const required = [
    ...new Set(
      [
        userKey,
        itemKey,
        spec.timestamp,
        ...spec.labels.map((l) => l.source ?? l.name),
        ...[...userFeatures, ...itemFeatures, ...contextFeatures].filter((f) => !isKeyFeature(f)).map(featureSource),
      ].filter((c): c is string => !!c),
    ),
  ];

  const numericColumns = [...contextFeatures, ...userFeatures, ...itemFeatures]
    .filter((f) => f.kind === 'numeric' && !isKeyFeature(f))
    .map((f) => [f.name, featureSource(f)] as const);
  const bad = badRowLedger(opts);
  const users = new Map<string, number>();
  const items = new Map<string, number>();
  const userRaw = userFeatures.map(() => [] as RawValue[]); // [feature][user row] latest raw value
  const itemRaw = itemFeatures.map(() => [] as RawValue[]);
  const eventUser = new Growable(Int32Array);
  const eventItem = new Growable(Int32Array);
  const eventTs = new Growable(Float64Array);
  const labelValues = spec.labels.map(() => new Growable(Float32Array));
  const contextFit = new SpecFitter({ ...spec, features: contextFeatures });
  const labelValue = new Float64Array(spec.labels.length);

  // Pass 1: check, index entities, keep per-event columns, fit context features.
  let rows = 0;
  let bar = stage(opts, `${src.source} 1/2`, reader.total);
  await reader.read(
    required,
    (row, line) => {
      if (typeof row === 'string') return bad.add(reader.path, line, row);
      const reason = checkRow(row);
      if (reason) return bad.add(reader.path, line, reason);
      rows++;
      let u = -1;
      let i = -1;
      if (userKey) {
        const key = String(row[userKey]).trim();
        u = users.get(key) ?? -1;
        if (u < 0) users.set(key, (u = users.size));
        userFeatures.forEach(
          (f, j) => !isKeyFeature(f) && !isMissing(row[featureSource(f)]) && (userRaw[j][u] = row[featureSource(f)]),
        );
      }
      if (itemKey) {
        const key = String(row[itemKey]).trim();
        i = items.get(key) ?? -1;
        if (i < 0) items.set(key, (i = items.size));
        itemFeatures.forEach(
          (f, j) => !isKeyFeature(f) && !isMissing(row[featureSource(f)]) && (itemRaw[j][i] = row[featureSource(f)]),
        );
      }
      eventUser.push(u);
      eventItem.push(i);
      eventTs.push(spec.timestamp ? parseTime(row[spec.timestamp]) : rows - 1);
      spec.labels.forEach((l, j) => {
        labelValues[j].push(labelValue[j]);
        contextFit.addLabel(l.name, labelValue[j]);
      });
      contextFit.row();
      for (const f of contextFeatures) contextFit.addFeature(f, row[featureSource(f)]);
    },
    (done) => bar.update(done, { rows }),
  );
  bar.finish({ rows });

  function checkRow(row: RawRow): string | null {
    if (userKey && isMissing(row[userKey])) return `user key "${userKey}" is missing`;
    if (itemKey && isMissing(row[itemKey])) return `item key "${itemKey}" is missing`;
    if (spec.timestamp) {
      const t = parseTime(row[spec.timestamp]);
      if (!Number.isFinite(t))
        return `time "${spec.timestamp}" is not a unix time or ISO date: ${JSON.stringify(row[spec.timestamp])}`;
      // Unix time before 1970: a sign or unit mistake (or a sentinel), not an event's time.
      if (t < 0) return `time "${spec.timestamp}" is before 1970: ${JSON.stringify(row[spec.timestamp])}`;
    }
    for (let j = 0; j < spec.labels.length; j++) {
      const l = spec.labels[j];
      const raw = row[l.source ?? l.name];
      labelValue[j] = l.fill !== undefined && isMissing(raw) ? l.fill : parseLabel(l.kind, raw);
      if (Number.isNaN(labelValue[j]))
        return (
          `label "${l.name}" must be ` +
          `${l.kind === 'binary' ? '0 or 1' : 'a number'}, got ${JSON.stringify(raw ?? null)}` +
          (isMissing(raw) ? ` (a label with "fill": 0 reads a missing value as 0)` : '')
        );
    }
    for (const [name, source] of numericColumns) {
      const raw = row[source];
      if (!isMissing(raw) && typeof raw !== 'boolean' && !Number.isFinite(Number(raw)))
        return `${name} must be a number, got ${JSON.stringify(raw)}`;
    }
    return src.check ? src.check(row) : null;
  }

  if (rows === 0) throw new IngestError(`${reader.path} has no usable rows (${bad.count} malformed).`);

  // Fit the entity features once per entity, then the whole spec.
  const fixed: Vocabularies = {};
  if (userKey) fixed['user:id'] = [...users.keys()];
  if (itemKey) fixed['item:id'] = [...items.keys()];
  const entityFit = new SpecFitter({ ...spec, features: [...userFeatures, ...itemFeatures], labels: [] }, fixed);
  userFeatures.forEach((f, j) => {
    for (let u = 0; u < users.size; u++) entityFit.addFeature(f, isKeyFeature(f) ? null : userRaw[j][u]);
  });
  itemFeatures.forEach((f, j) => {
    for (let i = 0; i < items.size; i++) entityFit.addFeature(f, isKeyFeature(f) ? null : itemRaw[j][i]);
  });
  const contextFitted = contextFit.fit();
  const entityFitted = entityFit.fit();
  const fittedByName = new Map([...contextFitted.spec.features, ...entityFitted.spec.features].map((f) => [f.name, f]));
  const fittedSpec: FeatureSpec = { ...spec, features: spec.features.map((f) => fittedByName.get(f.name) ?? f) };
  const vocabularies = { ...entityFitted.vocabularies, ...contextFitted.vocabularies };
  const statistics = { ...entityFitted.statistics, ...contextFitted.statistics };
  const lookups = buildLookups(
    {
      features: fittedSpec.features.filter(
        (f) => f.kind !== 'sequence' || f.buckets !== undefined || vocabularies[f.vocabulary ?? f.name],
      ),
    },
    vocabularies,
  );
  const fitted = (f: Feature) => fittedByName.get(f.name)!;

  const out = new DatasetWriter(opts.out);
  writeEntityFeatures(out, 'users', userFeatures.map(fitted), users.size, lookups, (f, u) =>
    f.name === 'user:id' ? fixed['user:id'][u] : userRaw[userFeatures.findIndex((g) => g.name === f.name)][u],
  );
  writeEntityFeatures(out, 'items', itemFeatures.map(fitted), items.size, lookups, (f, i) =>
    f.name === 'item:id' ? fixed['item:id'][i] : itemRaw[itemFeatures.findIndex((g) => g.name === f.name)][i],
  );

  // Pass 2: encode the context features of the rows pass 1 kept.
  if (contextFeatures.length > 0) {
    const columns = contextFeatures.map((f) => new FeatureColumn(out, 'impressions', fitted(f), lookups));
    let encoded = 0;
    bar = stage(opts, `${src.source} 2/2`, reader.total);
    await reader.read(
      required,
      (row, line) => {
        if (typeof row === 'string' || bad.has(reader.path, line)) return;
        encoded++;
        for (let j = 0; j < columns.length; j++) columns[j].push(row[featureSource(contextFeatures[j])]);
      },
      (done) => bar.update(done, { rows: encoded }),
    );
    bar.finish({ rows: encoded });
    if (encoded !== rows)
      throw new Error(`${reader.path} changed while it was read: ${rows} rows in pass 1, ${encoded} in pass 2`);
  }

  const ts = eventTs.view();
  const labels = new Map(spec.labels.map((l, j) => [l.name, labelValues[j].view()]));
  const ranking = writeImpressionCore(
    out,
    { user: userKey ? eventUser.view() : undefined, item: itemKey ? eventItem.view() : undefined, ts, labels },
    opts,
  );

  // The retrieval view: positives are the first binary label's ones (every event if none), weight 1
  // (regression labels such as revenue stay in the ranking view).
  let retrieval: ReturnType<typeof writeInteractions> | undefined;
  let positives = 0;
  if (userKey && itemKey) {
    const binary = spec.labels.findIndex((l) => l.kind === 'binary');
    const positive = new Uint8Array(rows);
    const weight = new Float32Array(rows).fill(1);
    for (let e = 0; e < rows; e++) {
      positive[e] = binary < 0 || labelValues[binary].view()[e] > 0.5 ? 1 : 0;
      positives += positive[e];
    }
    retrieval = writeInteractions(
      out,
      { user: eventUser.view(), item: eventItem.view(), ts, weight, positive },
      users.size,
      opts.minPositives,
    );
  }

  const labelStats = Object.fromEntries(spec.labels.map((l) => [l.name, statistics[`label:${l.name}`]]));
  const summary = out.finish(
    {
      source: src.source,
      name: opts.name ?? src.source,
      createdAt: new Date().toISOString(),
      options: {
        ...src.options,
        validFraction: opts.validFraction,
        testFraction: opts.testFraction,
        minPositives: opts.minPositives,
        maxBadRows: opts.maxBadRows,
      },
      inputs: [{ path: reader.path, bytes: reader.bytes }],
      counts: {
        users: users.size,
        items: items.size,
        interactions: retrieval ? rows : 0,
        positives,
        impressions: rows,
      },
      timeRange: spec.timestamp ? timeRange(ts) : null,
      splits: { ranking, ...(retrieval ? { retrieval } : {}) },
      labels: labelStats,
      badRows: bad.toJSON(),
      elapsedSeconds: (performance.now() - started) / 1000,
    },
    fittedSpec,
    vocabularies,
    statistics,
  );
  // Said once the dataset is written: before, it came ahead of an error (a missing column) that ended the ingest.
  if (added)
    opts.log(
      `the spec declares no user history, so it reads ${DEFAULT_HISTORY.name}: each user's last 50 positives ` +
        '(declare a sequence feature over item:id to choose another length).',
    );
  return summary;
}
