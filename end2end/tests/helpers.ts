// What the multi-user tests share: a browser context signed up through the API, and
// server-function calls that must succeed (JSON ones, and the form ones listed in
// FORM_ENDPOINTS in app/src/api/mod.rs, which take what an HTML form posts).
import { expect, Browser, Page, BrowserContext } from '@playwright/test';

/** A new browser context signed up as `name` (through `invite`, if given) and its page. */
export async function signedIn(browser: Browser, name: string, email: string, invite?: string): Promise<[BrowserContext, Page]> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const form: Record<string, string> = { email, password: 'password123', display_name: name };
  if (invite) form.invite = invite;
  const res = await context.request.post('/api/sign_up', { form });
  expect(res.ok()).toBeTruthy();
  return [context, page];
}

/** Calls the server function `/api/{fn}` as `context`; fails the test on an error.
 * Like any well-behaved client, it honours the per-user call limit: a 429 is retried
 * after its `Retry-After` (at most three times, waiting at most 5 s each), so a test
 * writing back to back (seam) runs at the rate the server allows instead of failing on
 * a faster machine. */
export async function call(context: BrowserContext, fn: string, data: object): Promise<any> {
  let res = await context.request.post(`/api/${fn}`, { data });
  for (let retry = 0; res.status() === 429 && retry < 3; retry++) {
    const wait = Number(res.headers()['retry-after'] ?? '1');
    await new Promise((resolve) => setTimeout(resolve, Math.min(Math.max(wait, 1), 5) * 1000));
    res = await context.request.post(`/api/${fn}`, { data });
  }
  expect(res.ok(), `${fn}: ${await res.text()}`).toBeTruthy();
  return res.json();
}

/** Posts `form` to the form server function `/api/{fn}` as `context`, as an HTML form
 * would (URL-encoded fields); fails the test on an error. */
export async function submit(context: BrowserContext, fn: string, form: Record<string, string | number>): Promise<any> {
  const res = await context.request.post(`/api/${fn}`, { form });
  expect(res.ok(), `${fn}: ${await res.text()}`).toBeTruthy();
  return res.json();
}
