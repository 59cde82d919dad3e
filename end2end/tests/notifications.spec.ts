// Knowing what concerns you: a deal assigned to Bea reaches her bell and a toast without
// a reload, and her reading it follows to her second tab; a mention made while she was
// logged out waits for her; a customer's activity feed shows who changed what from what,
// live, filters by user and exports the filtered rows as CSV.
import { test, expect, Browser, BrowserContext, Page } from '@playwright/test';
import * as fs from 'fs';
import { call, signedIn, submit } from './helpers';

/** Ada (owner) and Bea (member) in a new workspace; returns both contexts and the slug. */
async function adaAndBea(browser: Browser): Promise<{ aCtx: BrowserContext; bCtx: BrowserContext; slug: string; stamp: string }> {
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const [aCtx] = await signedIn(browser, 'Ada Notes', `ada-n${stamp}@example.com`);
  const ws = await call(aCtx, 'create_workspace', { name: `Notes ${stamp}`, slug: null });
  const invite = await submit(aCtx, 'create_invite', { slug: ws.slug, role: 'member', expires_in_days: 1, max_uses: 1 });
  const [bCtx] = await signedIn(browser, 'Bea Notes', `bea-n${stamp}@example.com`, invite.token);
  return { aCtx, bCtx, slug: ws.slug, stamp };
}

/** The bell of `page`, by its accessible name, which carries the unread count. */
function bell(page: Page, unread: number) {
  return page.getByRole('button', { name: `Notifications, ${unread} unread` });
}

/** Opens `path` and waits until the page is live. */
async function open(page: Page, path: string) {
  await page.goto(path);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
}

test('an assignment reaches the bell and a toast live; reading it follows to the second tab', async ({ browser }) => {
  const { aCtx, bCtx, slug } = await adaAndBea(browser);
  const deal = await call(aCtx, 'create_record', { slug, kind: 'deal', fields: { stage: 'Prospecting' } });
  const a = await aCtx.newPage();
  const [b1, b2] = [await bCtx.newPage(), await bCtx.newPage()];
  for (const b of [b1, b2]) {
    await open(b, `/w/${slug}/customers`);
    await expect(bell(b, 0)).toBeVisible();
  }
  await open(a, `/w/${slug}/deals/${deal.id}`);
  await a.getByLabel('Owner', { exact: true }).selectOption({ label: 'Bea Notes' });
  await a.getByLabel('Owner', { exact: true }).blur();

  // Bea, without reloading: the count, the title and a toast.
  await expect(bell(b1, 1)).toBeVisible();
  await expect(b1).toHaveTitle('(1) Tandem');
  const toast = b1.getByRole('region', { name: 'New notifications' }).getByRole('status');
  await expect(toast).toContainText(`Deal ${deal.fields.code} is assigned to you`);
  await expect(bell(b2, 1)).toBeVisible();

  // She reads it in the first tab; the second follows.
  await bell(b1, 1).click();
  const panel = b1.getByRole('dialog', { name: 'Notifications' });
  const item = panel.getByRole('listitem', { name: `Deal ${deal.fields.code} is assigned to you` });
  await expect(item).toContainText('Ada Notes');
  await item.getByRole('button', { name: 'Mark read' }).click();
  await expect(bell(b1, 0)).toBeVisible();
  await expect(bell(b2, 0)).toBeVisible();
  await expect(b2).toHaveTitle('Tandem');
  await b1.keyboard.press('Escape');
  await expect(panel).toBeHidden();
  await expect(bell(b1, 0)).toBeFocused();
});

test('a mention made while logged out is waiting after logging in', async ({ browser }) => {
  const { aCtx, bCtx, slug, stamp } = await adaAndBea(browser);
  await call(bCtx, 'log_out', {});
  const customer = await call(aCtx, 'create_record', { slug, kind: 'customer', fields: { name: `Globex ${stamp}` } });
  const a = await aCtx.newPage();
  await open(a, `/w/${slug}/customers/${customer.id}`);
  const notes = a.getByLabel('Notes', { exact: true });
  await notes.click();
  await notes.pressSequentially('Please call @Be');
  const options = a.getByRole('listbox', { name: 'Members to mention' });
  await expect(options.getByRole('option', { name: 'Bea Notes' })).toBeVisible();
  await notes.press('Enter');
  await expect(notes).toHaveValue('Please call @Bea Notes ');
  await notes.pressSequentially('today.');
  await notes.blur();
  await expect(a.getByText('Version 2')).toBeVisible();

  const b = await bCtx.newPage();
  await b.goto('/login');
  await b.getByLabel('E-mail').fill(`bea-n${stamp}@example.com`);
  await b.getByLabel('Password').fill('password123');
  await b.getByRole('button', { name: 'Log in' }).click();
  await expect(b).toHaveURL(/\/workspaces$/);
  await open(b, `/w/${slug}/customers`);
  await bell(b, 1).click();
  const item = b.getByRole('dialog', { name: 'Notifications' })
    .getByRole('listitem', { name: `You were mentioned in the notes of customer Globex ${stamp}` });
  await expect(item).toContainText('Please call @Bea Notes today.');
  await item.getByRole('link').click();
  await expect(b).toHaveURL(new RegExp(`/customers/${customer.id}$`));
  await expect(bell(b, 0)).toBeVisible();
});

test("a customer's feed shows changes live with before and after, filters by user and exports CSV", async ({ browser }) => {
  const { aCtx, bCtx, slug, stamp } = await adaAndBea(browser);
  const customer = await call(aCtx, 'create_record', { slug, kind: 'customer', fields: { name: `Initrode ${stamp}`, sector: 'retail' } });
  const [a, b] = [await aCtx.newPage(), await bCtx.newPage()];
  for (const p of [a, b]) await open(p, `/w/${slug}/customers/${customer.id}`);
  const feed = b.getByRole('feed', { name: 'Activity entries' });
  await expect(feed.getByRole('article')).toHaveCount(1);

  const sector = a.getByLabel('Sector', { exact: true });
  await sector.fill('energy');
  await sector.blur();
  const change = feed.getByRole('article', { name: `Ada Notes updated customer Initrode ${stamp}` });
  await expect(change).toContainText('Sector: retail → energy');

  const office = b.getByLabel('Office location', { exact: true });
  await office.fill('Oslo');
  await office.blur();
  await expect(feed.getByRole('article', { name: `Bea Notes updated customer Initrode ${stamp}` }))
    .toContainText('Office location: empty → Oslo');
  await expect(feed.getByRole('article')).toHaveCount(3);

  // Only Ada's: her creation and her change.
  await b.getByRole('region', { name: 'Activity feed' }).getByLabel('User', { exact: true }).selectOption({ label: 'Ada Notes' });
  await expect(feed.getByRole('article')).toHaveCount(2);
  await expect(feed).not.toContainText('Oslo');

  const [download] = await Promise.all([
    b.waitForEvent('download'),
    b.getByRole('link', { name: 'Export CSV' }).click(),
  ]);
  const csv = fs.readFileSync(await download.path(), 'utf8').trim().split('\n');
  expect(csv[0]).toBe('time (UTC),who,what,kind,record,summary,field,before,after');
  expect(csv).toHaveLength(3);
  expect(csv[1]).toContain(',Ada Notes,updated,customer,');
  expect(csv[1]).toContain(',Sector,retail,energy');
  expect(csv[2]).toContain(',Ada Notes,created,customer,');
});
