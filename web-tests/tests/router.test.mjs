// The router: a conversation has its own URL (#/c/<id>); a reload reopens
// it; the browser's back and forward move between it and the list.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signInUI, uniqueName, Api } from '../lib/harness.mjs';
import { conversationList, conversationView, openConversation, messageByText } from '../lib/ui.mjs';

const env = serverAndBrowser();

const hashOf = (page) => new URL(page.url()).hash;

test('a conversation has a URL: reload reopens it, back returns to the list', async () => {
  const annName = uniqueName('ann');
  const ann = await Api.register(env.server.url, annName, 'Ann');
  const bob = await Api.register(env.server.url, uniqueName('bob'), 'Bob Router');
  const conv = await bob.call('POST', '/conversations', { kind: 'direct', user_id: ann.user.id });
  await bob.send(conv.id, 'find me by URL');
  const a = await openPage(env.browser, env.server);
  await signInUI(a.page, annName);
  assert.ok(['', '#/'].includes(hashOf(a.page)), `the list at first (${hashOf(a.page)})`);
  assert.equal(await conversationView(a.page).count(), 0);

  await openConversation(a.page, 'Bob Router');
  assert.equal(hashOf(a.page), `#/c/${conv.id}`, 'opening a chat changes the URL');

  await a.page.reload();
  await conversationView(a.page).locator('.conv-header-title', { hasText: 'Bob Router' }).waitFor();
  await messageByText(a.page, 'find me by URL').waitFor();
  assert.equal(hashOf(a.page), `#/c/${conv.id}`);

  await a.page.goBack();
  await conversationView(a.page).waitFor({ state: 'detached' });
  assert.ok(['', '#/'].includes(hashOf(a.page)), `back to the list (${hashOf(a.page)})`);
  await a.page.locator('.empty-pane').waitFor();
  await conversationList(a.page).waitFor();

  await a.page.goForward();
  await conversationView(a.page).locator('.conv-header-title', { hasText: 'Bob Router' }).waitFor();
  assert.equal(hashOf(a.page), `#/c/${conv.id}`);

  a.expectClean();
  await a.context.close();

  // On a phone the view's Back button goes to the list's route; the
  // browser's back then returns to the chat.
  const p = await openPage(env.browser, env.server, { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  await signInUI(p.page, annName);
  await openConversation(p.page, 'Bob Router');
  await p.page.getByRole('button', { name: 'Back' }).click();
  await conversationView(p.page).waitFor({ state: 'detached' });
  assert.equal(hashOf(p.page), '#/');
  assert.ok(await conversationList(p.page).isVisible(), 'the list shows again');
  await p.page.goBack();
  await conversationView(p.page).locator('.conv-header-title', { hasText: 'Bob Router' }).waitFor();
  assert.equal(await conversationList(p.page).isVisible(), false, 'the chat, not the list');
  p.expectClean();
  await p.context.close();
});

test('a URL of a conversation one is not in falls back to the list', async () => {
  const annName = uniqueName('ann');
  await Api.register(env.server.url, annName, 'Ann');
  const a = await openPage(env.browser, env.server);
  await signInUI(a.page, annName);
  await a.page.evaluate(() => { location.hash = '#/c/00000000-0000-0000-0000-000000000000'; });
  await a.page.waitForFunction(() => location.hash === '#/');
  assert.equal(await conversationView(a.page).count(), 0);
  await a.page.locator('.empty-pane').waitFor();
  a.expectClean();
  await a.context.close();
});
