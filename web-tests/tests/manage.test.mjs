// Managing conversations from the browser: a new group, rename, add and
// remove members, mute, leave; block and unblock (a refused send shows as
// failed with Retry); the filter box; "Scroll to latest" with its count.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signInUI, uniqueName, screenshot, eventually, sleep, Api } from '../lib/harness.mjs';
import { conversationList, conversationRow, conversationView, messageLog, openConversation, sendText, messageByText, tickStatus } from '../lib/ui.mjs';

const env = serverAndBrowser();

async function registered(prefix, display) {
  const name = uniqueName(prefix);
  return { name, api: await Api.register(env.server.url, name, display) };
}

test('a group made, renamed, grown, shrunk, muted and left from the browser', async () => {
  const owner = await registered('olga', 'Olga Owner');
  const tag = uniqueName('t');
  const m1 = await registered('mia', `Mia ${tag}`);
  const m2 = await registered('max', `Max ${tag}`);
  const extra = await registered('eve', `Eve ${tag}`);
  const o = await openPage(env.browser, env.server);
  await signInUI(o.page, owner.name);

  await o.page.getByRole('button', { name: 'New group' }).click();
  const dialog = o.page.getByRole('dialog', { name: 'New group' });
  await dialog.getByLabel('Group name').fill('Weekend plans');
  await dialog.getByLabel('Search users').fill(m1.name);
  await dialog.getByRole('checkbox', { name: `Mia ${tag}` }).check();
  await dialog.getByLabel('Search users').fill(m2.name);
  await dialog.getByRole('checkbox', { name: `Max ${tag}` }).check();
  await dialog.getByRole('button', { name: 'Create group' }).click();
  await conversationView(o.page).locator('.conv-header-title', { hasText: 'Weekend plans' }).waitFor();
  const [group] = (await m1.api.call('GET', '/conversations')).conversations;
  assert.equal(group.title, 'Weekend plans');
  assert.equal(group.member_count, 3, 'the checked users stayed selected across searches');

  await o.page.getByRole('button', { name: 'Conversation info' }).click();
  const info = o.page.getByRole('dialog', { name: 'Conversation info' });
  await info.getByLabel('Group name').fill('Weekend trip');
  await info.getByRole('button', { name: 'Save' }).click();
  await eventually(async () => (await m1.api.call('GET', `/conversations/${group.id}`)).title === 'Weekend trip', 'renamed');
  await conversationView(o.page).locator('.conv-header-title', { hasText: 'Weekend trip' }).waitFor();

  await info.getByRole('button', { name: 'Add members' }).click();
  await info.getByLabel('Search users').fill(extra.name);
  await info.getByRole('button', { name: new RegExp(`Eve ${tag}`) }).click();
  await eventually(async () => (await m1.api.call('GET', `/conversations/${group.id}`)).member_count === 4, 'Eve added');
  await eventually(async () => (await info.locator('.member').count()) === 4, 'four members listed');
  await info.locator('.member').filter({ hasText: `Eve ${tag}` }).getByRole('button', { name: /Remove/ }).click();
  await eventually(async () => (await m1.api.call('GET', `/conversations/${group.id}`)).member_count === 3, 'Eve removed');

  await info.getByRole('button', { name: 'Mute' }).click();
  await eventually(async () => (await owner.api.call('GET', `/conversations/${group.id}`)).muted_until !== null, 'muted');
  await info.getByRole('button', { name: 'Unmute' }).click();
  await eventually(async () => (await owner.api.call('GET', `/conversations/${group.id}`)).muted_until === null, 'unmuted');

  await info.getByRole('button', { name: 'Leave group' }).click();
  const confirm = o.page.getByRole('dialog').getByRole('button', { name: /^Leave/ });
  if (await confirm.count()) await confirm.last().click().catch(() => {});
  await eventually(async () => (await m1.api.call('GET', `/conversations/${group.id}`)).member_count === 2, 'left');
  await eventually(async () => (await conversationRow(o.page, 'Weekend trip').count()) === 0, 'gone from the list');
  o.expectClean();
  await o.context.close();
});

