// Test fixture (Node only: imports the trainer's writers): a small bundle from seeded random
// weights, written through the trainer's file writers (retrievalFile, rankingTensors +
// writeSafetensors, rankingOnnx) so the engine reads exactly what `vireo train` writes.
// Not part of the library build.
import {
  describeFile,
  parseBundleManifest,
  writeSafetensors,
  FIRST_INDEX,
  type BundleManifest,
  type Tensor,
} from '@vireo/core';
import { testRng } from '@vireo/kernels';
import {
  quantizeRows,
  retrievalParamLayout,
  type RetrievalConfig,
  arraysToTensors,
  rankingParameters,
  rankingTensors,
  type RankingConfig,
} from '@vireo/models';
import { retrievalFile, rankingOnnx, rankingArchitecture } from '@vireo/models/training';

export const FIXTURE_ITEMS = 30;
export const FIXTURE_USERS = 10;
const CATEGORIES = 4;

export function fixtureRetrievalConfig(N = FIXTURE_ITEMS, D = 8): RetrievalConfig {
  const L = 4;
  const itemFields = [
    {
      name: 'item:id',
      kind: 'categorical' as const,
      offset: 0,
      rows: N + FIRST_INDEX,
      width: 1,
      vocabulary: 'item:id',
    },
    {
      name: 'item:category',
      kind: 'categorical' as const,
      offset: N + FIRST_INDEX,
      rows: CATEGORIES + FIRST_INDEX,
      width: 1,
    },
  ];
  let next = N + FIRST_INDEX + CATEGORIES + FIRST_INDEX;
  const userFields = [
    {
      name: 'user:id',
      kind: 'categorical' as const,
      offset: next,
      rows: FIXTURE_USERS + FIRST_INDEX,
      width: 1,
      vocabulary: 'user:id',
    },
    {
      name: 'context:hour',
      kind: 'categorical' as const,
      offset: (next += FIXTURE_USERS + FIRST_INDEX),
      rows: 24 + FIRST_INDEX,
      width: 1,
    },
  ];
  next += 24 + FIRST_INDEX;
  const position = { name: 'position', kind: 'position' as const, offset: next, rows: L, width: 1 };
  const label = { name: 'label', kind: 'label' as const, offset: next + L, rows: 2, width: 1 };
  return {
    fieldDim: 8,
    embeddingDim: D,
    historyLength: L,
    heads: 2,
    itemHidden: 8,
    userHidden: 16,
    temperature: 0.1,
    tableRows: next + L + 2,
    itemFields,
    userFields,
    position,
    label,
    historyItemFields: true,
    lastItem: true,
  };
}

export function fixtureRankingConfig(N = FIXTURE_ITEMS): RankingConfig {
  return {
    denseFeatures: [],
    sparseFeatures: [
      { name: 'user:id', rows: FIXTURE_USERS + FIRST_INDEX, width: 1 },
      { name: 'item:id', rows: N + FIRST_INDEX, width: 1 },
      { name: 'item:category', rows: CATEGORIES + FIRST_INDEX, width: 1 },
    ],
    embeddingDim: 4,
    bottomMlp: [4],
    topMlp: [8],
    towerMlp: [],
    interaction: 'dot',
    heads: ['ctr', 'cvr', 'revenue'],
  };
}

/**
 * A bundle's manifest and files (bytes by name), made from `seed`; `items` and `dim` size the
 * catalogue (the runtime benchmark's 10k..1M).
 */
