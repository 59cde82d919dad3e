// Registers Tandem's service worker (sw.js), then keeps what this page has already
// loaded (its HTML, script, WASM chunks and styles) in the worker's cache, so the page
// can be loaded again offline even when it was fetched before the worker took control.
if ('serviceWorker' in navigator) {
  navigator.serviceWorker
    .register('/sw.js')
    .then(() => navigator.serviceWorker.ready)
    .then(() => {
      const keep = (u) => u.origin === location.origin && !u.pathname.startsWith('/api/') && u.pathname !== '/ws';
      const urls = [location.href, ...performance.getEntriesByType('resource').map((e) => e.name)]
        .map((u) => new URL(u, location.href))
        .filter(keep)
        .map((u) => u.href);
      return caches.open('tandem-pages-v1').then((cache) =>
        Promise.all(urls.map((u) => cache.match(u).then((hit) => hit || cache.add(u).catch(() => {})))),
      );
    })
    .catch(() => {});
}
