// The emoji picker (issue 17): the composer's Emoji button opens a
// searchable picker shipped with the client (no CDN) that inserts at the
// caret; a message's React menu offers the whole set too.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signInUI, uniqueName, screenshot, eventually, Api } from '../lib/harness.mjs';
import { openConversation, composer, messageByText } from '../lib/ui.mjs';

const env = serverAndBrowser();

test('Emoji inserts at the caret and React offers every emoji', async () => {
  const tag = uniqueName('e');
  const annName = uniqueName('ann');
  const ann = await Api.register(env.server.url, annName, 'Ann');
  const bob = await Api.register(env.server.url, uniqueName('bob'), `Bob ${tag}`);
  const chat = await bob.call('POST', '/conversations', { kind: 'direct', user_id: ann.user.id });
  await bob.send(chat.id, 'launch day');

  const a = await openPage(env.browser, env.server);
  const requests = [];
  a.page.on('request', (r) => requests.push(r.url()));
  await signInUI(a.page, annName);
  await openConversation(a.page, `Bob ${tag}`);
  const box = composer(a.page);
  await box.fill('go  now');
  await box.evaluate((el) => el.setSelectionRange(3, 3));
  await a.page.getByRole('button', { name: 'Emoji' }).click();
  const picker = a.page.getByRole('dialog', { name: 'Emoji' });
  await picker.getByRole('region', { name: 'Smileys' }).waitFor();
  assert.ok(await picker.locator('.emoji-btn').count() > 1000, 'the whole set');
  await picker.getByLabel('Search emoji').fill('rocket');
  await picker.getByRole('button', { name: 'rocket', exact: true }).click();
  await screenshot(a.page, 'emoji-picker');
  await a.page.keyboard.press('Escape');
  await picker.waitFor({ state: 'detached' });
  assert.equal(await box.inputValue(), 'go 🚀 now', 'inserted at the caret');
  await box.press('Enter');
  await eventually(async () => (await messageByText(a.page, 'go 🚀 now').count()) === 1, 'sent');

  const msg = messageByText(a.page, 'launch day');
  await msg.hover();
  await msg.getByRole('button', { name: 'Message actions' }).click();
  await a.page.getByRole('menuitem', { name: 'React', exact: true }).click();
  await a.page.getByRole('menuitem', { name: 'More emoji' }).click();
  const react = a.page.getByRole('dialog', { name: 'React with' });
  await react.getByLabel('Search emoji').fill('fox');
  await react.getByRole('button', { name: 'fox face' }).click();
  await react.waitFor({ state: 'detached' });
  await eventually(async () => {
    const m = (await bob.call('GET', `/conversations/${chat.id}/messages?limit=5`)).messages.find((x) => x.text === 'launch day');
    return m.reactions.some((r) => r.emoji === '🦊');
  }, 'the reaction stored');
  assert.ok(requests.every((u) => u.startsWith(env.server.url) || u.startsWith('data:')), `nothing fetched from elsewhere: ${requests.filter((u) => !u.startsWith(env.server.url)).join(', ')}`);
  a.expectClean();
  await a.context.close();
});
