// The everyday details (issue 17): no "online" claimed while the client
// itself is offline; drafts kept per chat across switching and reloads and
// shown in the list; times in the locale's clock without a leading zero;
// the unread count on the tab's icon; Copy on a message.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signInUI, uniqueName, screenshot, eventually, sleep, Api } from '../lib/harness.mjs';
import { conversationRow, conversationView, composer, openConversation, sendText, messageByText } from '../lib/ui.mjs';

const env = serverAndBrowser();

/** Ann (to sign in through the browser) with direct chats with Bob and Cy. */
async function people() {
  const tag = uniqueName('e');
  const annName = uniqueName('ann');
  const ann = await Api.register(env.server.url, annName, 'Ann');
  const bobName = uniqueName('bob');
  const bob = await Api.register(env.server.url, bobName, `Bob ${tag}`);
  const cy = await Api.register(env.server.url, uniqueName('cy'), `Cy ${tag}`);
  const withBob = await bob.call('POST', '/conversations', { kind: 'direct', user_id: ann.user.id });
  const withCy = await cy.call('POST', '/conversations', { kind: 'direct', user_id: ann.user.id });
  await bob.send(withBob.id, 'hello from Bob');
  await cy.send(withCy.id, 'hello from Cy');
  return { tag, annName, ann, bobName, bob, cy, withBob, withCy };
}

const headerStatus = (page) => conversationView(page).locator('.conv-header-status');

test('a peer is not shown online while this client is offline', async () => {
  const { tag, annName, bobName } = await people();
  const b = await openPage(env.browser, env.server);
  await signInUI(b.page, bobName);
  const a = await openPage(env.browser, env.server);
  await signInUI(a.page, annName);
  const row = conversationRow(a.page, `Bob ${tag}`);
  await eventually(async () => (await row.locator('.online-dot').count()) === 1, 'online dot in the row');
  await openConversation(a.page, `Bob ${tag}`);
  await eventually(async () => (await headerStatus(a.page).textContent()) === 'online', 'online in the header');

  await a.context.setOffline(true);
  await eventually(async () => (await headerStatus(a.page).textContent()) !== 'online', 'no "online" claimed while offline', 15000);
  assert.equal(await row.locator('.online-dot').count(), 0, 'no online dot while offline');
  await screenshot(a.page, 'presence-offline');

  await a.context.setOffline(false);
  await eventually(async () => (await headerStatus(a.page).textContent()) === 'online', 'online again after reconnecting', 20000);
  await eventually(async () => (await row.locator('.online-dot').count()) === 1, 'the dot is back');
  a.expectClean();
  await a.context.close();
  await b.context.close();
});

test('drafts survive switching chats and reloading, and show in the list', async () => {
  const { tag, annName, bob, withBob } = await people();
  const a = await openPage(env.browser, env.server);
  await signInUI(a.page, annName);
  await openConversation(a.page, `Bob ${tag}`);
  await composer(a.page).fill('half a thought\nand a second line');
  await openConversation(a.page, `Cy ${tag}`);
  const bobRow = conversationRow(a.page, `Bob ${tag}`);
  await eventually(async () => /Draft:\s*half a thought/.test(await bobRow.locator('.conv-preview').textContent()), 'Draft: in the row');
  assert.doesNotMatch(await bobRow.locator('.conv-preview').textContent(), /second line/, 'the first line only');
  assert.doesNotMatch(await conversationRow(a.page, `Cy ${tag}`).locator('.conv-preview').textContent(), /Draft/, 'the open chat shows no draft');
  assert.equal(await composer(a.page).inputValue(), '', 'each chat has its own draft');
  await screenshot(a.page, 'draft-in-list');

  await sleep(500); // the draft is written to storage within 300 ms
  await a.page.reload();
  await eventually(async () => /Draft:\s*half a thought/.test((await bobRow.locator('.conv-preview').textContent()) ?? ''), 'the draft after a reload', 15000);
  await openConversation(a.page, `Bob ${tag}`);
  assert.equal(await composer(a.page).inputValue(), 'half a thought\nand a second line');

  // Sending clears it: the row shows the message, no draft.
  await a.page.keyboard.press('End');
  await composer(a.page).press('Enter');
  await eventually(async () => (await bob.call('GET', `/conversations/${withBob.id}/messages?limit=5`)).messages.some((m) => m.text === 'half a thought\nand a second line'), 'the draft sent');
  await openConversation(a.page, `Cy ${tag}`);
  await eventually(async () => !/Draft/.test(await bobRow.locator('.conv-preview').textContent()), 'no draft after sending');
  await sleep(500);
  await a.page.reload();
  await bobRow.waitFor();
  await sleep(500);
  assert.doesNotMatch(await bobRow.locator('.conv-preview').textContent(), /Draft/, 'still none after a reload');

  // Signing out leaves no drafts on the device.
  await openConversation(a.page, `Bob ${tag}`);
  await composer(a.page).fill('private words');
  await sleep(500);
  assert.ok(await a.page.evaluate(() => Object.keys(localStorage).some((k) => k.startsWith('parley.drafts.'))), 'drafts kept in storage');
  await a.page.getByRole('button', { name: 'Sign out' }).click();
  await a.page.getByRole('form', { name: 'Sign in' }).waitFor();
  assert.ok(await a.page.evaluate(() => !Object.keys(localStorage).some((k) => k.startsWith('parley.drafts.'))), 'no drafts after signing out');
  a.expectClean();
  await a.context.close();
});

