// Editing one customer together: edits to different fields both land without a dialog,
// a clash on one field opens the conflict dialog for the second editor, a field someone
// is in shows as held with take-over, edits made offline survive a reload and arrive
// when back online, and undo puts a value back for everyone.
import { test, expect, Browser, BrowserContext, Page } from '@playwright/test';
import { call, signedIn, submit } from './helpers';

/** Ada (owner) and Bea (member) on one new customer's page, both live. */
async function twoOnOneCustomer(browser: Browser): Promise<[BrowserContext, Page, BrowserContext, Page]> {
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const [aCtx, a] = await signedIn(browser, 'Ada Co', `ada-co${stamp}@example.com`);
  const ws = await call(aCtx, 'create_workspace', { name: `Co ${stamp}`, slug: null });
  const invite = await submit(aCtx, 'create_invite', { slug: ws.slug, role: 'member', expires_in_days: 1, max_uses: 1 });
  const [bCtx, b] = await signedIn(browser, 'Bea Co', `bea-co${stamp}@example.com`, invite.token);
  const customer = await call(aCtx, 'create_record', { slug: ws.slug, kind: 'customer', fields: { name: 'Initech', sector: 'retail' } });
  for (const page of [a, b]) {
    await page.goto(`/w/${ws.slug}/customers/${customer.id}`);
    await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  }
  return [aCtx, a, bCtx, b];
}

/** Types `value` into the field labelled `label` and leaves it (which saves it). */
async function edit(page: Page, label: string, value: string) {
  const field = page.getByLabel(label, { exact: true });
  await field.fill(value);
  await field.blur();
}

