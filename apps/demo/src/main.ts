// The Vireo dashboard: the on-device engine at work. Settings come from /vireo.json (served by
// `vireo start`, which also proxies the edge under this origin). The engine (createEngine from
// @vireo/runtime-web) runs in the page; the catalogue's embeddings and categories are read from
// the bundle's items.safetensors for the map and the "because" lines; titles, years and categories
// (MovieLens genres) from the dataset's display catalogue (/vireo-catalogue.json) where there is one.
// The ranked list is ordered by what the bundle's ranker has: expected value with click, conversion
// and revenue heads, pCTR with a click head only, the retrieval score without a ranker.
import { FIRST_INDEX, readSafetensors, type BundleManifest } from '@vireo/core';
import { createEngine, type Engine, type RecommendResult, type RecommendedItem } from '@vireo/runtime-web';
import { barChart, lineChart, scatter, STAGE_COLORS, STAGE_LABELS, waterfall, type MapPoint } from './charts.ts';
import { colorOf, fmt, h, mount, PALETTE } from './dom.ts';
import { lineageManifests, lineageTable, type ModelInfo } from './lineage.ts';
import { dot, pca2, percentile, project, solveUser } from './math.ts';

interface Settings {
  model: string;
  token: string;
  versions?: string[];
  /** 'synthetic' | 'movielens' | …: which data the model was trained on. */
  dataset?: string;
  /** URL of the display catalogue (titles, years, categories), or null. */
  catalogue?: string | null;
}

/** /vireo-catalogue.json: what `vireo start` knows of the items beyond the bundle. */
interface DisplayCatalogue {
  source: string;
  categories: string;
  items: Record<string, { title: string; year?: number; categories?: string[] }>;
}

/** The heads the bundle's ranker has (manifest architecture.ranking.heads). */
interface Heads {
  ranker: boolean;
  ctr: boolean;
  cvr: boolean;
  revenue: boolean;
}

interface Catalogue {
  N: number;
  D: number;
  ids: string[];
  row: Map<string, number>;
  emb: Float32Array;
  /** First category index per row (-1 unknown; it colours the item), every category per row, the names. */
  category: Int32Array;
  cats: number[][];
  categories: string[];
  /** What the categories are called: 'category', 'genres'. */
  categoryNoun: string;
  titles: string[];
  years: (number | null)[];
  pca: ReturnType<typeof pca2>;
  xy: [number, number][];
}

interface VersionState {
  version: string;
  manifest: BundleManifest;
  engine: Engine;
  catalogue: Catalogue;
  heads: Heads;
}

const STAGES = ['features', 'userTower', 'retrieval', 'ranking', 'blend'] as const;
const SHOW = 10;
const CANDIDATES = 100;
/** Where the request's features came from (RecommendResult.featureSource), as the edge chip says it. */
const EDGE_CHIP: Record<RecommendResult['featureSource'], string> = {
  edge: 'edge ● live',
  recent: 'edge ● recent',
  cache: 'edge ● cached',
  none: 'edge ● none',
};

