import { join } from 'node:path';
import { OOV_INDEX, FIRST_INDEX, fnv1a32, parseFeatureSpec } from '@vireo/core';
import { describe, expect, it } from 'vitest';
import { loadDataset } from './dataset.ts';
import { readerFor } from './readers.ts';
import { ingestTabular, withUserHistory } from './tabular.ts';
import { fixture, testOptions } from '../../test/ingest-helpers.ts';

const spec = parseFeatureSpec({
  entities: { user: { key: 'user_id' }, item: { key: 'item_id' } },
  timestamp: 'ts',
  features: [
    { name: 'user:id', kind: 'categorical', source: 'user_id' },
    { name: 'item:id', kind: 'categorical', source: 'item_id' },
    { name: 'item:price', kind: 'numeric', transforms: [{ op: 'log1p' }, { op: 'standardize' }] },
    { name: 'context:device', kind: 'categorical' },
    { name: 'context:device_hash', kind: 'categorical', source: 'device', buckets: 16 },
  ],
  labels: [{ name: 'click', source: 'clicked', kind: 'binary' }],
});

// The same 8 events in three formats. The Parquet bytes were written once by hyparquet-writer 0.17.0
// (parquetWriteBuffer, rowGroupSize 3 so that the reader crosses row groups; ts as TIMESTAMP
// millis, clicked as BOOLEAN, one null price and one null device) and pasted here as base64.
const PARQUET = Buffer.from(
  'UEFSMRUGFSgVLFwVBhUAFQYVABUEFQAAAAMHEkQCAAAAdTECAAAAdTECAAAAdTIVBhUoFSxcFQYVABUGFQAVBBUAAAADBxJEAgAAAGkxAgAA' +
    'AGkyAgAAAGkxFQYVNBU4XBUGFQAVBhUAFQQVAAAAAwcYXIDiiMKMAQAAANG/wowBAACAv/bCjAEAABUGFTQVMFwVBhUAFQYVABUEFQAAAAMH' +
    'GAAABQEEI0AFBygANEAAAAAAAAAjQBUGFUIVRlwVBhUAFQYVABUEFQAAAAMHH3gGAAAAbW9iaWxlBwAAAGRlc2t0b3AGAAAAbW9iaWxlFQYV' +
    'BhUKXBUGFQAVBhUAFQQVAAAAAwcBAAUVBhUoFSxcFQYVABUGFQAVBBUAAAADBxJEAgAAAHUyAgAAAHUzAgAAAHUzFQYVKBUsXBUGFQAVBhUA' +
    'FQQVAAAAAwcSRAIAAABpMwIAAABpMgIAAABpMxUGFTQVOFwVBhUAFQYVABUEFQAAAAMHGFwAri3DjAEAAICcZMOMAQAAAIubw4wBAAAVBhUk' +
    'FSRcFQYVAhUGFQAVBBUAAAADBhAAAAUBJDRAAAAAAAAACEAVBhUsFTBcFQYVAhUGFQAVBBUAAAADAxRMBgAAAG1vYmlsZQYAAAB0YWJsZXQV' +
    'BhUGFQpcFQYVABUGFQAVBBUAAAADBwEABRUGFRwVIFwVBBUAFQQVABUEFQAAAAMDDCwCAAAAdTMCAAAAdTEVBhUcFSBcFQQVABUEFQAVBBUA' +
    'AAADAwwsAgAAAGkxAgAAAGkzFQYVJBUoXBUEFQAVBBUAFQQVAAAAAwMQPIB50sOMAQAAAGgJxIwBAAAVBhUkFSRcFQQVABUEFQAVBBUAAAAD' +
    'AxAAAAUBJCNAAAAAAAAACEAVBhUuFTJcFQQVABUEFQAVBBUAAAADAxVQBgAAAG1vYmlsZQcAAABkZXNrdG9wFQYVBhUKXBUEFQAVBBUAFQQV' +
    'AAAAAwMBAAMVBBl8SARyb290FQwAFQwlAhgHdXNlcl9pZCUAABUMJQIYB2l0ZW1faWQlAAAVBCUCGAJ0cyUSABUKJQIYBXByaWNlABUMJQIY' +
    'BmRldmljZSUAABUAJQIYB2NsaWNrZWQAFhAZPBlsJggcFQwZFQAZGAd1c2VyX2lkFQIWBhZSFlYmCDw2ACgCdTIYAnUxABkcFQYVABUCAAAA' +
    'Jl4cFQwZFQAZGAdpdGVtX2lkFQIWBhZSFlYmXjw2ACgCaTIYAmkxABkcFQYVABUCAAAAJrQBHBUEGRUAGRgCdHMVAhYGFl4WYia0ATw2ACgI' +
    'gL/2wowBAAAYCIDiiMKMAQAAABkcFQYVABUCAAAAJpYCHBUKGRUAGRgFcHJpY2UVAhYGFl4WWiaWAjw2ACgIAAAAAAAANEAYCAAAAAAAACNA' +
    'NgAAGRwVBhUAFQIAAAAm8AIcFQwZFQAZGAZkZXZpY2UVAhYGFmwWcCbwAjw2ACgGbW9iaWxlGAdkZXNrdG9wABkcFQYVABUCAAAAJuADHBUA' +
    'GRUAGRgHY2xpY2tlZBUCFgYWMBY0JuADPDYAKAEBGAEAABkcFQYVABUCAAAAFvwDFgY2jAQAGWwmlAQcFQwZFQAZGAd1c2VyX2lkFQIWBhZS' +
    'FlYmlAQ8NgAoAnUzGAJ1MgAZHBUGFQAVAgAAACbqBBwVDBkVABkYB2l0ZW1faWQVAhYGFlIWVibqBDw2ACgCaTMYAmkyABkcFQYVABUCAAAA' +
    'JsAFHBUEGRUAGRgCdHMVAhYGFl4WYibABTw2ACgIAIubw4wBAAAYCACuLcOMAQAAABkcFQYVABUCAAAAJqIGHBUKGRUAGRgFcHJpY2UVAhYG' +
    'Fk4WTiaiBjw2AigIAAAAAAAANEAYCAAAAAAAAAhANgAAGRwVBhUAFQIAAAAm8AYcFQwZFQAZGAZkZXZpY2UVAhYGFlYWWibwBjw2AigGdGFi' +
    'bGV0GAZtb2JpbGUAGRwVBhUAFQIAAAAmygccFQAZFQAZGAdjbGlja2VkFQIWBhYwFjQmygc8NgAoAQEYAQAAGRwVBhUAFQIAAAAW1gMWBjbq' +
    'AwAZbCb+BxwVDBkVABkYB3VzZXJfaWQVAhYEFkYWSib+Bzw2ACgCdTMYAnUxABkcFQYVABUCAAAAJsgIHBUMGRUAGRgHaXRlbV9pZBUCFgQW' +
    'RhZKJsgIPDYAKAJpMxgCaTEAGRwVBhUAFQIAAAAmkgkcFQQZFQAZGAJ0cxUCFgQWThZSJpIJPDYAKAgAaAnEjAEAABgIgHnSw4wBAAAAGRwV' +
    'BhUAFQIAAAAm5AkcFQoZFQAZGAVwcmljZRUCFgQWThZOJuQJPDYAKAgAAAAAAAAjQBgIAAAAAAAACEA2AAAZHBUGFQAVAgAAACayChwVDBkV' +
    'ABkYBmRldmljZRUCFgQWWBZcJrIKPDYAKAZtb2JpbGUYB2Rlc2t0b3AAGRwVBhUAFQIAAAAmjgscFQAZFQAZGAdjbGlja2VkFQIWBBYwFjQm' +
    'jgs8NgAoAQEYAQEAGRwVBhUAFQIAAAAWsAMWBDbEAwAoCWh5cGFycXVldBlsHAAAHAAAHAAAHAAAHAAAHAAAAKYEAABQQVIx',
  'base64',
);
const hours = [1, 2, 3, 4, 5, 6, 7, 8];
const rows = [
  ['u1', 'i1', 9.5, 'mobile', 1],
  ['u1', 'i2', 20, 'desktop', 0],
  ['u2', 'i1', 9.5, 'mobile', 1],
  ['u2', 'i3', null, 'mobile', 1],
  ['u3', 'i2', 20, 'tablet', 0],
  ['u3', 'i3', 3, null, 1],
  ['u3', 'i1', 9.5, 'mobile', 1],
  ['u1', 'i3', 3, 'desktop', 1],
] as const;
const iso = (h: number) => new Date(Date.UTC(2024, 0, 1, h)).toISOString();
const CSV =
  [
    'user_id,item_id,ts,price,device,clicked',
    ...rows.map((r, j) => [r[0], r[1], iso(hours[j]), r[2] ?? '', r[3] ?? '', r[4]].join(',')),
  ].join('\r\n') + '\r\n';
