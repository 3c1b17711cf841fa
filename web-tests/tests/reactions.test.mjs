// Who reacted (issue 17): a reaction chip's tooltip names the people, and
// "Who reacted" in the message menu lists them per emoji.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signInUI, uniqueName, screenshot, eventually, Api } from '../lib/harness.mjs';
import { openConversation, messageByText } from '../lib/ui.mjs';

const env = serverAndBrowser();

test('who reacted: the chip\'s tooltip and the Reactions dialog', async () => {
  const tag = uniqueName('r');
  const annName = uniqueName('ann');
  const ann = await Api.register(env.server.url, annName, 'Ann');
  const bob = await Api.register(env.server.url, uniqueName('bob'), `Bob ${tag}`);
  const cy = await Api.register(env.server.url, uniqueName('cy'), `Cy ${tag}`);
  const group = await ann.call('POST', '/conversations', { kind: 'group', title: `Team ${tag}`, member_ids: [bob.user.id, cy.user.id] });
  const m = await ann.send(group.id, 'react to this');
  const thumbs = encodeURIComponent('👍');
  await bob.call('PUT', `/messages/${m.id}/reactions/${thumbs}`);
  await cy.call('PUT', `/messages/${m.id}/reactions/${thumbs}`);
  await cy.call('PUT', `/messages/${m.id}/reactions/${encodeURIComponent('❤️')}`);

  const a = await openPage(env.browser, env.server);
  await signInUI(a.page, annName);
  await openConversation(a.page, `Team ${tag}`);
  const msg = messageByText(a.page, 'react to this');
  const chip = msg.locator('.reaction[data-emoji="👍"]');
  await chip.hover();
  await eventually(async () => (await chip.getAttribute('title')) === `Bob ${tag} and Cy ${tag} reacted with 👍`, 'the names as the tooltip');

  await msg.hover();
  await msg.getByRole('button', { name: 'Message actions' }).click();
  await a.page.getByRole('menuitem', { name: 'Who reacted' }).click();
  const dialog = a.page.getByRole('dialog', { name: 'Reactions' });
  const thumbsGroup = dialog.getByRole('region', { name: '👍 2' });
  await thumbsGroup.waitFor();
  assert.deepEqual(await thumbsGroup.locator('.user-name').allTextContents(), [`Bob ${tag}`, `Cy ${tag}`]);
  assert.deepEqual(await dialog.getByRole('region', { name: '❤️ 1' }).locator('.user-name').allTextContents(), [`Cy ${tag}`]);
  await screenshot(a.page, 'who-reacted');
  await a.page.keyboard.press('Escape');
  a.expectClean();
  await a.context.close();
});