const app = document.getElementById('app')!;
const edge = location.origin;
let settings: Settings;
let display: DisplayCatalogue | null = null;
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
  lineage: h('div', { class: 'card-body lineage-body' }),
  rankedTitle: h('span', {}, 'Ranked'),
  rankedHint: h('p', { class: 'hint' }, ''),
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
              h('p', { class: 'hint' }, 'user tower · catalogue dot product · bar: score within the list'),
              el.retrieval,
            ),
            h(
              'div',
              { class: 'stage ranked-stage' },
              h('h3', {}, h('span', { class: 'dot', style: `background:${STAGE_COLORS.ranking}` }), el.rankedTitle),
              el.rankedHint,
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
      card('Versions', 'side-by-side for this user · lineage', h('div', {}, el.compare, el.lineage)),
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

/** The category feature of a bundle: item:category (one per item) or item:genres (multi-hot). */
const CATEGORY_FEATURES = ['item:category', 'item:genres', 'item:genre', 'item:categories'];

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
  /** Row i of a (N, L) index tensor as vocabulary words. */
  const words = (name: string, i: number): string[] => {
    const tensor = t.get(`features.${name}`);
    const v = vocab[name] ?? [];
    if (!tensor || v.length === 0) return [];
    const L = tensor.shape[1] ?? 1;
    const out: string[] = [];
    for (let l = 0; l < L; l++) {
      const k = Number(tensor.data[i * L + l]) - FIRST_INDEX;
      if (k >= 0 && v[k] !== undefined) out.push(v[k]);
    }
    return out;
  };
  const catFeature = CATEGORY_FEATURES.find((f) => vocab[f] && t.has(`features.${f}`));
  const categories = [...(catFeature ? vocab[catFeature] : [])];
  const catIndex = new Map(categories.map((c, k) => [c, k]));
  const indexOf = (name: string) => {
    let k = catIndex.get(name);
    if (k === undefined) {
      k = categories.length;
      categories.push(name);
      catIndex.set(name, k);
    }
    return k;
  };
  const shown = ids.map((id) => display?.items[id]);
  const cats = ids.map((_, i) =>
    (shown[i]?.categories ?? (catFeature ? words(catFeature, i) : [])).map((c) => indexOf(c)),
  );
  const category = Int32Array.from(cats, (c) => c[0] ?? -1);
  const titles = ids.map((id, i) => {
    if (shown[i]?.title) return shown[i]!.title;
    const w = words('item:title', i);
    return w.length ? w.join(' ') : id;
  });
  const years = ids.map((_, i) => shown[i]?.year ?? null);
  const categoryNoun = display?.categories ?? (catFeature === 'item:category' ? 'category' : 'genres');
  const pca = pca2(emb, N, D);
  const xy = ids.map((_, i) => project(emb, pca, i * D));
  return {
    N,
    D,
    ids,
    row: new Map(ids.map((id, i) => [id, i])),
    emb,
    category,
    cats,
    categories,
    categoryNoun: catFeature || display ? categoryNoun : 'category',
    titles,
    years,
    pca,
    xy,
  };
}

/** The ranker's heads in a manifest. */
function headsOf(m: BundleManifest): Heads {
  const r = (m.architecture as { ranking?: { heads?: string[] } }).ranking;
  const h = r?.heads ?? [];
  return { ranker: r !== undefined, ctr: h.includes('ctr'), cvr: h.includes('cvr'), revenue: h.includes('revenue') };
}

