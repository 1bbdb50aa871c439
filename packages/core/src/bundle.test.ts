import { describe, expect, it } from 'vitest';
import { BundleIntegrityError, describeFile, parseBundleManifest, sha256Hex, verifyBundleFile } from './bundle.ts';
import { readSafetensors, writeSafetensors } from './safetensors.ts';

describe('sha256Hex', () => {
  it('matches the FIPS 180-2 test vectors', async () => {
    expect(await sha256Hex(new TextEncoder().encode('abc'))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(await sha256Hex(new Uint8Array(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

describe('bundle manifest', () => {
  async function bundle() {
    const items = writeSafetensors(
      { item_embeddings: { dtype: 'F32', shape: [3, 2], data: Float32Array.from([1, 0, 0, 1, 0.6, 0.8]) } },
      { kind: 'items' },
    );
    const manifest = parseBundleManifest({
      name: 'shop-recs',
      version: '7',
      createdAt: '2024-06-01T12:00:00Z',
      architecture: {
        retrieval: { embeddingDim: 2, userTowerLayers: [8], historyLength: 20, attentionHeads: 2 },
        ranking: { embeddingDim: 4, bottomMlp: [8, 4], topMlp: [8, 1], interaction: 'dot', heads: ['ctr', 'cvr'] },
      },
      featureSpec: { features: [{ name: 'item:genres', kind: 'multi_hot', maxLength: 3 }] },
      vocabularies: { 'item:genres': ['Action', 'Drama'] },
      files: [await describeFile('items.safetensors', items)],
      trainingData: { source: 'synthetic', interactions: 100 },
      metrics: { retrieval: { 'recall@100': 0.31 } },
    });
    return { manifest, items };
  }

  it('round-trips through JSON and verifies its files', async () => {
    const { manifest, items } = await bundle();
    const back = parseBundleManifest(JSON.stringify(manifest));
    expect(back).toEqual(manifest);
    await verifyBundleFile(back, 'items.safetensors', items);
    const { tensors, metadata } = readSafetensors(items);
    expect(metadata.kind).toBe('items');
    expect([...tensors.get('item_embeddings')!.data]).toEqual([...Float32Array.from([1, 0, 0, 1, 0.6, 0.8])]);
  });

  it('refuses a file whose size or bytes differ, naming it', async () => {
    const { manifest, items } = await bundle();
    const flipped = items.slice();
    flipped[flipped.length - 1] ^= 1;
    await expect(verifyBundleFile(manifest, 'items.safetensors', flipped)).rejects.toThrow(
      /"items.safetensors" has sha256 [0-9a-f]{64} but the manifest says/,
    );
    await expect(verifyBundleFile(manifest, 'items.safetensors', items.subarray(1))).rejects.toThrow(
      BundleIntegrityError,
    );
    await expect(verifyBundleFile(manifest, 'ranking.onnx', items)).rejects.toThrow(/not listed in manifest.json/);
  });

  it('names the bad path', async () => {
    const { manifest } = await bundle();
    const bad = structuredClone(manifest) as any;
    bad.files[0].sha256 = 'XYZ';
    expect(() => parseBundleManifest(bad)).toThrow('files[0].sha256: expected 64 lowercase hex digits');
    bad.files[0].sha256 = manifest.files[0].sha256;
    bad.files[0].name = '../etc/passwd';
    expect(() => parseBundleManifest(bad)).toThrow(/^files\[0\]\.name: expected a relative file name/);
    bad.files[0].name = 'items.safetensors';
    bad.featureSpec.features[0].maxLength = -1;
    expect(() => parseBundleManifest(bad)).toThrow('featureSpec.features[0].maxLength: expected a positive integer');
    expect(() => parseBundleManifest({ ...manifest, architecture: {} })).toThrow(
      /^architecture: expected a retrieval or a ranking/,
    );
  });
});