export async function makeFixtureBundle(
  version: string,
  seed = 1,
  name = 'fixture',
  size: {
    items?: number;
    dim?: number;
    lastItem?: boolean;
    causal?: boolean;
    lastOutput?: boolean;
    blocks?: number;
    /** The history's own item:id rows (historyId). */
    historyRows?: boolean;
    /** A ranker with the wide term (RankingConfig.wide), its weights random like the rest. */
    wide?: boolean;
  } = {},
): Promise<{ manifest: BundleManifest; files: Map<string, Uint8Array> }> {
  const rng = testRng(seed);
  const N = size.items ?? FIXTURE_ITEMS;
  const rc = {
    ...fixtureRetrievalConfig(N, size.dim ?? 8),
    lastItem: size.lastItem ?? true,
    ...(size.causal ? { causal: true } : {}),
    ...(size.lastOutput ? { lastOutput: true } : {}),
    ...(size.blocks ? { blocks: size.blocks, ffnHidden: 12 } : {}),
  };
  if (size.historyRows) {
    const id = rc.itemFields[0];
    Object.assign(rc, {
      historyItemFields: false,
      historyId: { ...id, name: 'history:item:id', offset: rc.tableRows },
      tableRows: rc.tableRows + id.rows,
    });
  }
  const params = rng.uniform(retrievalParamLayout(rc).length, -0.4, 0.4);
  const table = rng.uniform(rc.tableRows * rc.fieldDim, -0.5, 0.5);
  const D = rc.embeddingDim;
  const emb = rng.uniform(N * D, -1, 1);
  for (let i = 0; i < N; i++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += emb[i * D + d] ** 2;
    for (let d = 0; d < D; d++) emb[i * D + d] /= Math.sqrt(s);
  }
  const q = quantizeRows(emb, N, D);
  const category = Int32Array.from({ length: N }, (_, i) => FIRST_INDEX + (i % CATEGORIES));
  const items = writeSafetensors(
    new Map<string, Tensor>([
      ['embeddings', { dtype: 'F32', shape: [N, D], data: emb }],
      ['embeddings.int8', { dtype: 'I8', shape: [N, D], data: q.values }],
      ['embeddings.scale', { dtype: 'F32', shape: [N], data: q.scales }],
      ['features.item:category', { dtype: 'I32', shape: [N], data: category }],
    ]),
    { format: 'vireo-items' },
  );
  const kc = { ...fixtureRankingConfig(N), ...(size.wide ? { wide: true } : {}) };
  const rparams = rng.uniform(rankingParameters(kc).total, -0.5, 0.5);
  const tables = kc.sparseFeatures.map((f) => rng.uniform(f.rows * kc.embeddingDim, -0.5, 0.5));
  const { tensors, metadata } = rankingTensors(kc, rparams, tables);
  const files = new Map<string, Uint8Array>([
    ['retrieval.safetensors', retrievalFile(rc, arraysToTensors(rc, params, table))],
    ['items.safetensors', items],
    ['ranking.safetensors', writeSafetensors(tensors, metadata)],
    ['ranking.onnx', rankingOnnx(kc, rparams, tables)],
  ]);
  const manifest = parseBundleManifest({
    name,
    version,
    createdAt: new Date(0).toISOString(),
    architecture: {
      retrieval: {
        embeddingDim: D,
        userTowerLayers: [rc.userHidden, D],
        itemTowerLayers: [rc.itemHidden, D],
        historyLength: rc.historyLength,
        attentionHeads: rc.heads,
        config: rc,
      },
      ranking: rankingArchitecture(kc),
    },
    featureSpec: {
      features: [
        { name: 'user:id', kind: 'categorical', vocabulary: 'user:id' },
        { name: 'item:id', kind: 'categorical', vocabulary: 'item:id' },
        { name: 'item:category', kind: 'categorical', buckets: CATEGORIES },
        { name: 'context:hour', kind: 'categorical', buckets: 24 },
      ],
    },
    vocabularies: {
      'item:id': Array.from({ length: N }, (_, i) => `i${i}`),
      'user:id': Array.from({ length: FIXTURE_USERS }, (_, i) => `u${i}`),
    },
    files: await Promise.all([...files].map(([n, b]) => describeFile(n, b))),
  });
  return { manifest, files };
}

/** A fetch over in-memory bundle folders: `${base}/${version}/...` plus a switchable `current`. */
export class FakeOrigin {
  readonly versions = new Map<string, { manifest: BundleManifest; files: Map<string, Uint8Array> }>();
  current = '';
  down = false;
  requests: string[] = [];
  /** POST /v1/events bodies received. */
  events: { event_id: string }[] = [];
  constructor(readonly base = 'https://cdn.test/models/fixture/') {}
  add(b: { manifest: BundleManifest; files: Map<string, Uint8Array> }): void {
    this.versions.set(b.manifest.version, b);
    this.current = b.manifest.version;
  }
  fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    this.requests.push(url);
    if (this.down) throw new TypeError('fetch failed (origin down)');
    if (url.endsWith('/v1/events')) {
      const body = JSON.parse(String(init?.body)) as { events: { event_id: string }[] };
      this.events.push(...body.events);
      return new Response(JSON.stringify({ accepted: body.events.length, duplicate: 0, rejected: 0 }), { status: 202 });
    }
    if (url.includes('/v1/users/'))
      return new Response(JSON.stringify({ features: {}, model_ready: { values: {} } }), { status: 200 });
    if (url === this.base + 'manifest.json')
      return new Response(JSON.stringify(this.versions.get(this.current)!.manifest));
    const file = url.slice(this.base.length);
    const bytes = this.versions.get(this.current)?.files.get(file);
    return bytes ? new Response(bytes as Uint8Array<ArrayBuffer>) : new Response('not found', { status: 404 });
  };
}
