// The site's files go out as the copies `cargo leptos build --precompress` wrote beside
// them (brotli at quality 11, gzip), not compressed per response at the faster, weaker
// level a server can afford: the first page's WASM is 385 KB that way instead of 480.
// Reads the built site in target/site, so it runs against the server that folder serves
// (`cargo leptos end-to-end`, or `tandem serve` with LEPTOS_SITE_ROOT=target/site).
import { test, expect } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

const pkg = path.join(__dirname, '..', '..', 'target', 'site', 'pkg');

for (const [accept, encoding, suffix] of [
  ['br, gzip', 'br', '.br'],
  ['gzip', 'gzip', '.gz'],
] as const) {
  test(`the first page's WASM and script go out as their precompressed ${encoding} copies`, async ({ request }) => {
    for (const file of ['tandem.wasm', 'tandem.js']) {
      const copy = fs.readFileSync(path.join(pkg, file + suffix));
      const raw = fs.readFileSync(path.join(pkg, file));
      expect(copy.length).toBeLessThan(raw.length);
      const res = await request.get(`/pkg/${file}`, { headers: { 'Accept-Encoding': accept } });
      expect(res.status()).toBe(200);
      expect(res.headers()['content-encoding']).toBe(encoding);
      expect(res.headers()['vary']).toMatch(/accept-encoding/i);
      // The copy's own length: a response compressed on the fly is streamed without one.
      expect(Number(res.headers()['content-length'])).toBe(copy.length);
      // Playwright may hand the body over decoded or as sent; either way it is that file.
      const body = await res.body();
      expect(body.equals(raw) || body.equals(copy)).toBe(true);
    }
  });
}

test('a file is revalidated, and an unchanged one comes back as 304', async ({ request }) => {
  // Unhashed names: a copy a browser kept by its own heuristics could be old WASM under
  // new HTML after an upgrade.
  const res = await request.get('/pkg/tandem.wasm', { headers: { 'Accept-Encoding': 'br' } });
  expect(res.headers()['cache-control']).toBe('no-cache');
  const since = res.headers()['last-modified'];
  expect(since).toBeTruthy();
  const again = await request.get('/pkg/tandem.wasm', {
    headers: { 'Accept-Encoding': 'br', 'If-Modified-Since': since },
  });
  expect(again.status()).toBe(304);
});

test('a client that takes no compression gets the file itself', async ({ request }) => {
  const raw = fs.readFileSync(path.join(pkg, 'tandem.wasm'));
  const res = await request.get('/pkg/tandem.wasm', { headers: { 'Accept-Encoding': 'identity' } });
  expect(res.status()).toBe(200);
  expect(res.headers()['content-encoding']).toBeUndefined();
  expect((await res.body()).equals(raw)).toBe(true);
});

test('what is no file, a folder included, gets the not-found page', async ({ request }) => {
  for (const url of ['/pkg/no-such-chunk.wasm', '/pkg', '/pkg/']) {
    const res = await request.get(url, { maxRedirects: 0 });
    expect(res.status(), url).toBe(404);
    expect(res.headers()['content-type'], url).toContain('text/html');
  }
});