/** What the ranked list is ordered by, for the bundle's heads. */
function rankedBy(h: Heads): 'expected value' | 'pCTR' | 'retrieval score' {
  return h.ranker && h.cvr && h.revenue ? 'expected value' : h.ranker && h.ctr ? 'pCTR' : 'retrieval score';
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
  const heads = headsOf(manifest);
  const [engine, catalogue] = await Promise.all([
    createEngine({
      model,
      edge,
      token: settings.token,
      candidates: CANDIDATES,
      // Without conversion and revenue heads the expected value is 0 for every item: rank by pCTR.
      ...(rankedBy(heads) === 'pCTR' ? { blend: { ctr: 1 } } : {}),
      onProgress: (p) =>
        setLoading(
          `Loading ${settings.model}@${p.version}: ${p.file} ` +
            `${Math.round((100 * p.bundleLoaded) / Math.max(1, p.bundleTotal))}%`,
        ),
      onError: (err) => notice('error', err.message),
    }),
    loadCatalogue(manifest),
  ]);
  const state = { version: manifest.version, manifest, engine, catalogue, heads };
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
    el.edgeChip.textContent = EDGE_CHIP[r.featureSource];
    el.edgeChip.className = `chip ${r.featureSource === 'edge' || r.featureSource === 'recent' ? 'ok' : 'warn'}`;
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

/** An item's display title (the dataset's, else its title words, else its id) and its categories. */
function itemName(id: string): { title: string; cat: string } {
  const c = active.catalogue;
  const row = c.row.get(id);
  if (row === undefined) return { title: id, cat: '' };
  const cat = c.cats[row]
    .slice(0, 3)
    .map((k) => c.categories[k] ?? '')
    .join(' · ');
  return { title: c.titles[row], cat };
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

/** The ranked list's value column for the bundle's heads: money, a probability or a score. */
function rankedValue(it: RecommendedItem, heads: Heads): string {
  const by = rankedBy(heads);
  return by === 'expected value' ? fmt.money(it.score) : by === 'pCTR' ? fmt.pct(it.pCtr) : it.score.toFixed(3);
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
        h('span', { class: 'id', title: `${itemName(it.itemId).title} (${it.itemId})` }, itemName(it.itemId).title),
        h(
          'span',
          { class: 'bar', title: `retrieval score ${it.retrievalScore.toFixed(3)} (bar: within this list's range)` },
          h('span', { style: `width:${w.toFixed(0)}%` }),
        ),
        h('span', { class: 'num', title: 'retrieval score (dot product)' }, it.retrievalScore.toFixed(3)),
      );
    }),
  );
  const ranked = r.items.slice(0, SHOW);
  const heads = active.heads;
  const maxV = Math.max(...ranked.map((x) => x.score), 1e-12);
  el.rankedTitle.textContent = `Ranked · ${rankedBy(heads)}`;
  el.rankedHint.textContent =
    rankedBy(heads) === 'expected value'
      ? 'DLRM heads blended: pCTR × pCVR × revenue · click an item to observe it'
      : rankedBy(heads) === 'pCTR'
        ? 'DLRM click head (this bundle has no conversion or revenue head) · click an item to observe it'
        : 'retrieval score (this bundle has no ranker) · click an item to observe it';
  mount(
    el.ranked,
    ...ranked.map((it: RecommendedItem, i) => {
      const row = c.row.get(it.itemId);
      const name = itemName(it.itemId);
      const why = because(it.itemId, r.history);
      const rel = maxV > 0 ? (100 * it.score) / maxV : 0;
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
          h('span', { class: 'title', 'data-testid': 'rec-title' }, name.title),
          h('span', { class: 'value', title: rankedBy(heads) }, rankedValue(it, heads)),
        ),
        h(
          'div',
          { class: 'rec-sub' },
          name.title !== it.itemId ? h('span', { class: 'id-small' }, `#${it.itemId}`) : null,
          h('span', { class: 'cat', 'data-testid': 'rec-cats' }, name.cat),
        ),
        h(
          'div',
          { class: 'rec-scores' },
          heads.ctr ? score('pCTR', fmt.pct(it.pCtr), 'pctr') : null,
          heads.cvr ? score('pCVR', fmt.pct(it.pCvr), 'pcvr') : null,
          heads.revenue ? score('revenue', fmt.money(it.revenue), 'revenue') : null,
          score('retrieval', it.retrievalScore.toFixed(3), 'retrieval'),
          h(
            'span',
            { class: 'vbar-wrap', title: `${rankedBy(heads)} relative to the top item` },
            h('span', { class: 'vbar' }, h('span', { style: `width:${rel.toFixed(0)}%` })),
            h('small', { class: 'bar-label' }, `${rel.toFixed(0)}% of #1`),
          ),
        ),
        h(
          'div',
          { class: 'why' },
          why.length
            ? [
                'close to ',
                ...why.flatMap((w, j) => [
                  j ? ' and ' : '',
                  h('b', {}, itemName(w).title),
                  itemName(w).cat ? ` (${itemName(w).cat})` : '',
                ]),
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

function score(label: string, value: string, testid: string): HTMLElement {
  return h('span', { class: 'score', 'data-testid': `score-${testid}` }, h('small', {}, label), value);
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
        { 'data-item-id': id, title: `#${id}` },
        catDot(row),
        h('span', { class: 'id' }, n.title),
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
    id,
    label: `${c.titles[i]}${c.cats[i].length ? ` · ${c.cats[i].map((k) => c.categories[k]).join(', ')}` : ''}`,
    color: c.category[i] >= 0 ? colorOf(c.category[i]) : '#bbb',
    role: hist.has(id) ? 'history' : recs.has(id) ? 'rec' : 'item',
  }));
  const trail = trails.get(`${active.version}:${userId}`) ?? [];
  // The legend: the categories that colour the most items (an item's first category colours it).
  const counts = new Map<number, number>();
  for (const k of c.category) if (k >= 0) counts.set(k, (counts.get(k) ?? 0) + 1);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([k]) => k);
  const usedCats = ranked.slice(0, PALETTE.length);
  const more = ranked.length - usedCats.length;
  mount(
    el.map,
    scatter(points, trail.at(-1) ?? null, trail, { onPick: (id) => void click(id) }),
    h(
      'div',
      { class: 'legend', 'data-testid': 'map-legend' },
      h('span', {}, h('span', { class: 'ring' }), 'history'),
      h('span', {}, h('span', { class: 'solid' }), 'recommended'),
      usedCats.length ? h('span', { class: 'legend-noun' }, `${c.categoryNoun}:`) : null,
      ...usedCats.map((k) =>
        h(
          'span',
          { 'data-testid': 'legend-category' },
          h('span', { class: 'dot', style: `background:${colorOf(k)}` }),
          c.categories[k] ?? `#${k}`,
        ),
      ),
      more > 0 ? h('span', { class: 'legend-noun' }, `+${more} more`) : null,
    ),
  );
}

