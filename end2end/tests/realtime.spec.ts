// Two people on the same records, live: each sees the other, an edit and a deal move
// reach the other without a reload, an edit made while one is offline arrives when they
// are back, and someone who leaves disappears from presence.
import { test, expect } from '@playwright/test';
import { call, signedIn, submit } from './helpers';

test('two people see each other and each other\'s changes live', async ({ browser }) => {
  const stamp = Date.now();
  const [aCtx, a] = await signedIn(browser, 'Ada Live', `ada${stamp}@example.com`);
  const ws = await call(aCtx, 'create_workspace', { name: `Live ${stamp}`, slug: null });
  const slug = ws.slug;
  const invite = await submit(aCtx, 'create_invite', { slug, role: 'member', expires_in_days: 1, max_uses: 1 });
  const [bCtx, b] = await signedIn(browser, 'Bea Live', `bea${stamp}@example.com`, invite.token);
  const customer = await call(aCtx, 'create_record', { slug, kind: 'customer', fields: { name: 'Globex' } });
  await call(aCtx, 'create_record', { slug, kind: 'deal', fields: { code: 'RT-1', stage: 'Prospecting', customer_id: customer.id } });

  const customerUrl = `/w/${slug}/customers/${customer.id}`;
  await a.goto(customerUrl);
  await b.goto(customerUrl);
  for (const page of [a, b]) {
    await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  }

  // Each sees the other on the record.
  await expect(a.getByRole('group', { name: 'Also here' }).getByRole('img', { name: /^Bea Live/ })).toBeVisible();
  await expect(b.getByRole('group', { name: 'Also here' }).getByRole('img', { name: /^Ada Live/ })).toBeVisible();

  // Ada edits a field; Bea sees it without reloading, with who changed it.
  await a.getByLabel('Office location').fill('Springfield');
  await a.getByRole('button', { name: 'Save now' }).click();
  await expect(b.getByLabel('Office location')).toHaveValue('Springfield');
  await expect(b.getByText('Changed by Ada Live')).toBeVisible();

  // Bea goes offline; Ada edits; Bea comes back and sees the edit.
  await bCtx.setOffline(true);
  await expect(b.getByRole('status', { name: 'Connection' })).toContainText('Offline');
  await a.getByLabel('Office location').fill('Shelbyville');
  await a.getByRole('button', { name: 'Save now' }).click();
  await expect(a.getByText('Version 3')).toBeVisible();
  await bCtx.setOffline(false);
  await expect(b.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  await expect(b.getByLabel('Office location')).toHaveValue('Shelbyville');

  // Ada moves a deal on the board; Bea's board follows.
  const board = `/w/${slug}/deals`;
  await a.goto(board);
  await b.goto(board);
  await expect(b.getByRole('region', { name: /^Prospecting/ }).getByRole('link', { name: 'RT-1' })).toBeVisible();
  await expect(a.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  await expect(b.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  await a.getByLabel('Stage of deal RT-1').selectOption('Won');
  await expect(b.getByRole('region', { name: /^Won/ }).getByRole('link', { name: 'RT-1' })).toBeVisible();
  await expect(b.getByRole('region', { name: /^Prospecting/ }).getByRole('link', { name: 'RT-1' })).toHaveCount(0);

  // Ada leaves; Bea's presence shows her gone (after the reconnect grace period).
  const online = b.getByRole('group', { name: 'Online in this workspace' });
  await expect(online.getByRole('img', { name: /^Ada Live/ })).toBeVisible();
  await aCtx.close();
  await expect(online.getByRole('img', { name: /^Ada Live/ })).toHaveCount(0);
  await bCtx.close();
});
