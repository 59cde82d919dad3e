// Chat between two people, with a third left out: Ada invites Bea to a private room, Bea
// sees the invitation live and accepts; Ada's message shows as unread in Bea's other tab
// until Bea reads it in one of hers; Bea sees "Ada is typing" and the message; Bea's
// messages written offline survive a reload and reach Ada once each when she is back;
// Cy, not invited, cannot open the room by its URL.
import { test, expect, Page } from '@playwright/test';
import { call, signedIn, submit } from './helpers';

/** Opens `path` and waits until the page is live. */
async function open(page: Page, path: string) {
  await page.goto(path);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
}

test('a private room: invitation, typing, unread across tabs, offline messages, and no way in for others', async ({ browser }) => {
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const [aCtx, a] = await signedIn(browser, 'Ada Chat', `ada-chat${stamp}@example.com`);
  const ws = await call(aCtx, 'create_workspace', { name: `Chat ${stamp}`, slug: null });
  const slug = ws.slug;
  const invite = await submit(aCtx, 'create_invite', { slug, role: 'member', expires_in_days: 1, max_uses: 2 });
  const [bCtx, b1] = await signedIn(browser, 'Bea Chat', `bea-chat${stamp}@example.com`, invite.token);
  const [cCtx, c] = await signedIn(browser, 'Cy Chat', `cy-chat${stamp}@example.com`, invite.token);
  await call(aCtx, 'create_chat_room', { slug, kind: 'channel', name: 'general', max_participants: null });

  // Ada makes the room on the chat page.
  await open(a, `/w/${slug}/chat`);
  await a.getByLabel('Room name').fill('Deal room');
  await a.getByRole('button', { name: 'Create room' }).click();
  await expect(a.getByRole('heading', { name: 'Deal room' })).toBeVisible();
  const room = a.url().split('/chat/')[1];
  expect(Number(room)).toBeGreaterThan(0);

  // Bea has the chat page open in one tab and hears of the invitation there, live.
  const b2 = await bCtx.newPage();
  await open(b2, `/w/${slug}/chat`);
  await a.getByLabel('Member to invite').selectOption({ label: 'Bea Chat' });
  await a.getByRole('button', { name: 'Send invitation' }).click();
  const accept = b2.getByRole('button', { name: 'Accept the invitation to Deal room' });
  await expect(accept).toBeVisible();
  await accept.click();
  await expect(b2.getByRole('heading', { name: 'Deal room' })).toBeVisible();
  // Ada sees the answer in the room's invitations, live.
  await expect(a.getByRole('list', { name: 'Invitations' })).toContainText('Bea Chat: accepted');

  // Bea's second tab moves to the channel; Ada writes: the room shows one unread there.
  await b2.getByRole('link', { name: 'general' }).click();
  await expect(b2.getByRole('heading', { name: 'general' })).toBeVisible();
  const composer = a.getByLabel('Message', { exact: true });
  await composer.fill('Hello **Bea**');
  await composer.press('Enter');
  await expect(a.getByRole('log', { name: 'Messages' }).getByText('Hello Bea')).toBeVisible();
  const dealLink = b2.getByRole('link', { name: /^Deal room/ });
  await expect(dealLink).toContainText('1 unread');

  // Bea reads it in her other tab: the count clears in this one.
  await open(b1, `/w/${slug}/chat/${room}`);
  const bLog = b1.getByRole('log', { name: 'Messages' });
  await expect(bLog.getByText('Hello Bea')).toBeVisible();
  await expect(bLog.locator('strong', { hasText: 'Bea' })).toBeVisible();
  await expect(dealLink).not.toContainText('unread');

  // Ada types: Bea sees it; Ada sends: Bea sees the message.
  await composer.fill('Are you free on Friday?');
  await expect(b1.getByText('Ada Chat is typing…')).toBeVisible();
  await composer.press('Enter');
  await expect(bLog.getByText('Are you free on Friday?')).toBeVisible();
  await expect(b1.getByText('Ada Chat is typing…')).toBeHidden();

  // Bea goes offline, writes twice, reloads (the page comes from the service worker):
  // both wait; back online, Ada gets each once.
  await b1.reload();
  await expect(b1.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  await b1.waitForFunction(() => navigator.serviceWorker.controller !== null);
  await b2.close();
  await bCtx.setOffline(true);
  await expect(b1.getByRole('status', { name: 'Connection' })).toContainText('Offline');
  const bComposer = b1.getByLabel('Message', { exact: true });
  await bComposer.fill('Yes, Friday works');
  await bComposer.press('Enter');
  await bComposer.fill('Shall we say 10:00?');
  await bComposer.press('Enter');
  await expect(b1.getByRole('status', { name: 'Connection' })).toContainText('2 messages waiting');
  await b1.reload();
  await expect(b1.getByRole('status', { name: 'Connection' })).toContainText('2 messages waiting');
  await expect(b1.getByRole('list', { name: 'Messages not yet sent' }).getByRole('listitem')).toHaveCount(2);
  await bCtx.setOffline(false);
  const aLog = a.getByRole('log', { name: 'Messages' });
  await expect(aLog.getByText('Yes, Friday works')).toHaveCount(1);
  await expect(aLog.getByText('Shall we say 10:00?')).toHaveCount(1);
  await expect(b1.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  // In the order written.
  const texts = await aLog.getByRole('listitem').allTextContents();
  const first = texts.findIndex((t) => t.includes('Yes, Friday works'));
  const second = texts.findIndex((t) => t.includes('Shall we say 10:00?'));
  expect(first).toBeGreaterThan(-1);
  expect(second).toBeGreaterThan(first);
  // Stored once each, also after the reconnect.
  const page = await call(aCtx, 'list_chat_messages', { slug, room_id: Number(room), before: null, limit: null });
  const bodies: string[] = page.messages.map((m: { body: string }) => m.body);
  expect(bodies.filter((t) => t === 'Yes, Friday works')).toHaveLength(1);
  expect(bodies.filter((t) => t === 'Shall we say 10:00?')).toHaveLength(1);

  // Cy was never invited: the room's URL shows nothing of it.
  await open(c, `/w/${slug}/chat/${room}`);
  await expect(c.getByRole('alert')).toContainText('No such chat room');
  await expect(c.getByText('Deal room')).toHaveCount(0);
  await expect(c.getByText('Hello')).toHaveCount(0);

  await aCtx.close();
  await bCtx.close();
  await cCtx.close();
});
