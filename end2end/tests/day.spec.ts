// The team's day, with two people at once: a slot booked by one disappears from the
// other's calendar without a reload, and the other's booking of it is refused as just
// taken; a task assigned to someone appears in their My tasks live; a call started by
// one shows "in progress" on the other's queue.
import { test, expect, Browser, BrowserContext, Page } from '@playwright/test';
import { call, signedIn, submit } from './helpers';

type Team = { aCtx: BrowserContext; bCtx: BrowserContext; slug: string; stamp: string; bea: number };

/** Ada (owner) and Bea (member) in a new workspace. */
async function team(browser: Browser, prefix: string): Promise<Team> {
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const [aCtx] = await signedIn(browser, 'Ada Day', `ada-${prefix}${stamp}@example.com`);
  const ws = await call(aCtx, 'create_workspace', { name: `Day ${stamp}`, slug: null });
  const invite = await submit(aCtx, 'create_invite', { slug: ws.slug, role: 'member', expires_in_days: 1, max_uses: 2 });
  const [bCtx] = await signedIn(browser, 'Bea Day', `bea-${prefix}${stamp}@example.com`, invite.token);
  const bea = (await call(bCtx, 'get_current_user', {})).id;
  return { aCtx, bCtx, slug: ws.slug, stamp, bea };
}

/** Opens `path` and waits until the page is live. */
async function open(page: Page, path: string) {
  await page.goto(path);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
}

test('a slot booked by one disappears from the other calendar live; booking it too is refused as just taken', async ({ browser }) => {
  const { aCtx, bCtx, slug, stamp } = await team(browser, 'cal');
  // Cy, whose calendar both open, is free every day around the clock.
  const invite = await submit(aCtx, 'create_invite', { slug, role: 'member', expires_in_days: 1, max_uses: 1 });
  const [cCtx] = await signedIn(browser, 'Cy Day', `cy-cal${stamp}@example.com`, invite.token);
  const weekly = [0, 1, 2, 3, 4, 5, 6].map((weekday) => ({ weekday, start_minute: 0, end_minute: 1440 }));
  await call(cCtx, 'set_calendar', { calendar: { time_zone: 'UTC', reminder_minutes: 10, weekly, days_off: [], published: true } });

  const [a, b] = [await aCtx.newPage(), await bCtx.newPage()];
  for (const [page, self] of [[a, 'Ada Day'], [b, 'Bea Day']] as const) {
    await open(page, `/w/${slug}/calendar`);
    const whose = page.getByRole('group', { name: 'Whose calendar' });
    await whose.getByLabel('Cy Day').check();
    await whose.getByLabel(self).uncheck();
    await page.getByRole('button', { name: 'Next week' }).click();
  }
  // The same slot on both pages (named by day and time in the viewer's zone).
  const first = a.getByRole('list', { name: /^Free slots on / }).first().getByRole('button').first();
  await expect(first).toBeVisible();
  const slotName = (await first.getAttribute('aria-label'))!;
  const slot = (page: Page) => page.getByRole('button', { name: slotName, exact: true });
  await expect(slot(b)).toBeVisible();

  // By keyboard: arrows move between slots; the dialog takes the focus and Escape gives
  // it back to the slot.
  await slot(a).focus();
  await a.keyboard.press('ArrowDown');
  await expect(a.getByRole('list', { name: /^Free slots on / }).first().getByRole('button').nth(1)).toBeFocused();
  await a.keyboard.press('ArrowUp');
  await expect(slot(a)).toBeFocused();
  await a.keyboard.press('Enter');
  await expect(a.getByRole('dialog', { name: 'Book a meeting' }).getByLabel('Title')).toBeFocused();
  await a.keyboard.press('Escape');
  await expect(a.getByRole('dialog', { name: 'Book a meeting' })).toBeHidden();
  await expect(slot(a)).toBeFocused();

  // Bea starts booking it; Ada books it first.
  await slot(b).click();
  const bDialog = b.getByRole('dialog', { name: 'Book a meeting' });
  await bDialog.getByLabel('Title').fill('Bea pitch');
  await slot(a).click();
  const aDialog = a.getByRole('dialog', { name: 'Book a meeting' });
  await aDialog.getByLabel('Title').fill('Ada demo');
  await aDialog.getByRole('button', { name: 'Book' }).click();
  await expect(aDialog).toBeHidden();
  await expect(slot(a)).toHaveCount(0);

  // On Bea's page, without a reload: the slot is gone and Ada's meeting is there.
  await expect(slot(b)).toHaveCount(0);
  await expect(b.getByRole('link', { name: /Ada demo/ })).toBeVisible();
  // Her booking of the same slot is refused.
  await bDialog.getByRole('button', { name: 'Book' }).click();
  await expect(bDialog.getByRole('alert')).toContainText('This slot was just taken');

  // Cy, invited, accepts on the meeting's page; the answer shows by name.
  const href = (await b.getByRole('link', { name: /Ada demo/ }).getAttribute('href'))!;
  const c = await cCtx.newPage();
  await open(c, href);
  const rsvp = c.getByRole('region', { name: 'Your answer' });
  await rsvp.getByRole('button', { name: 'Accept' }).click();
  await expect(rsvp.getByRole('button', { name: 'Accept' })).toHaveAttribute('aria-pressed', 'true');
  await expect(rsvp).toContainText('Answers: Cy Day: accepted');
});

