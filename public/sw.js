// Tandem's service worker: lets a page that was open be loaded again while offline, so
// edits waiting in the offline queue (localStorage) survive a reload without a network.
// Network first for every same-origin GET except the API and the socket: what is
// fetched is also kept, and served from the cache only when the network fails. Signing
// out empties the cache (it holds the signed-in user's pages).
const CACHE = 'tandem-pages-v1';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === '/api/log_out') {
    event.waitUntil(caches.delete(CACHE));
    return;
  }
  if (request.method !== 'GET' || url.pathname.startsWith('/api/') || url.pathname === '/ws') return;
  event.respondWith(
    fetch(request)
      .then((response) => {
        // Whole answers only: the cache refuses a partial one (206, e.g. the sound's range
        // request), and an error page must not replace a good copy.
        if (response.status === 200 && response.type === 'basic') {
          const copy = response.clone();
          event.waitUntil(caches.open(CACHE).then((cache) => cache.put(request, copy)));
        }
        return response;
      })
      .catch(() => caches.match(request).then((hit) => hit || Response.error())),
  );
});
