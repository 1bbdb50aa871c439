// The Vireo dashboard: the on-device engine at work. Settings come from /vireo.json (served by
// `vireo start`, which also proxies the edge under this origin). The engine (createEngine from
// @vireo/runtime-web) runs in the page; the catalogue's embeddings and categories are read from
// the bundle's items.safetensors for the map and the "because" lines.
import { FIRST_INDEX, readSafetensors, type BundleManifest } from '@vireo/core';
import { createEngine, type Engine, type RecommendResult, type RecommendedItem } from '@vireo/runtime-web';
import { barChart, lineChart, scatter, STAGE_COLORS, STAGE_LABELS, waterfall, type MapPoint } from './charts.ts';
import { colorOf, fmt, h, mount } from './dom.ts';
import { dot, pca2, percentile, project, solveUser } from './math.ts';

interface Settings {
  model: string;
  token: string;
  versions?: string[];
}

interface Catalogue {
  N: number;
  D: number;
  ids: string[];
  row: Map<string, number>;
  emb: Float32Array;
  /** Category index per row (-1 unknown) and the category names. */
  category: Int32Array;
  categories: string[];
  titles: string[];
  pca: ReturnType<typeof pca2>;
  xy: [number, number][];
}

interface VersionState {
  version: string;
  manifest: BundleManifest;
  engine: Engine;
  catalogue: Catalogue;
}

const STAGES = ['features', 'userTower', 'retrieval', 'ranking', 'blend'] as const;
const SHOW = 10;
const CANDIDATES = 100;

const app = document.getElementById('app')!;
const edge = location.origin;
let settings: Settings;
const versions = new Map<string, VersionState>();
let active: VersionState;
let compareWith: string | null = null;
let userId = '';
const context = { hour: new Date().getHours(), device: '' };
let last: RecommendResult | null = null;
const latencies: Record<string, number[]> = {
  total: [],
  features: [],
  userTower: [],
  retrieval: [],
  ranking: [],
  blend: [],
};
const trails = new Map<string, [number, number][]>();
let busy = false;
const notices: { kind: 'error' | 'warn'; text: string }[] = [];

// ---------------------------------------------------------------------------------------------
// Layout

const el = {
  backend: h('span', { class: 'chip', 'data-testid': 'backend' }, '…'),
  edgeChip: h('span', { class: 'chip' }, 'edge'),
  version: h('span', { class: 'chip' }, ''),
  banner: h('div', { class: 'banners' }),
  user: h('div', { class: 'card user' }),
  history: h('ol', { class: 'history', 'data-testid': 'history' }),
  retrieval: h('ol', { class: 'retrieval' }),
  ranked: h('ol', { class: 'ranked', 'data-testid': 'rec-list' }),
  recMeta: h('div', { class: 'meta' }),
  latency: h('div', { class: 'card-body' }),
  map: h('div', { class: 'card-body map-body' }),
  model: h('div', { class: 'card-body model' }),
  compare: h('div', { class: 'card-body' }),
};

function card(title: string, sub: string | Node | null, body: Node, cls = ''): HTMLElement {
  return h(
    'section',
    { class: `card ${cls}` },
    h('header', {}, h('h2', {}, title), sub ? h('span', { class: 'sub' }, sub) : null),
    body,
  );
}