test('a task assigned to Bea appears in her My tasks live, overdue marked, and she can finish it and add one', async ({ browser }) => {
  const { aCtx, bCtx, slug, bea } = await team(browser, 'task');
  const b = await bCtx.newPage();
  await open(b, `/w/${slug}/my-tasks`);
  await expect(b.getByRole('heading', { level: 1, name: 'My tasks' })).toBeVisible();
  await expect(b.getByText('No tasks here.')).toBeVisible();

  await call(aCtx, 'create_record', {
    slug, kind: 'task', fields: { title: 'Send the proposal', status: 'to do', assignee_id: bea, due_date: '2020-01-02' },
  });
  const task = b.getByRole('listitem', { name: 'Send the proposal' });
  await expect(task).toBeVisible();
  await expect(task).toContainText('Overdue');

  await task.getByRole('button', { name: 'Mark Send the proposal done' }).click();
  await expect(task).toHaveCount(0);

  const add = b.getByRole('form', { name: 'Quick add task' });
  await add.getByLabel('New task').fill('Call back Acme');
  await add.getByRole('button', { name: 'Add task' }).click();
  await expect(b.getByRole('listitem', { name: 'Call back Acme' })).toBeVisible();
  await expect(add.getByLabel('New task')).toHaveValue('');

  // Her dashboard lists the open one, not the done one.
  await b.getByRole('navigation', { name: 'Workspace' }).getByRole('link', { name: 'Dashboard' }).click();
  const mine = b.getByRole('list', { name: 'My tasks' });
  await expect(mine.getByRole('link', { name: 'Call back Acme' })).toBeVisible();
  await expect(mine.getByRole('link', { name: 'Send the proposal' })).toHaveCount(0);
});

test('a call started by Ada shows in progress on Bea\'s queue, and leaves it when completed', async ({ browser }) => {
  const { aCtx, bCtx, slug, bea } = await team(browser, 'queue');
  await call(aCtx, 'create_record', {
    slug, kind: 'call', fields: { subject: 'Renewal call', status: 'scheduled', assignee_id: bea, scheduled_at: Date.now() + 3_600_000 },
  });
  const [a, b] = [await aCtx.newPage(), await bCtx.newPage()];
  for (const page of [a, b]) await open(page, `/w/${slug}/queue`);
  const row = (page: Page) => page.getByRole('listitem', { name: 'Renewal call' });
  await expect(row(b)).toContainText('Status: scheduled');

  await a.getByRole('button', { name: 'Start Renewal call' }).click();
  await expect(row(b)).toContainText('Status: in progress');
  await expect(b.getByRole('region', { name: /^In progress/ })).toContainText('Renewal call');

  await a.getByLabel('Outcome of Renewal call').fill('Signed for a year');
  await a.getByRole('button', { name: 'Complete Renewal call' }).click();
  await expect(b.getByRole('listitem', { name: 'Renewal call' })).toHaveCount(0);
  await expect(b.getByText('No calls here.')).toBeVisible();
});

