// The foundation, as a team would use it: sign up, create a workspace, import the real
// CRM export through the page, find and edit a customer, reload and see the edit kept;
// a colleague invited as a viewer sees the customer and cannot change it.
import { test, expect, Page } from '@playwright/test';
import * as path from 'path';

const dataDir = process.env.TANDEM_CRM_DATA ?? path.resolve(__dirname, '../../../shared/data/maven-crm');
const files = ['accounts.csv', 'products.csv', 'sales_teams.csv', 'sales_pipeline.csv'].map((f) => path.join(dataDir, f));

async function signUp(page: Page, name: string, email: string) {
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill('password123');
  await page.getByRole('button', { name: 'Sign up' }).click();
}

/** Finds a customer through the list's search and opens it. With `inApp` (a page that has
 * hydrated), also checks the search ran in the app, not as a page load: a marker set on
 * `window` before it survives. */
async function openCustomer(page: Page, name: string, { inApp = false } = {}) {
  await page.getByRole('navigation', { name: 'Workspace' }).getByRole('link', { name: 'Customers' }).click();
  // The list's own search box, once the list is there: the dashboard this may start from
  // has a "Search activity" box, which a loose match would fill while the page changes.
  await expect(page.getByRole('heading', { level: 1, name: 'Customers', exact: true })).toBeVisible();
  if (inApp) await page.evaluate(() => { (window as any).searchMarker = 'kept'; });
  await page.getByLabel('Search', { exact: true }).fill(name);
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page.getByRole('status').filter({ hasText: /^1 customer$/ })).toBeVisible();
  await expect(page).toHaveURL(/[?&]q=/);
  if (inApp) expect(await page.evaluate(() => (window as any).searchMarker)).toBe('kept');
  await page.getByRole('table', { name: 'Customers' }).getByRole('link', { name }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
}

