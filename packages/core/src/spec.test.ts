import { describe, expect, it } from 'vitest';
import { FIRST_INDEX, SpecError, cardinality, featureSource, featureView, parseFeatureSpec } from './spec.ts';

const good = {
  name: 'shop',
  entities: { user: { key: 'user_id' }, item: { key: 'item_id' } },
  timestamp: 'ts',
  features: [
    { name: 'item:price', kind: 'numeric', transforms: [{ op: 'log1p' }, { op: 'standardize', mean: 1, std: 2 }] },
    { name: 'context:device', kind: 'categorical' },
    { name: 'item:brand', kind: 'categorical', buckets: 1000 },
    { name: 'item:genres', kind: 'multi_hot', maxLength: 4 },
    { name: 'user:recent_items', kind: 'sequence', maxLength: 20, vocabulary: 'item:id', source: 'history' },
  ],
  labels: [{ name: 'click', kind: 'binary' }],
};

function errorOf(doc: unknown): string {
  try {
    parseFeatureSpec(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    return (err as Error).message;
  }
  throw new Error('expected parseFeatureSpec to throw');
}

describe('parseFeatureSpec', () => {
  it('accepts a full spec and fills defaults', () => {
    const spec = parseFeatureSpec(JSON.stringify(good));
    expect(spec.version).toBe(1);
    expect(spec.features).toHaveLength(5);
    const genres = spec.features[3];
    expect(genres.kind === 'multi_hot' && genres.separator).toBe('|');
    const device = spec.features[1];
    expect(device.kind).toBe('categorical');
    expect(featureView('user:recent_items')).toBe('user');
    expect(featureSource(spec.features[4])).toBe('history');
    expect(featureSource(spec.features[0])).toBe('price');
  });

  it('names the path of a bad field', () => {
    const doc = structuredClone(good) as any;
    doc.features[2].buckets = -3;
    expect(errorOf(doc)).toBe('features[2].buckets: expected a positive integer');
    doc.features[2].buckets = 2.5;
    expect(errorOf(doc)).toBe('features[2].buckets: expected a positive integer');
  });

  it('rejects unknown kinds, ops, keys, bad references and duplicates with their paths', () => {
    const cases: Array<[(d: any) => void, string]> = [
      [
        (d) => (d.features[1].kind = 'embedding'),
        'features[1].kind: expected kind to be one of numeric, categorical, multi_hot, sequence',
      ],
      [
        (d) => (d.features[0].transforms[0] = { op: 'sqrt' }),
        'features[0].transforms[0].op: expected op to be one of log1p, clip, standardize, bucketize',
      ],
      [
        (d) => (d.features[0].name = 'price'),
        'features[0].name: expected "view:name" with view one of user, item, context (e.g. "item:genres")',
      ],
      [
        (d) => (d.features[1].name = 'item:price'),
        'features[1].name: duplicate feature "item:price" (also features[0])',
      ],
      [(d) => (d.features[0].transforms[1].std = 0), 'features[0].transforms[1].std: expected a positive number'],
      [
        (d) => (d.features[0].transforms = [{ op: 'bucketize', boundaries: [3, 1] }]),
        'features[0].transforms[0].boundaries: expected strictly increasing boundaries',
      ],
      [
        (d) => (d.features[0].transforms = [{ op: 'bucketize', boundaries: [1] }, { op: 'log1p' }]),
        'features[0].transforms[0]: expected bucketize to be the last transform',
      ],
      [(d) => (d.features[3].maxLength = 0), 'features[3].maxLength: expected a positive integer'],
    ];
    for (const [mutate, message] of cases) {
      const doc = structuredClone(good);
      mutate(doc);
      expect(errorOf(doc)).toBe(message);
    }
    expect(errorOf({ ...good, extra: 1 })).toMatch(/^\(root\): .*extra/);
    expect(errorOf('{ not json')).toMatch(/^feature spec is not valid JSON/);
  });

  it('sizes embedding tables: PAD + OOV + vocabulary or buckets', () => {
    const spec = parseFeatureSpec(good);
    expect(cardinality(spec.features[2], {})).toBe(FIRST_INDEX + 1000);
    expect(cardinality(spec.features[1], { 'context:device': ['mobile', 'desktop'] })).toBe(4);
    expect(cardinality(spec.features[0], {})).toBe(0);
    expect(() => cardinality(spec.features[3], {})).toThrow(/vocabulary "item:genres" is missing/);
  });
});