function layout(): void {
  mount(
    app,
    h(
      'header',
      { class: 'top' },
      h(
        'div',
        { class: 'brand' },
        h('span', { class: 'logo' }, '◆'),
        'Vireo',
        h('span', { class: 'tag' }, 'on-device recommendations'),
      ),
      h('div', { class: 'chips' }, el.version, el.backend, el.edgeChip),
    ),
    el.banner,
    h(
      'main',
      { class: 'grid' },
      h('div', { class: 'col left' }, el.user, card('On-device history', 'newest first', el.history, 'history-card')),
      h(
        'div',
        { class: 'col mid' },
        card(
          'Recommendations',
          el.recMeta,
          h(
            'div',
            { class: 'recs' },
            h(
              'div',
              { class: 'stage' },
              h(
                'h3',
                {},
                h('span', { class: 'dot', style: `background:${STAGE_COLORS.retrieval}` }),
                'Retrieval · top candidates',
              ),
              h('p', { class: 'hint' }, 'user tower · catalogue dot product'),
              el.retrieval,
            ),
            h(
              'div',
              { class: 'stage ranked-stage' },
              h(
                'h3',
                {},
                h('span', { class: 'dot', style: `background:${STAGE_COLORS.ranking}` }),
                'Ranked · expected value',
              ),
              h('p', { class: 'hint' }, 'DLRM heads blended: pCTR × pCVR × revenue · click an item to observe it'),
              el.ranked,
            ),
          ),
        ),
      ),
      h(
        'div',
        { class: 'col right' },
        card('Latency', 'last request · rolling P50 / P99', el.latency),
        card('Embedding map', 'PCA of item embeddings · ★ user', el.map),
      ),
    ),
    h(
      'section',
      { class: 'grid2' },
      card('Model', null, el.model, 'wide'),
      card('Versions', 'side-by-side for this user', el.compare),
    ),
  );
}

function renderNotices(): void {
  mount(
    el.banner,
    ...notices.map((n) => h('div', { class: `banner ${n.kind}` }, n.kind === 'error' ? '⚠ ' : 'ℹ ', n.text)),
  );
}

function notice(kind: 'error' | 'warn', text: string): void {
  if (!notices.some((n) => n.text === text)) notices.push({ kind, text });
  renderNotices();
}

function clearNotice(prefix: string): void {
  const i = notices.findIndex((n) => n.text.startsWith(prefix));
  if (i >= 0) {
    notices.splice(i, 1);
    renderNotices();
  }
}