const JSONL =
  rows
    .map((r, j) =>
      JSON.stringify({
        user_id: r[0],
        item_id: r[1],
        ts: Date.UTC(2024, 0, 1, hours[j]),
        price: r[2],
        device: r[3],
        clicked: r[4] === 1,
      }),
    )
    .join('\n') + '\n';

async function ingest(format: 'csv' | 'jsonl' | 'parquet', content: string | Uint8Array, overrides = {}) {
  const path = join(fixture({ [`logs.${format}`]: content }), `logs.${format}`);
  const opts = testOptions(overrides);
  const summary = await ingestTabular({ source: format, spec, reader: await readerFor(format, path) }, opts);
  return { summary, ds: loadDataset(opts.out), opts, path };
}

describe('logs described by a spec', () => {
  it('CSV, JSON Lines and Parquet with the same events give the same dataset', async () => {
    const results = await Promise.all([ingest('csv', CSV), ingest('jsonl', JSONL), ingest('parquet', PARQUET)]);
    const [csv] = results;
    expect(csv.summary.counts).toMatchObject({ users: 3, items: 3, interactions: 8, positives: 6, impressions: 8 });
    expect(csv.ds.vocabularies['user:id']).toEqual(['u1', 'u2', 'u3']);
    expect(csv.ds.vocabularies['context:device']).toEqual(['mobile', 'desktop', 'tablet']);
    const device = [...(csv.ds.impressions!.columns.get('context:device')!.data as Int32Array)];
    expect(device).toEqual([2, 3, 2, 2, 4, 0, 2, 3]);
    const hashed = [...(csv.ds.impressions!.columns.get('context:device_hash')!.data as Int32Array)];
    expect(hashed[0]).toBe(FIRST_INDEX + (fnv1a32('mobile') % 16));
    expect([...csv.ds.impressions!.ts]).toEqual(hours.map((h) => Date.UTC(2024, 0, 1, h) / 1000));
    for (const other of results.slice(1)) {
      expect(other.ds.vocabularies).toEqual(csv.ds.vocabularies);
      expect(other.ds.spec).toEqual(csv.ds.spec);
      for (const table of ['users', 'items', 'interactions', 'impressions'] as const) {
        for (const [name, col] of csv.ds[table]!.columns)
          expect(other.ds[table]!.columns.get(name), `${other.summary.source} ${table}.${name}`).toEqual(col);
      }
    }
    // A missing price takes fill 0 before log1p/standardize, like any other missing value.
    expect(csv.ds.statistics['item:price']).toMatchObject({ missing: 0 });
    expect(OOV_INDEX).toBe(1);
  });

  it('says which spec column a file lacks, in one sentence', async () => {
    await expect(ingest('csv', 'user_id,item_id,ts,device,clicked\nu1,i1,1,mobile,1\n')).rejects.toThrow(
      /logs.csv has no column "price" that the spec reads \(its columns: user_id, item_id, ts, device, clicked\)\./,
    );
    await expect(ingest('jsonl', '{"user_id":"u1"}\n')).rejects.toThrow(
      /has no columns "item_id", "ts", "clicked", "price", "device" that the spec reads/,
    );
    await expect(ingest('parquet', Buffer.from('not parquet at all'))).rejects.toThrow(/is not a Parquet file/);
    // A tab-separated file: one "column" holding every tab, before; now the sentence says what it is.
    await expect(ingest('csv', 'user_id\titem_id\tts\tdevice\tclicked\nu1\ti1\t1\tmobile\t1\n')).rejects.toThrow(
      /logs\.csv looks tab-separated \(its header has tabs and no commas\): --source csv reads comma-separated files;/,
    );
  });

  it('skips rows with a bad time, label, key or number, and names their lines', async () => {
    const bad =
      CSV +
      [
        'u4,i1,yesterday,1,mobile,1',
        'u4,i1,2024-01-02,1,mobile,maybe',
        ',i1,2024-01-02,1,mobile,1',
        'u4,i1,2024-01-02,cheap,mobile,1',
        // A time of -5 was stored as 1969 (a sign or unit mistake); the edge refuses times before 2000 too.
        'u4,i1,-5,1,mobile,1',
      ].join('\r\n') +
      '\r\n';
    const { summary } = await ingest('csv', bad);
    expect(summary.counts.impressions).toBe(8);
    expect(summary.badRows.samples.map((s) => [s.line, s.reason])).toEqual([
      [10, 'time "ts" is not a unix time or ISO date: "yesterday"'],
      [11, 'label "click" must be 0 or 1, got "maybe"'],
      [12, 'user key "user_id" is missing'],
      [13, 'item:price must be a number, got "cheap"'],
      [14, 'time "ts" is before 1970: "-5"'],
    ]);
    const badJson = JSONL + '{"user_id": "u9", oops}\n';
    expect((await ingest('jsonl', badJson)).summary.badRows.samples[0]).toMatchObject({
      line: 9,
      reason: expect.stringMatching(/^not valid JSON/),
    });
  });

  // A shop's export leaves the order value empty on rows without an order: before "fill", every such row was
  // malformed and the ingest failed after 10 of them.
  it('reads a missing label as its fill, and without one names the fix', async () => {
    const withRevenue = (fill?: number) =>
      parseFeatureSpec({
        ...spec,
        labels: [
          { name: 'click', source: 'clicked', kind: 'binary' },
          { name: 'revenue', source: 'order_value', kind: 'regression', ...(fill === undefined ? {} : { fill }) },
        ],
      });
    const csv = 'user_id,item_id,ts,price,device,clicked,order_value\nu1,i1,1,9,mobile,1,12.5\nu1,i2,2,3,mobile,0,\n';
    const path = join(fixture({ 'shop.csv': csv }), 'shop.csv');
    const run = async (s: ReturnType<typeof withRevenue>) => {
      const opts = testOptions({ maxBadRows: 5 });
      const summary = await ingestTabular({ source: 'csv', spec: s, reader: await readerFor('csv', path) }, opts);
      return { summary, ds: loadDataset(opts.out) };
    };
    const filled = await run(withRevenue(0));
    expect(filled.summary.counts.impressions).toBe(2);
    expect([...filled.ds.impressions!.labels.get('revenue')!]).toEqual([12.5, 0]);
    const unfilled = await run(withRevenue());
    expect(unfilled.summary.badRows.samples[0].reason).toBe(
      'label "revenue" must be a number, got "" (a label with "fill": 0 reads a missing value as 0)',
    );
    expect(() => parseFeatureSpec({ ...spec, labels: [{ name: 'click', kind: 'binary', fill: 2 }] })).toThrow(
      /expected 0 or 1 for a binary label/,
    );
  });

  // Before, a spec without a sequence over item:id trained models that never read the user's history, and nothing
  // said so: the examples in the docs had none.
  it("adds the user's history unless the spec declares one, and says so", async () => {
    const lines: string[] = [];
    const { ds } = await ingest('csv', CSV, { log: (line: string) => lines.push(line) });
    expect(ds.spec.features.find((f) => f.name === 'user:recent_items')).toMatchObject({
      kind: 'sequence',
      maxLength: 50,
      vocabulary: 'item:id',
    });
    expect(lines).toEqual([expect.stringMatching(/^the spec declares no user history, so it reads user:recent_items/)]);
    const own = { name: 'user:last_items', kind: 'sequence', maxLength: 5, vocabulary: 'item:id' } as const;
    expect(withUserHistory(parseFeatureSpec({ ...spec, features: [...spec.features, own] })).added).toBe(false);
    const noItems = parseFeatureSpec({ ...spec, entities: { user: { key: 'user_id' } }, features: [] });
    expect(withUserHistory(noItems).added).toBe(false);
  });
});