/** Where the model loses to a baseline on its own evaluation: one sentence each. */
function baselineFlags(metrics: unknown): string[] {
  const m = metrics as {
    retrieval?: { metrics?: Record<string, Record<string, number>> };
    ranking?: {
      test?: { model?: Record<string, { auc?: number }>; baselines?: Record<string, Record<string, { auc?: number }>> };
    };
  };
  const out: string[] = [];
  const retr = m.retrieval?.metrics ?? {};
  const model = retr.model?.['ndcg@10'];
  if (model !== undefined)
    for (const [name, b] of Object.entries(retr)) {
      if (name === 'model' || name === 'model.int8' || name === 'oracle') continue;
      if ((b['ndcg@10'] ?? -1) > model)
        out.push(`Retrieval NDCG@10 ${model.toFixed(3)} is below the ${name} baseline's ${b['ndcg@10'].toFixed(3)}.`);
    }
  const rank = m.ranking?.test;
  for (const head of ['ctr', 'ctcvr'] as const) {
    const auc = rank?.model?.[head]?.auc;
    if (auc === undefined) continue;
    for (const [name, b] of Object.entries(rank?.baselines ?? {})) {
      if (name === 'oracle') continue;
      const other = b[head]?.auc;
      if (other !== undefined && other > auc)
        out.push(
          `Ranking ${head.toUpperCase()} AUC ${auc.toFixed(3)} is below the ${name} baseline's ${other.toFixed(3)}.`,
        );
    }
  }
  return out;
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
  // Only the heads the ranker has (MovieLens: no CTCVR), and only the baselines evaluated on them.
  const rankGroups = rank?.model
    ? (['ctr', 'ctcvr'] as const)
        .filter((head) => rank.model?.[head]?.auc !== undefined)
        .map((head) => ({
          label: `${head.toUpperCase()} AUC`,
          bars: [
            { name: 'model', value: rank.model?.[head]?.auc ?? 0 },
            ...Object.entries(rank.baselines ?? {})
              .filter(([, b]) => b[head]?.auc !== undefined)
              .map(([n, b]) => ({ name: n, value: b[head]?.auc ?? 0 })),
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
  const flags = baselineFlags(m.metrics);
  mount(
    el.model,
    flags.length
      ? h(
          'div',
          { class: 'flag', 'data-testid': 'baseline-flag' },
          h('b', {}, '⚠ This model loses to a baseline: '),
          flags.join(' '),
        )
      : null,
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
    // Every page of the listing (the edge answers at most 1,000 versions a page, oldest first).
    const out: string[] = [];
    for (let after: string | null | undefined = '0'; after; ) {
      type Page = { versions: { version: string; complete: boolean }[]; next?: string | null };
      const page: Page = await edgeJson<Page>(
        `/v1/models/${encodeURIComponent(settings.model)}?limit=1000&after=${encodeURIComponent(after)}`,
      );
      for (const v of page.versions) if (v.complete) out.push(v.version);
      after = page.next;
    }
    return out;
  } catch {
    return settings.versions ?? [active.version];
  }
}

/** Each version's parent, what it consumed, the decision and its metrics beside the parent's (./lineage.ts). */
async function renderLineage(): Promise<void> {
  const name = encodeURIComponent(settings.model);
  try {
    const info = await edgeJson<ModelInfo>(`/v1/models/${name}`);
    const list = await lineageManifests(info, (v) =>
      edgeJson<BundleManifest>(`/v1/models/${name}/${encodeURIComponent(v)}/manifest.json`),
    );
    mount(el.lineage, h('h3', {}, 'Lineage'), lineageTable(list, info.promoted));
  } catch (err) {
    mount(el.lineage, h('p', { class: 'hint' }, `The versions' lineage could not load: ${(err as Error).message}`));
  }
}

async function renderCompare(): Promise<void> {
  void renderLineage();
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
            h(
              'li',
              { class: other.includes(id) ? 'same' : '', title: `#${id}` },
              catDot(active.catalogue.row.get(id)),
              itemName(id).title,
            ),
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
      versionMetrics(active, b),
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

/** The two versions' own evaluation side by side: the better of each row in bold. */
function versionMetrics(a: VersionState, b: VersionState): HTMLElement {
  const get = (m: BundleManifest) => {
    const x = m.metrics as {
      retrieval?: { metrics?: Record<string, Record<string, number>> };
      ranking?: { test?: { model?: Record<string, { auc?: number }> } };
    };
    const r = x.retrieval?.metrics?.model;
    return {
      'NDCG@10': r?.['ndcg@10'],
      'Recall@10': r?.['recall@10'],
      'Recall@100': r?.['recall@100'],
      'CTR AUC': x.ranking?.test?.model?.ctr?.auc,
    };
  };
  const A = get(a.manifest);
  const B = get(b.manifest);
  const rows = (Object.keys(A) as (keyof typeof A)[]).filter((k) => A[k] !== undefined || B[k] !== undefined);
  const cell = (v: number | undefined, o: number | undefined) =>
    h('td', {}, v === undefined ? '–' : o !== undefined && v > o ? h('b', {}, v.toFixed(3)) : v.toFixed(3));
  return h(
    'table',
    { class: 'stats', 'data-testid': 'version-metrics' },
    h('thead', {}, h('tr', {}, h('th', {}, 'held-out'), h('th', {}, `@${a.version}`), h('th', {}, `@${b.version}`))),
    h('tbody', {}, ...rows.map((k) => h('tr', {}, h('td', {}, k), cell(A[k], B[k]), cell(B[k], A[k])))),
  );
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
  if (settings.catalogue)
    try {
      const r = await fetch(settings.catalogue, { cache: 'no-store' });
      if (r.ok) display = (await r.json()) as DisplayCatalogue;
    } catch {
      // titles fall back to the bundle's title words
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
  // SwiftShader (or llvmpipe) is a CPU pretending to be a GPU: say so rather than "google".
  // On the CPU path the summary's reason names the adapter that was passed over.
  const probe = `${a.vendor} ${a.architecture} ${a.device} ${a.description} ${a.reason ?? ''}`;
  const onCpu = /swiftshader|llvmpipe|lavapipe|software|fallback adapter/i.test(probe);
  const cpuName = /llvmpipe|lavapipe/i.test(probe) ? 'llvmpipe' : 'SwiftShader';
  el.backend.textContent =
    e.backend === 'webgpu'
      ? onCpu
        ? `WebGPU · CPU (${cpuName})`
        : `WebGPU · ${a.description || a.vendor || a.architecture || 'adapter'}`
      : onCpu
        ? `CPU path · the adapter is a CPU (${cpuName})`
        : 'CPU fallback';
  el.backend.title = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' · ');
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
