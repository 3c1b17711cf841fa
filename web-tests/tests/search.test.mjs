// Message search in the web client (protocol.md §13): the "Search
// messages" dialog finds a message across chats with the server's
// highlighted snippet (rebuilt as text and <mark>, never as HTML), scopes
// to the open chat, and a hit opens its chat at the message, loading older
// history until it is there.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signInUI, uniqueName, eventually, Api } from '../lib/harness.mjs';

const env = serverAndBrowser();

test('search finds a message, highlights it safely and opens it in its chat', async () => {
  const name = uniqueName('srch');
  const me = await Api.register(env.server.url, name, 'Sam Searcher');
  const peer = await Api.register(env.server.url, uniqueName('peer'), 'Pat Peer');
  const other = await Api.register(env.server.url, uniqueName('othr'), 'Oli Other');
  const direct = await peer.call('POST', '/conversations', { kind: 'direct', user_id: me.user.id });
  const second = await other.call('POST', '/conversations', { kind: 'direct', user_id: me.user.id });
  const target = await peer.call('POST', `/conversations/${direct.id}/messages`,
    { client_id: 'target', text: 'the zeppelin <img src=x onerror=alert(1)> lands at noon' });
  // Enough newer messages that the target is not on the first page.
  for (let i = 0; i < 120; i += 1) {
    await peer.call('POST', `/conversations/${direct.id}/messages`, { client_id: `f${i}`, text: `filler ${i}` });
  }
  await other.call('POST', `/conversations/${second.id}/messages`, { client_id: 'o1', text: 'another zeppelin here' });

  const b = await openPage(env.browser, env.server);
  await signInUI(b.page, name);
  await b.page.getByRole('button', { name: 'Search messages' }).click();
  const dialog = b.page.getByRole('dialog', { name: 'Search messages' });
  await dialog.getByLabel('Search messages').fill('zeppelin');
  const results = dialog.getByRole('region', { name: 'Results' });
  await eventually(async () => (await results.locator('.search-hit').count()) === 2, 'two hits');
  assert.equal(await results.getByRole('region', { name: 'Pat Peer' }).count(), 1, 'grouped by chat');
  assert.equal(await results.getByRole('region', { name: 'Oli Other' }).count(), 1);
  const hit = results.getByRole('region', { name: 'Pat Peer' }).locator('.search-hit-snippet');
  assert.equal(await hit.locator('mark').textContent(), 'zeppelin');
  assert.match(await hit.textContent(), /<img src=x onerror=alert\(1\)> lands at noon/, 'markup shown as text');
  assert.equal(await dialog.locator('img').count(), 0, 'no element made from the text');

  await results.getByRole('region', { name: 'Pat Peer' }).locator('.search-hit').click();
  const conv = b.page.getByRole('region', { name: 'Conversation' });
  const msg = conv.locator(`.message[data-message-id="${target.id}"]`);
  await eventually(async () => (await msg.count()) === 1 && (await msg.isVisible()), 'the hit opened in its chat, older pages loaded');

  // Scoped to the open chat.
  await b.page.getByRole('button', { name: 'Search messages' }).click();
  const scoped = b.page.getByRole('dialog', { name: 'Search messages' });
  await scoped.getByLabel('Only in Pat Peer').check();
  await scoped.getByLabel('Search messages').fill('zeppelin');
  const r2 = scoped.getByRole('region', { name: 'Results' });
  await eventually(async () => (await r2.locator('.search-hit').count()) === 1, 'one hit in this chat');
  await scoped.getByLabel('Only in Pat Peer').uncheck();
  await eventually(async () => (await r2.locator('.search-hit').count()) === 2, 'both again');
  await scoped.getByLabel('Search messages').fill('nothingmatchesthis');
  await eventually(async () => /No messages found/.test(await scoped.getByRole('status').first().textContent()), 'none');
  b.expectClean();
  await b.context.close();
});

test('Export chat downloads my view of the chat as JSON', async () => {
  const name = uniqueName('expo');
  const me = await Api.register(env.server.url, name, 'Eve Exporter');
  const peer = await Api.register(env.server.url, uniqueName('expp'), 'Pia Peer');
  const direct = await peer.call('POST', '/conversations', { kind: 'direct', user_id: me.user.id });
  await peer.call('POST', `/conversations/${direct.id}/messages`, { client_id: 'e1', text: 'keep this' });
  const b = await openPage(env.browser, env.server);
  await signInUI(b.page, name);
  await b.page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: /Pia Peer/ }).click();
  await b.page.getByRole('button', { name: 'Conversation info' }).click();
  const info = b.page.getByRole('dialog', { name: 'Conversation info' });
  const [download] = await Promise.all([
    b.page.waitForEvent('download'),
    info.getByRole('button', { name: 'Export chat' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), `parley-${direct.id}.json`);
  const path = await download.path();
  const { readFileSync } = await import('node:fs');
  const body = JSON.parse(readFileSync(path, 'utf8'));
  assert.equal(body.conversation.id, direct.id);
  assert.deepEqual(body.messages.map((m) => m.text), ['keep this']);
  b.expectClean();
  await b.context.close();
});