function fatal(title: string, why: string): void {
  mount(
    app,
    h(
      'div',
      { class: 'fatal' },
      h('div', { class: 'logo big' }, '◆'),
      h('h1', {}, title),
      h('p', {}, why),
      h('p', { class: 'hint' }, 'Restart with `npm start` and reload this page.'),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Data

async function edgeJson<T>(path: string): Promise<T> {
  const res = await fetch(`${edge}${path}`, { headers: { authorization: `Bearer ${settings.token}` } });
  if (!res.ok) {
    const edgeDown = res.status === 502 || res.status === 504 || res.status === 500;
    throw new Error(`${path} answered HTTP ${res.status}${edgeDown ? ' (is the edge running?)' : ''}`);
  }
  return (await res.json()) as T;
}

async function loadCatalogue(manifest: BundleManifest): Promise<Catalogue> {
  const res = await fetch(
    `${edge}/v1/models/${encodeURIComponent(manifest.name)}/${encodeURIComponent(manifest.version)}/items.safetensors`,
    { headers: { authorization: `Bearer ${settings.token}` } },
  );
  if (!res.ok) throw new Error(`items.safetensors answered HTTP ${res.status}`);
  const t = readSafetensors(new Uint8Array(await res.arrayBuffer())).tensors;
  const e = t.get('embeddings')!;
  const [N, D] = e.shape;
  const emb = e.data as Float32Array;
  const vocab = manifest.vocabularies;
  const ids = Array.from({ length: N }, (_, i) => vocab['item:id']?.[i] ?? String(i));
  const categories = vocab['item:category'] ?? [];
  const catT = t.get('features.item:category');
  const category = new Int32Array(N).fill(-1);
  if (catT) for (let i = 0; i < N; i++) category[i] = Number(catT.data[i * (catT.shape[1] ?? 1)]) - FIRST_INDEX;
  const titleT = t.get('features.item:title');
  const words = vocab['item:title'] ?? [];
  const titles = ids.map((id, i) => {
    if (!titleT || words.length === 0) return id;
    const L = titleT.shape[1] ?? 1;
    const w: string[] = [];
    for (let l = 0; l < L; l++) {
      const v = Number(titleT.data[i * L + l]) - FIRST_INDEX;
      if (v >= 0 && words[v]) w.push(words[v]);
    }
    return w.length ? w.join(' ') : id;
  });
  const pca = pca2(emb, N, D);
  const xy = ids.map((_, i) => project(emb, pca, i * D));
  return { N, D, ids, row: new Map(ids.map((id, i) => [id, i])), emb, category, categories, titles, pca, xy };
}

async function openVersion(version: string | null): Promise<VersionState> {
  const manifest =
    version === null
      ? await edgeJson<BundleManifest>(`/v1/models/${encodeURIComponent(settings.model)}/latest`)
      : await edgeJson<BundleManifest>(
          `/v1/models/${encodeURIComponent(settings.model)}/${encodeURIComponent(version)}/manifest.json`,
        );
  const have = versions.get(manifest.version);
  if (have) return have;
  const model =
    version === null
      ? settings.model
      : `${edge}/v1/models/${encodeURIComponent(settings.model)}/${encodeURIComponent(manifest.version)}/`;
  const [engine, catalogue] = await Promise.all([
    createEngine({
      model,
      edge,
      token: settings.token,
      candidates: CANDIDATES,
      onProgress: (p) =>
        setLoading(
          `Loading ${settings.model}@${p.version}: ${p.file} ` +
            `${Math.round((100 * p.bundleLoaded) / Math.max(1, p.bundleTotal))}%`,
        ),
      onError: (err) => notice('error', err.message),
    }),
    loadCatalogue(manifest),
  ]);
  const state = { version: manifest.version, manifest, engine, catalogue };
  versions.set(manifest.version, state);
  return state;
}

function setLoading(text: string): void {
  const l = document.querySelector('.loading-text');
  if (l) l.textContent = text;
}

function contextValues(m: BundleManifest): Record<string, number> {
  const out: Record<string, number> = {};
  // The edge answers user:id = 0 (padding) for a user it has no row for; the model knows the
  // user from its vocabulary, so the page passes the index itself.
  const u = m.vocabularies['user:id']?.indexOf(userId) ?? -1;
  if (u >= 0) out['user:id'] = u + FIRST_INDEX;
  const hours = m.vocabularies['context:hour'];
  const devices = m.vocabularies['context:device'];
  if (hours) {
    const i = hours.indexOf(String(context.hour));
    if (i >= 0) out['context:hour'] = i + FIRST_INDEX;
  }
  if (devices && context.device) {
    const i = devices.indexOf(context.device);
    if (i >= 0) out['context:device'] = i + FIRST_INDEX;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Requests

async function refresh(): Promise<void> {
  if (!userId) return;
  busy = true;
  document.body.classList.add('busy');
  try {
    const r = await active.engine.recommend({
      userId,
      context: contextValues(active.manifest),
      k: CANDIDATES,
      candidates: CANDIDATES,
    });
    last = r;
    for (const s of STAGES) push(latencies[s], r.timings[s]);
    push(latencies.total, r.timings.total);
    if (r.degraded)
      notice('warn', 'The edge did not answer in time: features come from this device’s cache and history.');
    else clearNotice('The edge did not answer');
    el.edgeChip.textContent =
      r.featureSource === 'edge' ? 'edge ● live' : r.featureSource === 'cache' ? 'edge ● cached' : 'edge ● none';
    el.edgeChip.className = `chip ${r.featureSource === 'edge' ? 'ok' : 'warn'}`;
    updateTrail(r);
    renderRecs(r);
    renderHistory(r);
    renderLatency(r);
    renderMap(r);
    void renderCompare();
  } catch (err) {
    notice('error', `Recommending for ${userId} failed: ${(err as Error).message}`);
  } finally {
    busy = false;
    document.body.classList.remove('busy');
  }
}

function push(xs: number[], x: number): void {
  xs.push(x);
  if (xs.length > 200) xs.shift();
}

async function click(itemId: string): Promise<void> {
  if (busy) return;
  busy = true;
  try {
    await active.engine.observe({
      userId,
      itemId,
      type: 'click',
      context: { hour: context.hour, ...(context.device ? { device: context.device } : {}) },
    });
  } catch (err) {
    notice('error', `Observing ${itemId} failed: ${(err as Error).message}`);
  }
  busy = false;
  await refresh();
}

function userVector(r: RecommendResult): Float64Array | null {
  const c = active.catalogue;
  const rows: number[] = [];
  const scores: number[] = [];
  for (const it of r.items) {
    const row = c.row.get(it.itemId);
    if (row !== undefined) {
      rows.push(row);
      scores.push(it.retrievalScore);
    }
  }
  return solveUser(c.emb, c.D, rows, scores);
}

function updateTrail(r: RecommendResult): void {
  const u = userVector(r);
  if (!u) return;
  const key = `${active.version}:${userId}`;
  const t = trails.get(key) ?? [];
  const p = project(u, active.catalogue.pca);
  const prev = t.at(-1);
  if (!prev || Math.hypot(prev[0] - p[0], prev[1] - p[1]) > 1e-6) t.push(p);
  trails.set(key, t.slice(-12));
}

// ---------------------------------------------------------------------------------------------
// Rendering

function catDot(row: number | undefined): HTMLElement {
  const c = active.catalogue;
  const k = row === undefined ? -1 : c.category[row];
  return h('span', {
    class: 'dot',
    style: `background:${k >= 0 ? colorOf(k) : '#bbb'}`,
    title: k >= 0 ? (c.categories[k] ?? '') : '',
  });
}

function itemName(id: string): { title: string; cat: string } {
  const c = active.catalogue;
  const row = c.row.get(id);
  const k = row === undefined ? -1 : c.category[row];
  return { title: row === undefined ? id : c.titles[row], cat: k >= 0 ? (c.categories[k] ?? '') : '' };
}

/** The history items closest to an item (cosine of the item embeddings). */
function because(id: string, history: string[]): string[] {
  const c = active.catalogue;
  const r = c.row.get(id);
  if (r === undefined) return [];
  const D = c.D;
  const norm = (row: number) => Math.sqrt(dot(c.emb, c.emb, row * D, row * D, D)) || 1;
  const nr = norm(r);
  return [...new Set(history)]
    .map((hid) => c.row.get(hid))
    .filter((x): x is number => x !== undefined)
    .map((hr) => ({ id: c.ids[hr], sim: dot(c.emb, c.emb, r * D, hr * D, D) / (nr * norm(hr)) }))
    .sort((a, b) => b.sim - a.sim)
    .slice(0, 2)
    .map((x) => x.id);
}

function renderRecs(r: RecommendResult): void {
  const c = active.catalogue;
  const byRetrieval = [...r.items].sort((a, b) => b.retrievalScore - a.retrievalScore).slice(0, SHOW);
  const maxR = Math.max(...byRetrieval.map((x) => x.retrievalScore), 1e-9);
  const minR = Math.min(...byRetrieval.map((x) => x.retrievalScore));
  mount(
    el.retrieval,
    ...byRetrieval.map((it, i) => {
      const row = c.row.get(it.itemId);
      const w = maxR > minR ? 25 + (75 * (it.retrievalScore - minR)) / (maxR - minR) : 100;
      return h(
        'li',
        { class: 'cand' },
        h('span', { class: 'rank' }, String(i + 1)),
        catDot(row),
        h('span', { class: 'id' }, it.itemId),
        h('span', { class: 'bar' }, h('span', { style: `width:${w.toFixed(0)}%` })),
        h('span', { class: 'num' }, it.retrievalScore.toFixed(3)),
      );
    }),
  );
  const ranked = r.items.slice(0, SHOW);
  const maxV = Math.max(...ranked.map((x) => x.score), 1e-12);
  mount(
    el.ranked,
    ...ranked.map((it: RecommendedItem, i) => {
      const row = c.row.get(it.itemId);
      const name = itemName(it.itemId);
      const why = because(it.itemId, r.history);
      const li = h(
        'li',
        {
          class: 'rec',
          'data-testid': 'rec-item',
          'data-item-id': it.itemId,
          tabindex: 0,
          title: `Click to observe a click on ${it.itemId}`,
        },
        h(
          'div',
          { class: 'rec-head' },
          h('span', { class: 'rank' }, String(i + 1)),
          catDot(row),
          h('span', { class: 'id' }, it.itemId),
          h('span', { class: 'title' }, name.title !== it.itemId ? name.title : ''),
          h('span', { class: 'cat' }, name.cat),
          h('span', { class: 'value' }, fmt.money(it.score)),
        ),
        h(
          'div',
          { class: 'rec-scores' },
          score('pCTR', fmt.pct(it.pCtr)),
          score('pCVR', fmt.pct(it.pCvr)),
          score('revenue', fmt.money(it.revenue)),
          score('retrieval', it.retrievalScore.toFixed(3)),
          h('span', { class: 'vbar' }, h('span', { style: `width:${((100 * it.score) / maxV).toFixed(0)}%` })),
        ),
        h(
          'div',
          { class: 'why' },
          why.length
            ? [
                'close to ',
                ...why.flatMap((w, j) => [j ? ' and ' : '', h('b', {}, w), ` (${itemName(w).cat})`]),
                ' in the history',
              ]
            : 'no history yet: from the user’s features and context',
        ),
      );
      li.addEventListener('click', () => void click(it.itemId));
      li.addEventListener('keydown', (e) => {
        if ((e as KeyboardEvent).key === 'Enter') void click(it.itemId);
      });
      return li;
    }),
  );
  mount(
    el.recMeta,
    `${r.model.name}@${r.model.version} · ${r.items.length} candidates ranked in ${fmt.ms(r.timings.total)}`,
  );
}

function score(label: string, value: string): HTMLElement {
  return h('span', { class: 'score' }, h('small', {}, label), value);
}

function renderHistory(r: RecommendResult): void {
  const items = [...r.history].reverse();
  if (items.length === 0) {
    mount(el.history, h('li', { class: 'empty' }, 'No history yet: click a recommendation.'));
    return;
  }
  mount(
    el.history,
    ...items.map((id) => {
      const row = active.catalogue.row.get(id);
      const n = itemName(id);
      return h(
        'li',
        { 'data-item-id': id },
        catDot(row),
        h('span', { class: 'id' }, id),
        h('span', { class: 'cat' }, n.cat),
      );
    }),
  );
}

function renderLatency(r: RecommendResult): void {
  const stats = ['total', ...STAGES].map((s) =>
    h(
      'tr',
      {},
      h(
        'td',
        {},
        s === 'total'
          ? h('b', {}, 'total')
          : [h('span', { class: 'dot', style: `background:${STAGE_COLORS[s]}` }), STAGE_LABELS[s]],
      ),
      h('td', {}, fmt.ms(percentile(latencies[s], 0.5))),
      h('td', {}, fmt.ms(percentile(latencies[s], 0.99))),
    ),
  );
  mount(
    el.latency,
    waterfall(STAGES.map((s) => ({ name: s, ms: r.timings[s] }))),
    h(
      'table',
      { class: 'stats' },
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, `${latencies.total.length} requests`), h('th', {}, 'P50'), h('th', {}, 'P99')),
      ),
      h('tbody', {}, ...stats),
    ),
    r.timings.gpu
      ? h(
          'p',
          { class: 'hint' },
          'GPU time: ',
          Object.entries(r.timings.gpu)
            .map(([k, v]) => `${k} ${fmt.ms(v)}`)
            .join(' · '),
        )
      : null,
  );
}

function renderMap(r: RecommendResult): void {
  const c = active.catalogue;
  const hist = new Set(r.history);
  const recs = new Set(r.items.slice(0, SHOW).map((x) => x.itemId));
  const points: MapPoint[] = c.ids.map((id, i) => ({
    x: c.xy[i][0],
    y: c.xy[i][1],
    id: `${id}${c.category[i] >= 0 ? ` · ${c.categories[c.category[i]] ?? ''}` : ''}`,
    color: c.category[i] >= 0 ? colorOf(c.category[i]) : '#bbb',
    role: hist.has(id) ? 'history' : recs.has(id) ? 'rec' : 'item',
  }));
  const trail = trails.get(`${active.version}:${userId}`) ?? [];
  const usedCats = [...new Set(Array.from(c.category))]
    .filter((k) => k >= 0)
    .sort((a, b) => a - b)
    .slice(0, 12);
  mount(
    el.map,
    scatter(points, trail.at(-1) ?? null, trail, { onPick: (id) => void click(id.split(' ')[0]) }),
    h(
      'div',
      { class: 'legend' },
      h('span', {}, h('span', { class: 'ring' }), 'history'),
      h('span', {}, h('span', { class: 'solid' }), 'recommended'),
      ...usedCats.map((k) =>
        h('span', {}, h('span', { class: 'dot', style: `background:${colorOf(k)}` }), c.categories[k] ?? `#${k}`),
      ),
    ),
  );
}

function renderModel(): void {
  const m = active.manifest;
  const td = m.trainingData as Record<string, unknown> & {
    epochs?: { epoch: number; loss: number; samplesPerSecond?: number }[];
    samplesPerSecond?: number;
    adapter?: string;
    counts?: Record<string, number>;
  };
  const metrics = m.metrics as {
    retrieval?: { metrics?: Record<string, Record<string, number>> };
    ranking?: {
      test?: { model?: Record<string, { auc?: number }>; baselines?: Record<string, Record<string, { auc?: number }>> };
    };
  };
  const retr = metrics.retrieval?.metrics ?? {};
  const methods = Object.keys(retr).filter((k) => k !== 'model.int8');
  const rank = metrics.ranking?.test;
  const rankGroups = rank?.model
    ? (['ctr', 'ctcvr'] as const).map((head) => ({
        label: `${head.toUpperCase()} AUC`,
        bars: [
          { name: 'model', value: rank.model?.[head]?.auc ?? 0 },
          ...Object.entries(rank.baselines ?? {}).map(([n, b]) => ({ name: n, value: b[head]?.auc ?? 0 })),
        ],
      }))
    : [];
  const files = m.files.map((f) =>
    h(
      'li',
      {},
      h('span', { class: 'id' }, f.name),
      h('span', { class: 'num' }, fmt.bytes(f.bytes)),
      h('code', {}, f.sha256.slice(0, 10)),
    ),
  );
  const arch = m.architecture as {
    retrieval?: { embeddingDim?: number; historyLength?: number };
    ranking?: { interaction?: string; embeddingDim?: number };
  };
  mount(
    el.model,
    h(
      'div',
      { class: 'model-grid' },
      h(
        'div',
        {},
        h('h3', {}, 'Manifest'),
        h(
          'dl',
          { class: 'kv' },
          h('dt', {}, 'model'),
          h('dd', {}, `${m.name}@${m.version}`),
          h('dt', {}, 'created'),
          h('dd', {}, new Date(m.createdAt).toLocaleString()),
          h('dt', {}, 'data'),
          h(
            'dd',
            {},
            `${td.counts?.users?.toLocaleString('en-US') ?? '?'} users · ` +
              `${td.counts?.items?.toLocaleString('en-US') ?? '?'} items · ` +
              `${td.counts?.impressions?.toLocaleString('en-US') ?? '?'} impressions`,
          ),
          h('dt', {}, 'retrieval'),
          h(
            'dd',
            {},
            `two towers, D=${arch.retrieval?.embeddingDim ?? '?'}, history ${arch.retrieval?.historyLength ?? '?'}`,
          ),
          h('dt', {}, 'ranking'),
          h('dd', {}, arch.ranking ? `DLRM (${arch.ranking.interaction}), D=${arch.ranking.embeddingDim}` : 'none'),
          h('dt', {}, 'trained on'),
          h(
            'dd',
            {},
            `${td.adapter ?? '?'}${td.samplesPerSecond ? ` · ${td.samplesPerSecond.toFixed(0)} samples/s` : ''}`,
          ),
        ),
        h('ul', { class: 'files' }, ...files),
      ),
      h(
        'div',
        {},
        h('h3', {}, 'Training loss (retrieval, per epoch)'),
        lineChart([{ name: 'loss', points: (td.epochs ?? []).map((e) => [e.epoch, e.loss] as [number, number]) }], {
          xLabel: 'epoch',
        }),
      ),
      h(
        'div',
        {},
        h('h3', {}, 'Retrieval on held-out users'),
        barChart(
          ['recall@10', 'ndcg@10', 'recall@50'].map((k) => ({
            label: k,
            bars: methods.map((n) => ({ name: n, value: retr[n][k] ?? 0 })),
          })),
        ),
      ),
      rankGroups.length
        ? h('div', {}, h('h3', {}, 'Ranking on the test split'), barChart(rankGroups, { max: 1 }))
        : null,
    ),
  );
  el.version.textContent = `${m.name}@${m.version}`;
}

async function listVersions(): Promise<string[]> {
  try {
    const info = await edgeJson<{ versions: { version: string; complete: boolean }[]; promoted: string | null }>(
      `/v1/models/${encodeURIComponent(settings.model)}`,
    );
    return info.versions.filter((v) => v.complete).map((v) => v.version);
  } catch {
    return settings.versions ?? [active.version];
  }
}

async function renderCompare(): Promise<void> {
  const all = await listVersions();
  const select = h(
    'select',
    { 'aria-label': 'serving version' },
    ...all.map((v) => {
      const o = h('option', { value: v }, `${settings.model}@${v}`);
      if (v === active.version) o.selected = true;
      return o;
    }),
  );
  select.addEventListener('change', () => void switchVersion(select.value));
  const others = all.filter((v) => v !== active.version);
  if (others.length === 0) {
    mount(
      el.compare,
      h('label', { class: 'row' }, 'Serving ', select),
      h(
        'p',
        { class: 'hint' },
        'Only one version is published. Train another with ',
        h('code', {}, 'npm start -- --retrain'),
        ' and compare them here.',
      ),
    );
    return;
  }
  if (!compareWith || !others.includes(compareWith)) compareWith = others[others.length - 1];
  const other = h(
    'select',
    { 'aria-label': 'compare with' },
    ...others.map((v) => {
      const o = h('option', { value: v }, `${settings.model}@${v}`);
      if (v === compareWith) o.selected = true;
      return o;
    }),
  );
  other.addEventListener('change', () => {
    compareWith = other.value;
    void renderCompare();
  });
  mount(
    el.compare,
    h('label', { class: 'row' }, 'Serving ', select, ' vs ', other),
    h('p', { class: 'hint' }, 'Loading the other version…'),
  );
  try {
    const b = await openVersion(compareWith);
    const ra = last!;
    const rb = await b.engine.recommend({
      userId,
      context: contextValues(b.manifest),
      k: SHOW,
      candidates: CANDIDATES,
    });
    const A = ra.items.slice(0, SHOW).map((x) => x.itemId);
    const B = rb.items.map((x) => x.itemId);
    const overlap = (k: number) =>
      A.slice(0, k).filter((x) => B.slice(0, k).includes(x)).length / Math.max(1, Math.min(k, A.length));
    const col = (title: string, ids: string[], other: string[]) =>
      h(
        'div',
        {},
        h('h3', {}, title),
        h(
          'ol',
          { class: 'mini' },
          ...ids.map((id) =>
            h('li', { class: other.includes(id) ? 'same' : '' }, catDot(active.catalogue.row.get(id)), id),
          ),
        ),
      );
    mount(
      el.compare,
      h('label', { class: 'row' }, 'Serving ', select, ' vs ', other),
      h(
        'div',
        { class: 'overlap' },
        ...[1, 5, 10].map((k) => h('div', {}, h('b', {}, fmt.pct(overlap(k))), h('small', {}, `overlap@${k}`))),
      ),
      h('div', { class: 'side' }, col(`@${active.version}`, A, B), col(`@${b.version}`, B, A)),
    );
  } catch (err) {
    mount(
      el.compare,
      h('label', { class: 'row' }, 'Serving ', select),
      h('p', { class: 'error' }, `Version ${compareWith} could not load: ${(err as Error).message}`),
    );
  }
}

async function switchVersion(v: string): Promise<void> {
  try {
    const prev = active.version;
    active = await openVersion(v);
    compareWith = prev;
    renderModel();
    await refresh();
  } catch (err) {
    notice('error', `Version ${v} could not load: ${(err as Error).message}`);
  }
}

function renderUser(): void {
  const users = active.manifest.vocabularies['user:id'] ?? [];
  const list = h('datalist', { id: 'users' }, ...users.slice(0, 500).map((u) => h('option', { value: u })));
  const input = h('input', {
    type: 'search',
    list: 'users',
    value: userId,
    placeholder: 'user id, e.g. u001',
    'aria-label': 'user id',
    'data-testid': 'user-search',
  });
  const pick = () => {
    const v = input.value.trim();
    if (!v) return;
    userId = v;
    const known = users.includes(v);
    mount(
      status,
      known
        ? `known user · ${users.length.toLocaleString('en-US')} in the model`
        : 'new user: cold start from context and clicks',
    );
    void refresh();
  };
  input.addEventListener('change', pick);
  input.addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key === 'Enter') pick();
  });
  const status = h('p', { class: 'hint' }, `known user · ${users.length.toLocaleString('en-US')} in the model`);
  const hours = active.manifest.vocabularies['context:hour'];
  const devices = active.manifest.vocabularies['context:device'] ?? [];
  if (!context.device && devices.length) context.device = devices[0];
  const hourOut = h('output', {}, `${String(context.hour).padStart(2, '0')}:00`);
  const hour = h('input', {
    type: 'range',
    min: 0,
    max: 23,
    step: 1,
    value: context.hour,
    'aria-label': 'hour of day',
  });
  hour.addEventListener('input', () => {
    context.hour = Number(hour.value);
    hourOut.textContent = `${String(context.hour).padStart(2, '0')}:00`;
  });
  hour.addEventListener('change', () => void refresh());
  const seg = h(
    'div',
    { class: 'seg' },
    ...devices.map((d) => {
      const b = h('button', { type: 'button', class: d === context.device ? 'on' : '' }, d);
      b.addEventListener('click', () => {
        context.device = d;
        seg.querySelectorAll('button').forEach((x) => x.classList.toggle('on', x.textContent === d));
        void refresh();
      });
      return b;
    }),
  );
  const random = h('button', { type: 'button', class: 'ghost', title: 'a random user' }, '⟳');
  random.addEventListener('click', () => {
    input.value = users[Math.floor(Math.random() * users.length)] ?? input.value;
    pick();
  });
  mount(
    el.user,
    h('header', {}, h('h2', {}, 'User')),
    h('div', { class: 'search' }, input, random, list),
    status,
    hours ? h('div', { class: 'ctx' }, h('label', {}, 'Hour ', hourOut), hour) : null,
    devices.length ? h('div', { class: 'ctx' }, h('label', {}, 'Device'), seg) : null,
  );
}