test('a team imports the CRM data and edits a customer; a viewer can only look', async ({ browser }) => {
  const stamp = Date.now();
  const owner = await (await browser.newContext()).newPage();

  await owner.goto('/signup');
  await signUp(owner, 'Olive Owner', `olive${stamp}@example.com`);
  await expect(owner).toHaveURL(/\/workspaces$/);

  await owner.getByLabel('Workspace name').fill(`Maven ${stamp}`);
  await owner.getByRole('button', { name: 'Create workspace' }).click();
  await expect(owner).toHaveURL(new RegExp(`/w/maven-${stamp}/dashboard$`));

  // Import the four CSV files through the page and read the report.
  await owner.getByRole('link', { name: 'Import' }).click();
  await owner.getByLabel('CSV files').setInputFiles(files);
  await owner.getByRole('button', { name: 'Import', exact: true }).click();
  const report = owner.getByRole('table', { name: 'Import report' });
  await expect(report).toBeVisible({ timeout: 120_000 });
  const row = (file: string) => report.getByRole('row').filter({ has: owner.getByRole('rowheader', { name: file }) });
  await expect(row('sales_pipeline.csv').getByRole('cell')).toHaveText(['8800', '8800', '0', '0', '0', '2683']);
  await expect(row('accounts.csv').getByRole('cell')).toHaveText(['85', '85', '0', '0', '0', '12']);

  // Products have pages from their KindSpec alone: a list, and each product's deals.
  await owner.getByRole('navigation', { name: 'Workspace' }).getByRole('link', { name: 'Products' }).click();
  await expect(owner.getByRole('status').filter({ hasText: /^7 products$/ })).toBeVisible();
  await owner.getByRole('table', { name: 'Products' }).getByRole('link', { name: 'GTX Pro' }).click();
  await expect(owner.getByRole('heading', { level: 1, name: 'GTX Pro' })).toBeVisible();
  await expect(owner.getByLabel('Price (USD)')).toHaveValue('4821');
  await expect(owner.getByRole('table', { name: 'Deals of this product' }).getByRole('row')).not.toHaveCount(0);

  // Find Acme Corporation, edit a field, reload: the edit is kept.
  await openCustomer(owner, 'Acme Corporation', { inApp: true });
  await expect(owner.getByLabel('Sector')).toHaveValue('technolgy');
  await owner.getByLabel('Office location').fill('Nairobi, Kenya');
  await owner.getByRole('button', { name: 'Save now' }).click();
  await expect(owner.getByText('Version 2')).toBeVisible();
  await expect(owner.getByRole('status').filter({ hasText: 'All changes saved' })).toBeVisible();
  await owner.reload();
  await expect(owner.getByLabel('Office location')).toHaveValue('Nairobi, Kenya');
  await expect(owner.getByText('Version 2')).toBeVisible();

  // A reference is picked by typing: the picker looks customers up by title.
  const parent = owner.getByRole('combobox', { name: 'Parent customer' });
  await parent.fill('betas');
  await expect(owner.getByRole('option', { name: 'Betasoloin' })).toBeVisible();
  await parent.press('ArrowDown');
  await parent.press('Enter');
  await expect(parent).toHaveValue('Betasoloin');
  await owner.getByRole('button', { name: 'Save now' }).click();
  await expect(owner.getByText('Version 3')).toBeVisible();
  await owner.reload();
  await expect(parent).toHaveValue('Betasoloin');
  // Another pick shows its own title after leaving the field; text typed but not
  // picked gives way to it.
  await parent.fill('betat');
  await expect(owner.getByRole('option', { name: 'Betatech' })).toBeVisible();
  await parent.press('ArrowDown');
  await parent.press('Enter');
  await parent.press('Tab');
  await expect(parent).toHaveValue('Betatech');
  await parent.fill('zzz');
  await parent.press('Escape');
  await expect(parent).toHaveValue('Betatech');

  // Lists page by cursor: next and back again, the count stays.
  await owner.goto(`/w/maven-${stamp}/deals?view=list`);
  const deals = owner.getByRole('table', { name: 'Deals' });
  await expect(owner.getByRole('status').filter({ hasText: /^8,800 deals$/ })).toBeVisible();
  const firstRow = await deals.getByRole('row').nth(1).textContent();
  await owner.getByRole('link', { name: 'Next page' }).click();
  await expect(deals.getByRole('row').nth(1)).not.toHaveText(firstRow ?? '');
  await owner.getByRole('link', { name: 'Previous page' }).click();
  await expect(deals.getByRole('row').nth(1)).toHaveText(firstRow ?? '');
  await expect(owner.getByRole('link', { name: 'Previous page' })).toHaveCount(0);

  // Invite a viewer.
  await owner.getByRole('link', { name: 'Members' }).click();
  await owner.getByLabel('Role', { exact: true }).selectOption('viewer');
  await owner.getByRole('button', { name: 'Create invite link' }).click();
  // The list of links reloads once the link is made (live, or by the page reloading when
  // the form was posted before hydration): it lists the new one, for viewers.
  const linkRow = owner.getByRole('table', { name: 'Invite links' }).getByRole('row', { name: /Viewer/ });
  await expect(linkRow).toHaveCount(1);
  const link = linkRow.getByRole('textbox');
  await expect(link).toHaveValue(/\/invite\/[A-Za-z0-9]{32}$/);
  const inviteUrl = await link.inputValue();

  // The viewer signs up through the link, in a second browser.
  const viewer = await (await browser.newContext()).newPage();
  await viewer.goto(inviteUrl);
  await expect(viewer.getByRole('heading', { name: `Join Maven ${stamp}` })).toBeVisible();
  await signUp(viewer, 'Vera Viewer', `vera${stamp}@example.com`);
  await expect(viewer).toHaveURL(/\/dashboard$/);

  await openCustomer(viewer, 'Acme Corporation');
  await expect(viewer.getByText('Read only')).toBeVisible();
  const office = viewer.getByLabel('Office location');
  await expect(office).toHaveValue('Nairobi, Kenya');
  await expect(office).not.toBeEditable();
  await expect(viewer.getByLabel('Owner', { exact: true })).toBeDisabled();
  await expect(viewer.getByRole('button', { name: 'Save' })).toHaveCount(0);
  await expect(viewer.getByRole('button', { name: /Delete/ })).toHaveCount(0);

  // And the owner sees the viewer in the member list.
  await owner.reload();
  await expect(owner.getByRole('table', { name: 'Members' }).getByRole('row', { name: /Vera Viewer/ })).toContainText('Viewer');
});

test('signing up and logging in work with scripts off, errors included', async ({ browser }) => {
  const email = `nora-${Date.now()}@example.com`;
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/signup');
  await signUp(page, 'Nora NoScript', email);
  await expect(page).toHaveURL(/\/workspaces$/);
  await context.close();

  const again = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
  await again.goto('/login');
  await again.getByLabel('E-mail').fill(email);
  await again.getByLabel('Password').fill('wrong-password');
  await again.getByRole('button', { name: 'Log in' }).click();
  await expect(again.getByRole('alert')).toHaveText('Wrong e-mail or password');
  await again.getByLabel('E-mail').fill(email);
  await again.getByLabel('Password').fill('password123');
  await again.getByRole('button', { name: 'Log in' }).click();
  await expect(again).toHaveURL(/\/workspaces$/);
});
