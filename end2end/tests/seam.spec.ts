// The page's data and its subscription are one snapshot: a list rendered on the server
// while another person writes, and hydrated (so subscribed) only after more writes,
// still shows every write, and hydrates without error (the data sent with the page is
// the data its HTML was rendered from). The list's loader returns the room's position
// with the rows, and the socket subscribes from there.
import { test, expect } from '@playwright/test';
import { call, signedIn, submit } from './helpers';

test('a page loaded while another context writes continuously shows every write', async ({ browser }) => {
  const stamp = Date.now();
  const [aCtx] = await signedIn(browser, 'Wren Writer', `wren${stamp}@example.com`);
  const ws = await call(aCtx, 'create_workspace', { name: `Seam ${stamp}`, slug: null });
  const slug = ws.slug;
  const invite = await submit(aCtx, 'create_invite', { slug, role: 'viewer', expires_in_days: 1, max_uses: 1 });
  const [bCtx, b] = await signedIn(browser, 'Rita Reader', `rita${stamp}@example.com`, invite.token);

  // Wren writes without pause.
  let written = 0;
  let writing = true;
  const writer = (async () => {
    while (writing) {
      await call(aCtx, 'create_record', { slug, kind: 'customer', fields: { name: `Seam ${written + 1}` } });
      written += 1;
    }
  })();
  await expect.poll(() => written).toBeGreaterThan(2);

  // Rita's page is rendered on the server now, but its WASM (and so its socket) waits
  // until Wren has written more.
  // A hydration error would leave the page dead with its server-rendered rows.
  const broken: string[] = [];
  b.on('console', (m) => { if (m.type() === 'error' && /hydrat|panicked/i.test(m.text())) broken.push(m.text()); });
  let release = () => {};
  const gate = new Promise<void>((resolve) => { release = resolve; });
  await b.route('**/pkg/*.wasm', async (route) => { await gate; await route.continue(); });
  await b.goto(`/w/${slug}/customers`, { waitUntil: 'domcontentloaded' });
  const rendered = written;
  await expect.poll(() => written).toBeGreaterThan(rendered + 3);
  writing = false;
  await writer;
  release();

  await expect(b.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  await expect(b.getByRole('status').filter({ hasText: /customers?$/ })).toHaveText(`${written} customers`);
  expect(broken).toEqual([]);
  await aCtx.close();
  await bCtx.close();
});
