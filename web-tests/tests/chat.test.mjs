// Two people in two browser contexts: sign up, start a chat, exchange
// messages; ticks go sending -> sent -> delivered -> read as the other side
// comes online and opens the chat; typing shows and clears; presence shows
// online and then last seen; the session survives a reload.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signUpUI, uniqueName, screenshot, eventually, sleep } from '../lib/harness.mjs';
import { conversationList, conversationRow, conversationView, composer, startDirectChat, openConversation, sendText, messageByText, tickStatus, messageTexts } from '../lib/ui.mjs';

const env = serverAndBrowser();

test('two people chat with ticks, typing and presence', async () => {
  const aliceName = uniqueName('alice');
  const bobName = uniqueName('bob');
  const alice = await openPage(env.browser, env.server);
  await signUpUI(alice.page, aliceName, 'Alice Liddell');
  const bob = await openPage(env.browser, env.server);
  await signUpUI(bob.page, bobName, 'Bob Builder');
  await screenshot(bob.page, 'list-empty');
  // Bob goes away: his only tab closes (the context keeps his storage).
  await bob.page.close();

  await startDirectChat(alice.page, bobName, 'Bob Builder');
  const status = conversationView(alice.page).locator('.conv-header-status');
  await eventually(async () => /last seen/i.test(await status.textContent()), 'Bob shown as last seen');

  // Optimistic display at once, then one tick: stored but nobody got it.
  await sendText(alice.page, 'hello bob');
  await messageByText(alice.page, 'hello bob').waitFor();
  await eventually(async () => (await tickStatus(alice.page, 'hello bob')) === 'sent', 'sent tick');
  await sleep(500);
  assert.equal(await tickStatus(alice.page, 'hello bob'), 'sent', 'no delivery while Bob is offline');
  assert.equal(await composer(alice.page).inputValue(), '', 'the composer is cleared on send');

  // Bob comes back: a new tab of the same browser is still signed in.
  const bobPage = await bob.context.newPage();
  bob.page = bobPage;
  await bobPage.goto(env.server.url + '/');
  await conversationList(bobPage).waitFor();
  const row = conversationRow(bobPage, 'Alice Liddell');
  await row.waitFor();
  await eventually(async () => (await row.locator('.unread-badge').textContent())?.trim() === '1', 'unread badge 1 for Bob');
  assert.match(await row.locator('.conv-preview').textContent(), /hello bob/);
  await eventually(async () => (await tickStatus(alice.page, 'hello bob')) === 'delivered', 'delivered ticks');
  await eventually(async () => (await status.textContent()).trim() === 'online', 'Bob shown online');
  await eventually(async () => /\(1\)/.test(await bobPage.title()), 'unread total in Bob\'s tab title');

  // Bob opens the chat: read.
  await openConversation(bobPage, 'Alice Liddell');
  await eventually(async () => (await tickStatus(alice.page, 'hello bob')) === 'read', 'read ticks');
  await eventually(async () => (await row.locator('.unread-badge').count()) === 0, 'Bob\'s badge cleared');
  await eventually(async () => !/\(\d+\)/.test(await bobPage.title()), 'Bob\'s tab title without unread');

  // Typing shows in Alice's view and list, and stops when Bob sends.
  await composer(bobPage).pressSequentially('hi al', { delay: 30 });
  const typing = conversationView(alice.page).locator('.typing-indicator');
  await eventually(async () => /typing/i.test((await typing.textContent()) ?? ''), 'typing indicator');
  await eventually(async () => /typing/i.test(await status.textContent()), 'typing in the header');
  const aliceRow = conversationRow(alice.page, 'Bob Builder');
  await eventually(async () => /typing/i.test(await aliceRow.locator('.conv-preview').textContent()), 'typing in the list');
  assert.equal(await aliceRow.locator('.online-dot').count(), 1, 'online dot in the list');
  await composer(bobPage).pressSequentially('ice');
  await composer(bobPage).press('Enter');
  await messageByText(alice.page, 'hi alice').waitFor();
  await eventually(async () => !/typing/i.test((await typing.textContent()) ?? '') || !(await typing.isVisible()), 'typing cleared by the send');
  assert.deepEqual(await messageTexts(alice.page), ['hello bob', 'hi alice']);
  assert.deepEqual(await messageTexts(bobPage), ['hello bob', 'hi alice']);
  const bobsMessage = messageByText(alice.page, 'hi alice');
  assert.equal(await bobsMessage.evaluate((el) => el.classList.contains('own')), false, 'Bob\'s message is not Alice\'s own');
  // Alice has the chat open and visible: Bob's message shows read.
  await eventually(async () => (await tickStatus(bobPage, 'hi alice')) === 'read', 'Bob sees his message read');
  await screenshot(alice.page, 'chat-desktop');

  // Presence: Bob closes his tab, Alice sees last seen.
  await bobPage.close();
  await eventually(async () => /last seen/i.test(await status.textContent()), 'Bob last seen after closing');
  await eventually(async () => (await aliceRow.locator('.online-dot').count()) === 0, 'no online dot once Bob left');

  alice.expectClean();
  bob.expectClean();
  await alice.context.close();
  await bob.context.close();
});

test('sign out returns to the sign-in form and forgets the session', async () => {
  const name = uniqueName('carol');
  const carol = await openPage(env.browser, env.server);
  await signUpUI(carol.page, name, 'Carol');
  await carol.page.getByRole('button', { name: 'Sign out' }).click();
  await carol.page.getByRole('form', { name: 'Sign in' }).waitFor();
  await carol.page.reload();
  await carol.page.getByRole('form', { name: 'Sign in' }).waitFor();
  const stored = await carol.page.evaluate(() => JSON.stringify(localStorage));
  assert.ok(!/refresh/i.test(stored) || !/[A-Za-z0-9_-]{30,}/.test(stored), 'no refresh token left after sign out');
  // Wrong password: an alert, and still on the form.
  const form = carol.page.getByRole('form', { name: 'Sign in' });
  await form.getByLabel('Username').fill(name);
  await form.getByLabel('Password').fill('not the password');
  await form.getByRole('button', { name: 'Sign in' }).click();
  await carol.page.getByRole('alert').filter({ hasText: /./ }).waitFor();
  carol.expectClean();
  await carol.context.close();
});