test('message times follow the locale\'s clock, without a leading zero in 12-hour time', async () => {
  const { tag, annName, bob, withBob } = await people();
  await bob.send(withBob.id, 'what time is it');
  for (const [locale, pattern] of [['en-US', /^([1-9]|1[0-2]):[0-5]\d\s?[AP]M$/], ['en-GB', /^([01]\d|2[0-3]):[0-5]\d$/]]) {
    const a = await openPage(env.browser, env.server, { locale, timezoneId: 'America/New_York' });
    await signInUI(a.page, annName);
    await openConversation(a.page, `Bob ${tag}`);
    const time = (await messageByText(a.page, 'what time is it').locator('.message-meta time').textContent()).trim();
    assert.match(time.replace(/\u202f/g, ' '), pattern, `${locale}: ${time}`);
    await a.context.close();
  }
});

test('a device can be set to a 12- or 24-hour clock, kept across reloads', async () => {
  const { tag, annName, bob, withBob } = await people();
  await bob.send(withBob.id, 'clock check');
  const a = await openPage(env.browser, env.server, { locale: 'en-US', timezoneId: 'America/New_York' });
  await signInUI(a.page, annName);
  await openConversation(a.page, `Bob ${tag}`);
  const time = async () => (await messageByText(a.page, 'clock check').locator('.message-meta time').textContent()).trim().replace(/\u202f/g, ' ');
  assert.match(await time(), /^([1-9]|1[0-2]):[0-5]\d\s?[AP]M$/, 'en-US starts on its own 12-hour clock');
  await a.page.getByRole('button', { name: 'Notification settings' }).click();
  const dialog = a.page.getByRole('dialog', { name: 'Notification settings' });
  await dialog.getByLabel('Clock').selectOption('24');
  await eventually(async () => /^([01]\d|2[0-3]):[0-5]\d$/.test(await time()), 'the open chat redrawn on 24 hours');
  const rowTime = (await conversationRow(a.page, `Bob ${tag}`).locator('.conv-time').textContent()).trim();
  assert.match(rowTime, /^([01]\d|2[0-3]):[0-5]\d$/, `the list too: ${rowTime}`);
  await a.page.keyboard.press('Escape');
  await a.page.reload();
  await openConversation(a.page, `Bob ${tag}`);
  assert.match(await time(), /^([01]\d|2[0-3]):[0-5]\d$/, 'kept after a reload');
  await a.page.getByRole('button', { name: 'Notification settings' }).click();
  await a.page.getByRole('dialog', { name: 'Notification settings' }).getByLabel('Clock').selectOption('auto');
  await eventually(async () => /[AP]M$/.test(await time()), 'back to the locale\'s clock');
  a.expectClean();
  await a.context.close();
});

test('the tab\'s icon carries the unread count', async () => {
  const { tag, annName, bob, withBob } = await people();
  const a = await openPage(env.browser, env.server);
  await signInUI(a.page, annName);
  const icon = a.page.locator('link[rel="icon"]');
  // Both chats start with one unread message each.
  await eventually(async () => (await icon.getAttribute('data-unread')) === '2', 'two unread on the icon');
  assert.match(await icon.getAttribute('href'), /^data:image\/svg\+xml,/);
  assert.match(decodeURIComponent(await icon.getAttribute('href')), />2<\/text>/, 'the number drawn');
  assert.equal(await a.page.title(), '(2) Parley');
  await bob.send(withBob.id, 'another one');
  await eventually(async () => (await icon.getAttribute('data-unread')) === '3', 'three after a new message');
  await openConversation(a.page, `Bob ${tag}`);
  await eventually(async () => (await icon.getAttribute('data-unread')) === '1', 'Bob\'s read: one left');
  await openConversation(a.page, `Cy ${tag}`);
  await eventually(async () => (await icon.getAttribute('data-unread')) === '0', 'all read');
  assert.equal(await icon.getAttribute('href'), '/favicon.svg', 'the plain icon');
  a.expectClean();
  await a.context.close();
});

test('Copy puts a message\'s text on the clipboard', async () => {
  const { tag, annName, bob, withBob } = await people();
  await bob.send(withBob.id, 'copy me: 42 ✓');
  const a = await openPage(env.browser, env.server);
  await a.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: env.server.url });
  await signInUI(a.page, annName);
  await openConversation(a.page, `Bob ${tag}`);
  const m = messageByText(a.page, 'copy me: 42 ✓');
  await m.hover();
  await m.getByRole('button', { name: 'Message actions' }).click();
  await a.page.getByRole('menuitem', { name: 'Copy' }).click();
  await eventually(async () => (await a.page.evaluate(() => navigator.clipboard.readText())) === 'copy me: 42 ✓', 'on the clipboard');
  await a.page.getByText('Message copied').waitFor();
  await sendText(a.page, 'done');
  a.expectClean();
  await a.context.close();
});