// ---------------------------------------------------------------------------------------------

async function start(): Promise<void> {
  mount(
    app,
    h(
      'div',
      { class: 'fatal loading' },
      h('div', { class: 'logo big spin' }, '◆'),
      h('h1', {}, 'Starting Vireo'),
      h('p', { class: 'loading-text' }, 'Loading the model…'),
    ),
  );
  try {
    const res = await fetch('/vireo.json', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    settings = (await res.json()) as Settings;
  } catch {
    fatal(
      'No settings',
      'This page is served by `npm start` (vireo start), which tells it where the edge is: /vireo.json did not answer.',
    );
    return;
  }
  try {
    active = await openVersion(null);
  } catch (err) {
    const msg = (err as Error).message;
    fatal(
      'The model could not load',
      /HTTP 50[024]|fetch/i.test(msg) ? `The edge is down or unreachable (${msg}).` : msg,
    );
    return;
  }
  layout();
  const e = active.engine;
  const a = e.adapter;
  el.backend.textContent =
    e.backend === 'webgpu' ? `WebGPU · ${a.description || a.vendor || a.architecture || 'adapter'}` : 'CPU fallback';
  el.backend.className = `chip ${e.backend === 'webgpu' ? 'ok' : 'warn'}`;
  el.backend.setAttribute('data-backend', e.backend);
  if (e.backend === 'cpu')
    notice(
      'warn',
      a.reason
        ? `The engine runs on the CPU backend (same results): ${a.reason}.`
        : typeof navigator !== 'undefined' && 'gpu' in navigator
          ? 'WebGPU could not start here: the engine runs on the CPU backend (slower, same results).'
          : 'This browser has no WebGPU: the engine runs on the CPU backend (slower, same results).',
    );
  if (e.lastError) notice('error', e.lastError.message);
  userId = active.manifest.vocabularies['user:id']?.[0] ?? 'u001';
  renderUser();
  renderModel();
  await refresh();
}

void start();
