// Offline after the first visit: the shop's own files, network first and the last copy when offline.
// The model bundle is the engine's business (IndexedDB), and the edge's API is never cached here.
const CACHE = 'vireo-shop-v1';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return;
  event.respondWith(
    fetch(event.request)
      .then(async (res) => {
        if (res.ok) await (await caches.open(CACHE)).put(event.request, res.clone());
        return res;
      })
      .catch(async () => (await caches.match(event.request, { ignoreSearch: true })) ?? Response.error()),
  );
});