test('block refuses sends (failed, Retry) until unblocked; filter; new messages pill', async () => {
  const ann = await registered('ann', 'Ann Blocker');
  const bob = await registered('bob', 'Bob Blocked');
  const cy = await registered('cy', 'Cy Other');
  const conv = await bob.api.call('POST', '/conversations', { kind: 'direct', user_id: ann.api.user.id });
  const other = await cy.api.call('POST', '/conversations', { kind: 'direct', user_id: ann.api.user.id });
  await cy.api.send(other.id, 'hello from Cy');
  for (let i = 1; i <= 60; i++) await bob.api.send(conv.id, `filler ${i}`);
  const a = await openPage(env.browser, env.server);
  await signInUI(a.page, ann.name);

  // The filter box narrows the list.
  const filter = a.page.getByRole('searchbox', { name: 'Search chats' });
  await filter.fill('Cy Oth');
  await eventually(async () => (await conversationList(a.page).locator('li.conv-item').count()) === 1, 'one row matches');
  assert.equal(await conversationRow(a.page, 'Cy Other').count(), 1);
  await filter.fill('');
  await eventually(async () => (await conversationList(a.page).locator('li.conv-item').count()) === 2, 'both rows again');

  // Scrolled up, "Scroll to latest" shows; a new message adds to its count
  // instead of moving the view.
  await openConversation(a.page, 'Bob Blocked');
  await messageByText(a.page, 'filler 60').waitFor();
  const latest = a.page.locator('.scroll-latest');
  assert.ok(await latest.isHidden(), 'at the newest: no button');
  await messageLog(a.page).evaluate((el) => { el.scrollTop = 0; });
  await a.page.getByRole('button', { name: 'Scroll to latest' }).waitFor();
  assert.equal(await latest.locator('.scroll-latest-count').isHidden(), true, 'nothing new yet');
  await bob.api.send(conv.id, 'are you there?');
  await a.page.getByRole('button', { name: 'Scroll to latest, 1 new message' }).waitFor();
  assert.equal(await latest.locator('.scroll-latest-count').textContent(), '1');
  await latest.click();
  await eventually(async () => messageLog(a.page).evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 40), 'scrolled to the newest');
  await eventually(async () => await latest.isHidden(), 'button gone at the newest');

  // Block: a send is refused and shows as failed with Retry.
  await a.page.getByRole('button', { name: 'Conversation info' }).click();
  const info = a.page.getByRole('dialog', { name: 'Conversation info' });
  await info.getByRole('button', { name: 'Block' }).click();
  await eventually(async () => (await ann.api.call('GET', `/blocks/${bob.api.user.id}`)).blocked_by_me === true, 'blocked');
  await info.getByRole('button', { name: 'Unblock' }).waitFor();
  await a.page.keyboard.press('Escape');
  await sendText(a.page, 'blocked send');
  await eventually(async () => (await tickStatus(a.page, 'blocked send')) === 'failed', 'failed tick', 15000);
  const failed = messageByText(a.page, 'blocked send');
  await failed.getByRole('button', { name: 'Retry' }).waitFor();
  await screenshot(a.page, 'failed-retry');

  // Unblock and retry: the same message goes through, once.
  await a.page.getByRole('button', { name: 'Conversation info' }).click();
  await info.getByRole('button', { name: 'Unblock' }).click();
  await eventually(async () => (await ann.api.call('GET', `/blocks/${bob.api.user.id}`)).blocked_by_me === false, 'unblocked');
  await a.page.keyboard.press('Escape');
  await failed.getByRole('button', { name: 'Retry' }).click();
  await eventually(async () => ['sent', 'delivered', 'read'].includes(await tickStatus(a.page, 'blocked send')), 'sent after retry');
  await sleep(500);
  const stored = (await bob.api.call('GET', `/conversations/${conv.id}/messages?limit=5`)).messages.map((m) => m.text);
  assert.deepEqual(stored.slice(-2), ['are you there?', 'blocked send']);
  assert.equal(await messageByText(a.page, 'blocked send').count(), 1);
  a.expectClean();
  await a.context.close();
});