test('different fields merge without asking; the same field asks the second editor', async ({ browser }) => {
  const [aCtx, a, bCtx, b] = await twoOnOneCustomer(browser);

  // Different fields at once: both kept, no dialog.
  await edit(a, 'Sector', 'energy');
  await edit(b, 'Office location', 'Oslo');
  for (const page of [a, b]) {
    await expect(page.getByLabel('Sector', { exact: true })).toHaveValue('energy');
    await expect(page.getByLabel('Office location', { exact: true })).toHaveValue('Oslo');
    await expect(page.getByText('Version 3')).toBeVisible();
    await expect(page.getByRole('dialog')).toHaveCount(0);
  }

  // The same fields from the same values: Bea's edits wait offline while Ada's land.
  await bCtx.setOffline(true);
  await expect(b.getByRole('status', { name: 'Connection' })).toContainText('Offline');
  await edit(b, 'Sector', 'media');
  await edit(b, 'Office location', 'Bergen');
  await expect(b.getByRole('status', { name: 'Connection' })).toContainText('2 changes pending');
  await edit(a, 'Sector', 'legal');
  await edit(a, 'Office location', 'Trondheim');
  await expect(a.getByText('Version 5')).toBeVisible();
  await bCtx.setOffline(false);

  // Bea gets the dialog, with base, mine and theirs; she keeps her sector and takes
  // Ada's office.
  const dialog = b.getByRole('dialog', { name: "Your changes clash with a colleague's" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByText('Theirs (Ada Co')).toHaveCount(2);
  await expect(dialog.getByLabel('Keep mine for Sector')).toBeFocused();
  await dialog.getByLabel('Keep mine for Sector').check();
  await dialog.getByLabel('Take theirs for Office location').check();
  await dialog.getByRole('button', { name: 'Apply' }).click();
  await expect(dialog).toBeHidden();
  for (const page of [a, b]) {
    await expect(page.getByLabel('Sector', { exact: true })).toHaveValue('media');
    await expect(page.getByLabel('Office location', { exact: true })).toHaveValue('Trondheim');
    await expect(page.getByText('Version 6')).toBeVisible();
  }
  await aCtx.close();
  await bCtx.close();
});

test('a field someone is in is held for others, and can be taken over', async ({ browser }) => {
  const [aCtx, a, bCtx, b] = await twoOnOneCustomer(browser);
  await a.getByLabel('Notes', { exact: true }).click();
  await a.getByLabel('Notes', { exact: true }).pressSequentially('Call back');
  const notes = b.getByLabel('Notes', { exact: true });
  await expect(b.getByText('Held by Ada Co')).toBeVisible();
  await expect(b.getByRole('img', { name: 'Ada Co is editing this field' })).toBeVisible();
  await expect(notes).not.toBeEditable();

  await b.getByRole('button', { name: 'Take over from Ada Co' }).click();
  await expect(notes).toBeEditable();
  await expect(notes).toBeFocused();
  // Ada is told, keeps her text (saved through the merge), and now sees Bea in the field.
  await expect(a.getByText('Bea Co took over Notes')).toBeVisible();
  await expect(a.getByText('Held by Bea Co')).toBeVisible();
  await expect(notes).toHaveValue('Call back');
  await notes.fill('Call back on Monday');
  await notes.blur();
  await expect(a.getByLabel('Notes', { exact: true })).toHaveValue('Call back on Monday');
  await aCtx.close();
  await bCtx.close();
});

test('edits made offline survive a reload and arrive when back online; undo reverts for both', async ({ browser }) => {
  const [aCtx, a, bCtx, b] = await twoOnOneCustomer(browser);
  // The page is kept by the service worker once it controls the page.
  await b.reload();
  await expect(b.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  await b.waitForFunction(() => navigator.serviceWorker.controller !== null);

  await bCtx.setOffline(true);
  await expect(b.getByRole('status', { name: 'Connection' })).toContainText('Offline');
  await edit(b, 'Tags', 'vip, north');
  await edit(b, 'Office location', 'Tromsø');
  await expect(b.getByRole('status', { name: 'Connection' })).toContainText('2 changes pending');

  // Reloaded while still offline: the edits are still there, pending.
  await b.reload();
  await expect(b.getByRole('status', { name: 'Connection' })).toContainText('2 changes pending');
  await expect(b.getByLabel('Office location', { exact: true })).toHaveValue('Tromsø');
  await expect(b.getByLabel('Tags', { exact: true })).toHaveValue('vip, north');

  await bCtx.setOffline(false);
  await expect(b.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  await expect(a.getByLabel('Office location', { exact: true })).toHaveValue('Tromsø');
  await expect(a.getByLabel('Tags', { exact: true })).toHaveValue('vip, north');

  // Undo (the button, then Ctrl+Z) puts values back, for both.
  await edit(a, 'Sector', 'transport');
  await expect(b.getByLabel('Sector', { exact: true })).toHaveValue('transport');
  await a.getByRole('button', { name: 'Undo' }).click();
  for (const page of [a, b]) {
    await expect(page.getByLabel('Sector', { exact: true })).toHaveValue('retail');
  }
  await a.getByRole('button', { name: 'Redo' }).click();
  await expect(b.getByLabel('Sector', { exact: true })).toHaveValue('transport');
  await a.keyboard.press('Control+z');
  await expect(b.getByLabel('Sector', { exact: true })).toHaveValue('retail');
  await aCtx.close();
  await bCtx.close();
});

test('a deleted customer says who deleted it and when; an admin restores it from its page', async ({ browser }) => {
  const [aCtx, a, bCtx, b] = await twoOnOneCustomer(browser);
  const url = b.url();
  await a.getByRole('button', { name: 'Delete customer' }).click();
  await a.getByRole('button', { name: 'Yes, delete' }).click();
  await expect(a).not.toHaveURL(url);

  // Bea, still on its page, is told who deleted it; as a member she cannot restore it.
  await expect(b.getByRole('alert').filter({ hasText: /^Ada Co deleted this customer at / })).toBeVisible();
  await expect(b.getByRole('button', { name: 'Restore customer' })).toHaveCount(0);

  // Ada opens it again later: it says who deleted it and when, and she brings it back.
  await a.goto(url);
  await expect(a.getByRole('heading', { level: 1, name: 'Deleted customer' })).toBeVisible();
  await expect(a.getByRole('alert').filter({ hasText: /^Ada Co deleted this record at / })).toBeVisible();
  await a.getByRole('button', { name: 'Restore customer' }).click();
  await expect(a.getByRole('heading', { level: 1, name: 'Initech' })).toBeVisible();
  await expect(a.getByText('Version 3')).toBeVisible();

  // Bea sees it come back live, without reloading.
  await expect(b.getByText('Version 3')).toBeVisible();
  await expect(b.getByRole('alert').filter({ hasText: 'deleted' })).toHaveCount(0);
  await aCtx.close();
  await bCtx.close();
});

test('two tabs of one person share the offline queue: each edit is sent once and none is lost', async ({ browser }) => {
  const [aCtx, a, bCtx, b] = await twoOnOneCustomer(browser);
  const b2 = await bCtx.newPage();
  await b2.goto(b.url());
  await expect(b2.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  // Every update that reaches the server from either of Bea's tabs.
  const sent: string[] = [];
  bCtx.on('response', (r) => {
    if (new URL(r.url()).pathname === '/api/update_record') sent.push(r.request().postData() ?? '');
  });

  await bCtx.setOffline(true);
  for (const page of [b, b2]) {
    await expect(page.getByRole('status', { name: 'Connection' })).toContainText('Offline');
  }
  await edit(b, 'Sector', 'media');
  await edit(b2, 'Office location', 'Bergen');
  // One queue for the browser: both tabs count both edits.
  for (const page of [b, b2]) {
    await expect(page.getByRole('status', { name: 'Connection' })).toContainText('2 changes pending');
  }

  await bCtx.setOffline(false);
  await expect(a.getByLabel('Sector', { exact: true })).toHaveValue('media');
  await expect(a.getByLabel('Office location', { exact: true })).toHaveValue('Bergen');
  await expect(a.getByText('Version 3')).toBeVisible();
  for (const page of [b, b2]) {
    await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  }
  // One tab sent the queue, each edit once (the other tab did not send it again).
  expect(sent).toHaveLength(2);
  await aCtx.close();
  await bCtx.close();
});
