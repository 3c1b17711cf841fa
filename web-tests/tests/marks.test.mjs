// Star and Delete for me (issue 17): per user, kept by the server and
// synced to the user's other devices at once; the other people in the chat
// keep the message; Undo brings it back; the Starred messages list opens
// the chat at the message.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signInUI, uniqueName, screenshot, eventually, Api } from '../lib/harness.mjs';
import { openConversation, messageByText } from '../lib/ui.mjs';

const env = serverAndBrowser();

async function people() {
  const tag = uniqueName('m');
  const annName = uniqueName('ann');
  const ann = await Api.register(env.server.url, annName, 'Ann');
  const bobName = uniqueName('bob');
  const bob = await Api.register(env.server.url, bobName, `Bob ${tag}`);
  const chat = await bob.call('POST', '/conversations', { kind: 'direct', user_id: ann.user.id });
  await bob.send(chat.id, 'keep me');
  await bob.send(chat.id, 'forget me');
  await bob.send(chat.id, 'the last word');
  return { tag, annName, ann, bobName, bob, chat };
}

async function menuItem(page, text, item) {
  const m = messageByText(page, text);
  await m.hover();
  await m.getByRole('button', { name: 'Message actions' }).click();
  await page.getByRole('menuitem', { name: item, exact: true }).click();
}

test('Star shows on both devices and in Starred messages, which opens the chat', async () => {
  const { tag, annName } = await people();
  const one = await openPage(env.browser, env.server);
  await signInUI(one.page, annName);
  const two = await openPage(env.browser, env.server);
  await signInUI(two.page, annName);
  await openConversation(one.page, `Bob ${tag}`);
  await openConversation(two.page, `Bob ${tag}`);

  await menuItem(one.page, 'keep me', 'Star');
  for (const page of [one.page, two.page]) {
    await eventually(async () => (await messageByText(page, 'keep me').locator('.starred-icon').count()) === 1, 'the star on both devices');
  }
  assert.equal(await messageByText(one.page, 'forget me').locator('.starred-icon').count(), 0);

  await two.page.getByRole('button', { name: 'Starred messages' }).click();
  const dialog = two.page.getByRole('dialog', { name: 'Starred messages' });
  await eventually(async () => (await dialog.locator('.search-hit').count()) === 1, 'one starred message');
  assert.match(await dialog.locator('.search-hit').textContent(), new RegExp(`Bob ${tag} in Bob ${tag}.*keep me`));
  await screenshot(two.page, 'starred-messages');
  await dialog.locator('.search-hit').click();
  await dialog.waitFor({ state: 'detached' });
  await messageByText(two.page, 'keep me').waitFor();

  // Unstar from the other device; the list empties.
  await menuItem(two.page, 'keep me', 'Unstar');
  await eventually(async () => (await messageByText(one.page, 'keep me').locator('.starred-icon').count()) === 0, 'unstarred everywhere');
  await one.page.getByRole('button', { name: 'Starred messages' }).click();
  await eventually(async () => /No starred messages/.test(await one.page.getByRole('dialog', { name: 'Starred messages' }).textContent()), 'empty list');
  one.expectClean();
  two.expectClean();
  await one.context.close();
  await two.context.close();
});

test('Delete for me hides a message on my devices only, with an Undo', async () => {
  const { tag, annName, bobName } = await people();
  const one = await openPage(env.browser, env.server);
  await signInUI(one.page, annName);
  const two = await openPage(env.browser, env.server);
  await signInUI(two.page, annName);
  const b = await openPage(env.browser, env.server);
  await signInUI(b.page, bobName);
  for (const [page, title] of [[one.page, `Bob ${tag}`], [two.page, `Bob ${tag}`], [b.page, 'Ann']]) await openConversation(page, title);

  // Delete for me asks nothing (it can be undone) and is not for everyone.
  await menuItem(one.page, 'forget me', 'Delete for me');
  for (const page of [one.page, two.page]) {
    await eventually(async () => (await messageByText(page, 'forget me').count()) === 0, 'gone on both of my devices');
  }
  assert.equal(await messageByText(one.page, 'keep me').count(), 1, 'the rest stays');
  assert.equal(await messageByText(b.page, 'forget me').count(), 1, 'Bob still has it');
  const toast = one.page.locator('.toast');
  assert.match(await toast.textContent(), /Message deleted for you/);
  await screenshot(one.page, 'deleted-for-me-undo');
  await toast.getByRole('button', { name: 'Undo' }).click();
  for (const page of [one.page, two.page]) {
    await eventually(async () => (await messageByText(page, 'forget me').count()) === 1, 'back after Undo on both devices');
  }

  // Delete for me again, then reload: still gone (the server keeps it).
  await menuItem(two.page, 'forget me', 'Delete for me');
  await eventually(async () => (await messageByText(one.page, 'forget me').count()) === 0, 'gone again');
  await one.page.reload();
  await openConversation(one.page, `Bob ${tag}`);
  await messageByText(one.page, 'the last word').waitFor();
  assert.equal(await messageByText(one.page, 'forget me').count(), 0, 'still gone after a reload');
  assert.equal(await messageByText(b.page, 'forget me').count(), 1, 'Bob still has it');

  // Delete for everyone (Bob's own message, by Bob) reaches both of Ann's devices as a tombstone.
  const last = messageByText(b.page, 'the last word');
  await last.hover();
  await last.getByRole('button', { name: 'Message actions' }).click();
  await b.page.getByRole('menuitem', { name: 'Delete for everyone' }).click();
  await b.page.getByRole('dialog', { name: 'Delete for everyone?' }).getByRole('button', { name: 'Delete for everyone' }).click();
  for (const page of [one.page, two.page]) {
    await eventually(async () => (await messageByText(page, 'This message was deleted').count()) === 1 && (await messageByText(page, 'the last word').count()) === 0, 'a tombstone on both of Ann\'s devices');
  }
  one.expectClean();
  two.expectClean();
  b.expectClean();
  for (const x of [one, two, b]) await x.context.close();
});
