// Mentions (issue 17): "@" in a group's composer suggests its members;
// Enter inserts "@username "; the server lists the mention in the
// message's `mentions` and the bubble highlights it. Direct chats offer
// no suggestions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signInUI, uniqueName, screenshot, eventually, Api } from '../lib/harness.mjs';
import { openConversation, composer, messageByText } from '../lib/ui.mjs';

const env = serverAndBrowser();

test('@ suggests the group\'s members and the mention reaches the server', async () => {
  const tag = uniqueName('n');
  const annName = uniqueName('ann');
  const ann = await Api.register(env.server.url, annName, 'Ann');
  const bobName = uniqueName('bob');
  const bob = await Api.register(env.server.url, bobName, `Bob ${tag}`);
  const cy = await Api.register(env.server.url, uniqueName('cy'), `Cy ${tag}`);
  const group = await ann.call('POST', '/conversations', { kind: 'group', title: `Team ${tag}`, member_ids: [bob.user.id, cy.user.id] });
  await bob.call('POST', '/conversations', { kind: 'direct', user_id: ann.user.id });

  const a = await openPage(env.browser, env.server);
  await signInUI(a.page, annName);
  await openConversation(a.page, `Team ${tag}`);
  const box = composer(a.page);
  const list = a.page.getByRole('listbox', { name: 'Mention a member' });
  await box.fill('');
  await box.pressSequentially('hello @');
  await eventually(async () => (await list.getByRole('option').count()) === 2, 'both other members offered');
  assert.equal(await list.getByRole('option', { name: /Ann/ }).count(), 0, 'not myself');
  await box.pressSequentially(bobName.slice(0, 3));
  await eventually(async () => (await list.getByRole('option').count()) === 1, 'narrowed to Bob');
  await screenshot(a.page, 'mention-suggestions');
  await box.press('Enter');
  assert.equal(await box.inputValue(), `hello @${bobName} `, 'Enter inserts the username');
  assert.equal(await list.count() === 0 || await list.isHidden(), true, 'the list closes');
  await box.pressSequentially('see this');
  await box.press('Enter');
  const text = `hello @${bobName} see this`;
  await eventually(async () => (await messageByText(a.page, text).count()) === 1, 'sent');
  const page = await bob.call('GET', `/conversations/${group.id}/messages?limit=5`);
  const sent = page.messages.find((m) => m.text === text);
  assert.deepEqual(sent.mentions, [bob.user.id], 'the server lists Bob');
  await eventually(async () => (await messageByText(a.page, text).locator('.mention').textContent()) === `@${bobName}`, 'the mention highlighted');

  // Escape closes the list without sending; direct chats suggest nothing.
  await box.pressSequentially('@');
  await eventually(async () => (await list.getByRole('option').count()) === 2, 'offered again');
  await box.press('Escape');
  assert.ok(await list.isHidden(), 'closed by Escape');
  assert.equal(await box.inputValue(), '@', 'nothing sent');
  await box.fill('');
  await openConversation(a.page, `Bob ${tag}`);
  await box.pressSequentially('@');
  await a.page.waitForTimeout(300);
  assert.ok(await list.isHidden(), 'no suggestions in a direct chat');
  a.expectClean();
  await a.context.close();
});
