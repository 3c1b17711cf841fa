// Offline: messages written while offline show as sending, are kept in the
// outbox (also across a reload), and once back online each arrives exactly
// once, in order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signInUI, uniqueName, screenshot, eventually, sleep, Api } from '../lib/harness.mjs';
import { banner, openConversation, sendText, tickStatus, messageTexts } from '../lib/ui.mjs';

const env = serverAndBrowser();

/** Alice (in a browser) and Bob (over REST) in a direct chat. */
async function pair() {
  const aliceName = uniqueName('alice');
  const alice = await Api.register(env.server.url, aliceName, 'Alice');
  const bob = await Api.register(env.server.url, uniqueName('bob'), 'Bob');
  const conv = await bob.call('POST', '/conversations', { kind: 'direct', user_id: alice.user.id });
  await bob.send(conv.id, 'ready when you are');
  const a = await openPage(env.browser, env.server);
  await signInUI(a.page, aliceName);
  await openConversation(a.page, 'Bob');
  return { a, bob, conv };
}

/** Bob's view of the conversation: the texts of every message, in seq order. */
async function textsSeenByBob(bob, conv) {
  const page = await bob.call('GET', `/conversations/${conv.id}/messages?limit=100`);
  return page.messages.map((m) => m.text);
}

test('three messages sent offline arrive once each, in order', async () => {
  const { a, bob, conv } = await pair();
  await a.context.setOffline(true);
  await eventually(async () => /offline|connecting/i.test((await banner(a.page).textContent()) ?? '') && (await banner(a.page).isVisible()), 'connection banner');
  for (const t of ['one', 'two', 'three']) await sendText(a.page, t);
  for (const t of ['one', 'two', 'three']) assert.equal(await tickStatus(a.page, t), 'sending', `${t} waits as sending`);
  await screenshot(a.page, 'offline-outbox');
  await sleep(1000);
  assert.deepEqual(await textsSeenByBob(bob, conv), ['ready when you are'], 'nothing reached the server while offline');

  await a.context.setOffline(false);
  for (const t of ['one', 'two', 'three']) {
    await eventually(async () => ['sent', 'delivered', 'read'].includes(await tickStatus(a.page, t)), `${t} acknowledged`, 20000);
  }
  await eventually(async () => await banner(a.page).isHidden(), 'banner hidden once connected');
  assert.deepEqual(await textsSeenByBob(bob, conv), ['ready when you are', 'one', 'two', 'three']);
  assert.deepEqual(await messageTexts(a.page), ['ready when you are', 'one', 'two', 'three'], 'shown once each');
  a.expectClean();
  await a.context.close();
});

test('the outbox survives a reload while offline', async () => {
  const { a, bob, conv } = await pair();
  await a.context.setOffline(true);
  for (const t of ['four', 'five', 'six']) await sendText(a.page, t);
  for (const t of ['four', 'five', 'six']) assert.equal(await tickStatus(a.page, t), 'sending');
  // The reload fails while offline (no page at all), as it would for a user.
  await a.page.reload().catch(() => {});
  await sleep(500);
  await a.context.setOffline(false);
  await a.page.goto(env.server.url + '/');
  await openConversation(a.page, 'Bob');
  for (const t of ['four', 'five', 'six']) {
    await eventually(async () => ['sent', 'delivered', 'read'].includes(await tickStatus(a.page, t)), `${t} acknowledged after the reload`, 20000);
  }
  // Give a duplicate resend time to show up if there were one.
  await sleep(1000);
  assert.deepEqual(await textsSeenByBob(bob, conv), ['ready when you are', 'four', 'five', 'six']);
  assert.deepEqual(await messageTexts(a.page), ['ready when you are', 'four', 'five', 'six']);
  a.expectClean();
  await a.context.close();
});
