// Where a proxy refuses WebSockets: the page falls back to server-sent events (with a
// POST per frame), says so in the connection indicator, and a colleague's edit still
// arrives live, with presence, over it.
import { test, expect } from '@playwright/test';
import { call, signedIn, submit } from './helpers';

test('with WebSockets blocked the page goes live over server-sent events', async ({ browser }) => {
  const stamp = Date.now();
  const [aCtx, a] = await signedIn(browser, 'Ada Proxy', `adap${stamp}@example.com`);
  const ws = await call(aCtx, 'create_workspace', { name: `Proxy ${stamp}`, slug: null });
  const slug = ws.slug;
  const invite = await submit(aCtx, 'create_invite', { slug, role: 'member', expires_in_days: 1, max_uses: 1 });
  const [bCtx, b] = await signedIn(browser, 'Bea Direct', `beap${stamp}@example.com`, invite.token);
  const customer = await call(aCtx, 'create_record', { slug, kind: 'customer', fields: { name: 'Initech' } });

  // Ada's browser is behind a proxy that refuses every WebSocket to /ws: each one is
  // closed before the server could say anything.
  let refused = 0;
  await aCtx.routeWebSocket(/\/ws$/, (socket) => {
    refused += 1;
    socket.close({ code: 1006, reason: 'refused by the proxy' });
  });
  const customerUrl = `/w/${slug}/customers/${customer.id}`;
  await a.goto(customerUrl);
  await b.goto(customerUrl);
  await expect(a.getByRole('status', { name: 'Connection' })).toHaveText(/^Live \(server-sent events/);
  await expect(b.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  expect(refused).toBeGreaterThanOrEqual(2);

  // Presence goes both ways (Ada's frames reach the server by POST).
  await expect(a.getByRole('group', { name: 'Also here' }).getByRole('img', { name: /^Bea Direct/ })).toBeVisible();
  await expect(b.getByRole('group', { name: 'Also here' }).getByRole('img', { name: /^Ada Proxy/ })).toBeVisible();

  // Bea edits; Ada sees it without reloading.
  await b.getByLabel('Office location').fill('Austin');
  await b.getByRole('button', { name: 'Save now' }).click();
  await expect(a.getByLabel('Office location')).toHaveValue('Austin');
  await expect(a.getByText('Changed by Bea Direct')).toBeVisible();

  // And Ada's own edit, made over the fallback page, reaches Bea.
  await a.getByLabel('Office location').fill('Dallas');
  await a.getByRole('button', { name: 'Save now' }).click();
  await expect(b.getByLabel('Office location')).toHaveValue('Dallas');
  await aCtx.close();
  await bCtx.close();
});
