// Where the outbox lives: in IndexedDB (one record per unsent message,
// keyed by client_id), not in localStorage; an outbox left in localStorage
// by the previous client is moved over on first start and each of its
// messages delivered exactly once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { serverAndBrowser, openPage, signInUI, uniqueName, eventually, sleep, Api } from '../lib/harness.mjs';
import { openConversation, sendText, tickStatus, messageTexts, messageByText, outboxRecords, localStorageKeys } from '../lib/ui.mjs';

const env = serverAndBrowser();
const acked = (s) => ['sent', 'delivered', 'read'].includes(s);

async function pair() {
  const aliceName = uniqueName('alice');
  const alice = await Api.register(env.server.url, aliceName, 'Alice');
  const bob = await Api.register(env.server.url, uniqueName('bob'), 'Bob');
  const conv = await bob.call('POST', '/conversations', { kind: 'direct', user_id: alice.user.id });
  await bob.send(conv.id, 'ready when you are');
  return { aliceName, alice, bob, conv };
}

async function textsSeenByBob(bob, conv) {
  return (await bob.call('GET', `/conversations/${conv.id}/messages?limit=100`)).messages.map((m) => m.text);
}

test('unsent messages are records in IndexedDB, not in localStorage', async () => {
  const { aliceName, alice, bob, conv } = await pair();
  const a = await openPage(env.browser, env.server);
  await signInUI(a.page, aliceName);
  await openConversation(a.page, 'Bob');
  await a.context.setOffline(true);
  for (const t of ['kept one', 'kept two']) await sendText(a.page, t);
  await eventually(async () => (await outboxRecords(a.page)).length === 2, 'two records stored');
  const records = (await outboxRecords(a.page)).sort((x, y) => x.queued_at - y.queued_at);
  assert.deepEqual(records.map((r) => [r.text, r.user_id, r.conversation_id, r.state]),
    [['kept one', alice.user.id, conv.id, 'pending'], ['kept two', alice.user.id, conv.id, 'pending']]);
  assert.deepEqual(records[0].attachments, [], 'room for attachments');
  assert.equal(new Set(records.map((r) => r.client_id)).size, 2);
  assert.deepEqual((await localStorageKeys(a.page)).filter((k) => k.startsWith('parley.outbox')), [], 'nothing in localStorage');

  await a.context.setOffline(false);
  for (const t of ['kept one', 'kept two']) await eventually(async () => acked(await tickStatus(a.page, t)), `${t} acknowledged`, 20000);
  await eventually(async () => (await outboxRecords(a.page)).length === 0, 'records removed once acknowledged');
  assert.deepEqual(await textsSeenByBob(bob, conv), ['ready when you are', 'kept one', 'kept two']);
  a.expectClean();
  await a.context.close();
});

test('an outbox left in localStorage by the old client is migrated and delivered exactly once', async () => {
  const { aliceName, alice, bob, conv } = await pair();
  // The old client had sent this one, but the ack never came back: the
  // server has it under the same client_id.
  const alreadySent = randomUUID();
  await alice.call('POST', `/conversations/${conv.id}/messages`, { client_id: alreadySent, text: 'old, already on the server' });
  const t0 = Date.now() - 60000;
  const legacy = [
    { client_id: alreadySent, conversation_id: conv.id, text: 'old, already on the server', reply_to: null, created_at: new Date(t0).toISOString(), state: 'pending', error: null },
    { client_id: randomUUID(), conversation_id: conv.id, text: 'old, never sent', reply_to: null, created_at: new Date(t0 + 1000).toISOString(), state: 'pending', error: null },
    { client_id: randomUUID(), conversation_id: conv.id, text: 'old, failed', reply_to: null, created_at: new Date(t0 + 2000).toISOString(), state: 'failed', error: 'refused' },
  ];
  const key = `parley.outbox.${alice.user.id}`;
  const a = await openPage(env.browser, env.server);
  await a.page.evaluate(([k, v]) => localStorage.setItem(k, v), [key, JSON.stringify(legacy)]);
  await signInUI(a.page, aliceName);
  await openConversation(a.page, 'Bob');

  await eventually(async () => acked(await tickStatus(a.page, 'old, never sent')), 'the pending one is sent', 20000);
  assert.ok(!(await localStorageKeys(a.page)).includes(key), 'the localStorage outbox is gone');
  const failed = messageByText(a.page, 'old, failed');
  await failed.getByRole('button', { name: 'Retry' }).waitFor();
  const stored = await outboxRecords(a.page);
  assert.deepEqual(stored.map((r) => [r.text, r.state, r.user_id]), [['old, failed', 'failed', alice.user.id]], 'the failed one waits in IndexedDB');

  // A reload finds it in IndexedDB (localStorage no longer has it).
  await a.page.reload();
  await openConversation(a.page, 'Bob');
  await messageByText(a.page, 'old, failed').getByRole('button', { name: 'Retry' }).click();
  await eventually(async () => acked(await tickStatus(a.page, 'old, failed')), 'the failed one sent after Retry', 20000);
  await sleep(1000); // time for a duplicate to show up if there were one
  const expected = ['ready when you are', 'old, already on the server', 'old, never sent', 'old, failed'];
  assert.deepEqual(await textsSeenByBob(bob, conv), expected, 'each stored once, in order');
  assert.deepEqual(await messageTexts(a.page), expected, 'each shown once');
  assert.deepEqual(await outboxRecords(a.page), []);
  a.expectClean();
  await a.context.close();
});

test('signing out clears the outbox', async () => {
  const { aliceName } = await pair();
  const a = await openPage(env.browser, env.server);
  await signInUI(a.page, aliceName);
  await openConversation(a.page, 'Bob');
  await a.context.setOffline(true);
  await sendText(a.page, 'never to be sent');
  await eventually(async () => (await outboxRecords(a.page)).length === 1, 'stored');
  await a.page.getByRole('button', { name: 'Sign out' }).click();
  await a.page.getByRole('form', { name: 'Sign in' }).waitFor();
  await eventually(async () => (await outboxRecords(a.page)).length === 0, 'the outbox is cleared');
  await a.context.setOffline(false);
  a.expectClean();
  await a.context.close();
});