test('a deal moved on the pipeline board moves on the other\'s board live, with each column\'s count and value', async ({ browser }) => {
  const { aCtx, bCtx, slug } = await team(browser, 'board');
  const deals: [string, string, number][] = [['D-1', 'Prospecting', 150_000], ['D-2', 'Prospecting', 250_000], ['D-3', 'Won', 100_000]];
  for (const [code, stage, cents] of deals) {
    await call(aCtx, 'create_record', { slug, kind: 'deal', fields: { code, stage, value: cents } });
  }
  // Both start on the customers' list, the first page, and go to the board (its code
  // loads then, in a split build) by the navigation.
  const [a, b] = [await aCtx.newPage(), await bCtx.newPage()];
  for (const page of [a, b]) {
    await open(page, `/w/${slug}/customers`);
    await page.getByRole('navigation', { name: 'Workspace' }).getByRole('link', { name: 'Deals' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Deals pipeline' })).toBeVisible();
  }
  const column = (page: Page, stage: string) => page.getByRole('region', { name: new RegExp(`^${stage} `) });
  // Each column's heading: its count and value over all its deals, from the database.
  await expect(column(b, 'Prospecting')).toHaveAccessibleName('Prospecting (2 · $4,000)');
  await expect(column(b, 'Won')).toHaveAccessibleName('Won (1 · $1,000)');
  await expect(column(b, 'Prospecting').getByRole('link', { name: 'D-1' })).toBeVisible();

  // Ada moves D-1 on by its card's control; Bea's board follows without a reload.
  await a.getByLabel('Stage of deal D-1').selectOption('Engaging');
  await expect(column(b, 'Engaging').getByRole('link', { name: 'D-1' })).toBeVisible();
  await expect(column(b, 'Prospecting').getByRole('link', { name: 'D-1' })).toHaveCount(0);
  await expect(column(b, 'Prospecting')).toHaveAccessibleName('Prospecting (1 · $2,500)');
  await expect(column(b, 'Engaging')).toHaveAccessibleName('Engaging (1 · $1,500)');
  await expect(b.getByLabel('Stage of deal D-1')).toHaveValue('Engaging');

  // A visit that starts on the board renders it on the server and hydrates it.
  await open(b, `/w/${slug}/deals`);
  await expect(column(b, 'Engaging').getByRole('link', { name: 'D-1' })).toBeVisible();
  await b.getByLabel('Stage of deal D-2').selectOption('Lost');
  await expect(column(a, 'Lost').getByRole('link', { name: 'D-2' })).toBeVisible();
  await expect(column(a, 'Lost')).toHaveAccessibleName('Lost (1 · $2,500)');
});

test('switching a list to its board keeps the page, and only the board\'s place says it is loading', async ({ browser }) => {
  const { aCtx, slug } = await team(browser, 'switch');
  await call(aCtx, 'create_record', { slug, kind: 'deal', fields: { code: 'D-9', stage: 'Won', value: 50_000 } });
  // The board's own WASM chunk (a split build) is held until the page has been looked at.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let asked = false;
  await aCtx.route(/\/pkg\/split_lazy_board_[^/]*\.wasm$/, async (route) => {
    asked = true;
    await held;
    await route.continue();
  });
  const page = await aCtx.newPage();
  await open(page, `/w/${slug}/deals?view=list`);
  await expect(page.getByRole('row', { name: /D-9/ })).toBeVisible();
  const views = page.getByRole('navigation', { name: 'Deal views' });
  await views.getByRole('link', { name: 'Board' }).click();
  await expect.poll(() => asked).toBe(true);
  await expect(page.getByRole('status').filter({ hasText: 'Loading the board…' })).toBeVisible();
  await expect(views.getByRole('link', { name: 'Board' })).toHaveAttribute('aria-current', 'page');
  await expect(page.getByRole('navigation', { name: 'Workspace' })).toBeVisible();
  release();
  await expect(page.getByRole('region', { name: /^Won / }).getByRole('link', { name: 'D-9' })).toBeVisible();
  await expect(page.getByText('Loading the board…')).toHaveCount(0);
});
