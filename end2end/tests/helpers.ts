// What the multi-user tests share: a browser context signed up through the API, and a
// server-function call that must succeed.
import { expect, Browser, Page, BrowserContext } from '@playwright/test';

/** A new browser context signed up as `name` (through `invite`, if given) and its page. */
export async function signedIn(browser: Browser, name: string, email: string, invite?: string): Promise<[BrowserContext, Page]> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const res = await context.request.post('/api/sign_up', {
    data: { email, password: 'password123', display_name: name, invite: invite ?? null },
  });
  expect(res.ok()).toBeTruthy();
  return [context, page];
}

/** Calls the server function `/api/{fn}` as `context`; fails the test on an error. */
export async function call(context: BrowserContext, fn: string, data: object): Promise<any> {
  const res = await context.request.post(`/api/${fn}`, { data });
  expect(res.ok(), `${fn}: ${await res.text()}`).toBeTruthy();
  return res.json();
}
