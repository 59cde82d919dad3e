// The Content-Security-Policy holds the app to its own scripts and WASM: signing up,
// a workspace's pages (the first bundle and lazily loaded ones), realtime and chat run
// with no violation reported, and the page cannot be framed.
import { test, expect } from '@playwright/test';

test('the app runs under its Content-Security-Policy without a violation', async ({ browser }) => {
  const context = await browser.newContext();
  await context.addInitScript(() => {
    (window as any).violations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as any).violations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  const stamp = Date.now();
  const response = await page.goto('/signup');
  const policy = response?.headers()['content-security-policy'] ?? '';
  expect(policy).toContain("frame-ancestors 'none'");
  expect(policy).toMatch(/'nonce-[^']+'/);

  await page.getByLabel('Your name').fill('Cass Policy');
  await page.getByLabel('E-mail').fill(`cass${stamp}@example.com`);
  await page.getByLabel('Password').fill('password123');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page).toHaveURL(/\/workspaces$/);
  await page.getByLabel('Workspace name').fill(`Policy ${stamp}`);
  await page.getByRole('button', { name: 'Create workspace' }).click();
  await expect(page).toHaveURL(new RegExp(`/w/policy-${stamp}/dashboard$`));
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');

  // A lazily loaded page (its own WASM chunk) and back.
  await page.getByRole('navigation', { name: 'Workspace' }).getByRole('link', { name: 'Chat' }).click();
  await expect(page).toHaveURL(/\/chat$/);
  await page.getByRole('navigation', { name: 'Workspace' }).getByRole('link', { name: 'Customers' }).click();
  await expect(page).toHaveURL(/\/customers/);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');

  expect(await page.evaluate(() => (window as any).violations)).toEqual([]);
  await context.close();
});
