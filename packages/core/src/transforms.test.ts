import { describe, expect, it } from 'vitest';
import { OOV_INDEX, PAD_INDEX, parseFeatureSpec } from './spec.ts';
import {
  buildLookups,
  encodeMultiHot,
  encodeSequence,
  fnv1a32,
  hashBucket,
  transformNumeric,
  transformRow,
  transformValue,
} from './transforms.ts';

/** FNV-1a written the obvious way over TextEncoder bytes: the reference for the inline UTF-8 path. */
function fnvReference(text: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(text)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

const spec = parseFeatureSpec({
  features: [
    {
      name: 'item:price',
      kind: 'numeric',
      fill: 1,
      transforms: [{ op: 'log1p' }, { op: 'clip', max: 3 }, { op: 'standardize', mean: 1, std: 0.5 }],
    },
    { name: 'context:hour', kind: 'numeric', transforms: [{ op: 'bucketize', boundaries: [6, 12, 18] }] },
    { name: 'context:device', kind: 'categorical' },
    { name: 'item:brand', kind: 'categorical', buckets: 100 },
    { name: 'item:genres', kind: 'multi_hot', maxLength: 3 },
    { name: 'user:recent', kind: 'sequence', maxLength: 3, vocabulary: 'item:id', source: 'recent' },
  ],
});
const vocabularies = {
  'context:device': ['mobile', 'desktop'],
  'item:genres': ['Action', 'Comedy', 'Drama'],
  'item:id': ['a', 'b', 'c', 'd'],
};
const lookups = buildLookups(spec, vocabularies);

describe('fnv1a32', () => {
  it('matches the published FNV-1a test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });
  it('hashes the UTF-8 bytes (2-, 3-, 4-byte characters, lone surrogates)', () => {
    for (const s of ['é', 'Amélie (2001)', '東京', '😀 emoji', 'x\ud800y', 'end\udfff'])
      expect(fnv1a32(s), s).toBe(fnvReference(s));
  });
  it('puts hash buckets after PAD and OOV', () => {
    for (const s of ['FR', 'DE', '']) {
      const b = hashBucket(s, 100);
      expect(b).toBeGreaterThanOrEqual(2);
      expect(b).toBeLessThan(102);
    }
  });
});

describe('transforms', () => {
  it('numeric pipeline in order, missing → fill', () => {
    const price = spec.features[0];
    if (price.kind !== 'numeric') throw new Error('kind');
    expect(transformNumeric(price, 9)).toBe(Math.fround((Math.min(3, Math.log1p(9)) - 1) / 0.5));
    expect(transformNumeric(price, '9')).toBe(transformNumeric(price, 9));
    expect(transformNumeric(price, 1e9)).toBe(Math.fround((3 - 1) / 0.5));
    expect(transformNumeric(price, '')).toBe(Math.fround((Math.log1p(1) - 1) / 0.5));
    expect(transformNumeric(price, 'n/a')).toBe(transformNumeric(price, null));
  });
  it('bucketize puts boundary values in the upper bucket', () => {
    const hour = spec.features[1];
    const got = [0, 5.9, 6, 11, 12, 18, 23].map((h) => transformValue(hour, h, lookups));
    expect(got).toEqual([0, 0, 1, 1, 2, 3, 3]);
  });
  it('vocabulary lookup with OOV and PAD', () => {
    const device = spec.features[2];
    expect(transformValue(device, 'mobile', lookups)).toBe(2);
    expect(transformValue(device, 'desktop', lookups)).toBe(3);
    expect(transformValue(device, 'tv', lookups)).toBe(OOV_INDEX);
    expect(transformValue(device, undefined, lookups)).toBe(PAD_INDEX);
  });
  it('multi-hot: first L distinct values, PAD after; strings split on the separator', () => {
    const genres = spec.features[4];
    if (genres.kind !== 'multi_hot') throw new Error('kind');
    expect([...encodeMultiHot(genres, 'Comedy|Action|Comedy', lookups)]).toEqual([3, 2, 0]);
    expect([...encodeMultiHot(genres, ['Drama', 'Western', 'Action', 'Comedy'], lookups)]).toEqual([4, OOV_INDEX, 2]);
    expect([...encodeMultiHot(genres, '', lookups)]).toEqual([0, 0, 0]);
  });
  it('sequence: the most recent L, oldest first, right-padded', () => {
    const recent = spec.features[5];
    if (recent.kind !== 'sequence') throw new Error('kind');
    expect([...encodeSequence(recent, ['a', 'b', 'c', 'd'], lookups)]).toEqual([3, 4, 5]);
    expect([...encodeSequence(recent, 'b|zz', lookups)]).toEqual([3, OOV_INDEX, 0]);
  });
  it('identical input gives identical output, row after row', () => {
    const row = {
      price: '12.5',
      hour: 13,
      device: 'mobile',
      brand: 'Acme',
      genres: 'Drama|Action',
      recent: ['c', 'a'],
    };
    const a = transformRow(spec, row, lookups);
    const b = transformRow(spec, structuredClone(row), buildLookups(spec, structuredClone(vocabularies)));
    expect(a).toEqual(b);
    expect(a['item:brand']).toBe(2 + (fnv1a32('Acme') % 100));
    expect(Object.keys(transformRow(spec, row, lookups, ['context']))).toEqual(['context:hour', 'context:device']);
  });
  it('refuses to standardize without fitted statistics', () => {
    const s = parseFeatureSpec({
      features: [{ name: 'user:age', kind: 'numeric', transforms: [{ op: 'standardize' }] }],
    });
    expect(() => transformValue(s.features[0], 3, lookups)).toThrow(/no fitted mean\/std/);
  });
});
