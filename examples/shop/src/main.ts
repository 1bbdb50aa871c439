// A product page: the visitor's token from the shop's backend, the engine in the page or in a Web
// Worker (?engine=worker), "You may also like" from engine.recommend, a view of the product and
// a click on a recommendation sent with engine.observe.
import { createEngine, createEngineWorker, type RecommendResult } from '@vireo/runtime-web';

interface Session {
  token: string;
  edge: string;
  model: string;
  visitor: string;
}

interface Shop {
  recommend(req: { userId: string; k: number }): Promise<RecommendResult>;
  observe(e: { userId: string; itemId: string; type: 'view' | 'click' }): Promise<string>;
  readonly backend: string;
}

const params = new URLSearchParams(location.search);
const status = document.querySelector<HTMLParagraphElement>('#status')!;
const list = document.querySelector<HTMLUListElement>('#recs')!;

async function session(): Promise<Session> {
  // Online: a fresh token for this visitor. Offline: the last one (the engine serves from IndexedDB).
  try {
    const res = await fetch('/api/session', { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const s = (await res.json()) as Session;
    localStorage.setItem('vireo-shop-session', JSON.stringify(s));
    return s;
  } catch (err) {
    const last = localStorage.getItem('vireo-shop-session');
    if (!last) throw err;
    return JSON.parse(last) as Session;
  }
}

async function start(): Promise<void> {
  if ('serviceWorker' in navigator) await navigator.serviceWorker.register('/sw.js').catch(() => undefined);
  const s = await session();
  // ?backend=webgpu|cpu forces a backend (the tests); by default the engine chooses ('auto').
  const backend = params.get('backend');
  const options = {
    model: s.model,
    edge: s.edge,
    token: s.token,
    ...(backend === 'webgpu' || backend === 'cpu' ? { backend } : {}),
  };
  const engine: Shop =
    params.get('engine') === 'worker' ? await createEngineWorker(options) : await createEngine(options);
  const product = params.get('item');
  if (product) {
    document.querySelector('#product')!.textContent = `Product ${product}`;
    await engine.observe({ userId: s.visitor, itemId: product, type: 'view' });
  }
  const { items } = await engine.recommend({ userId: s.visitor, k: 4 });
  list.replaceChildren(
    ...items.map((it) => {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = `?item=${encodeURIComponent(it.itemId)}${params.get('engine') ? `&engine=${params.get('engine')}` : ''}`;
      a.textContent = it.itemId;
      a.dataset.item = it.itemId;
      a.addEventListener('click', async (ev) => {
        ev.preventDefault();
        await engine.observe({ userId: s.visitor, itemId: it.itemId, type: 'click' });
        location.href = a.href;
      });
      li.append(a);
      return li;
    }),
  );
  status.textContent = `${items.length} recommendations on ${engine.backend}`;
  document.body.dataset.backend = engine.backend;
  document.body.dataset.ready = 'true';
}

start().catch((err: unknown) => {
  status.textContent = `Recommendations are unavailable: ${err instanceof Error ? err.message : String(err)}`;
  document.body.dataset.error = String(err);
});
