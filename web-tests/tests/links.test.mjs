// Links: message bubbles link http(s) URLs; conversation info lists the
// links sent in the conversation, newest first, a page at a time; each
// opens in a new tab without a referrer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signInUI, uniqueName, eventually, Api } from '../lib/harness.mjs';
import { openConversation, messageByText } from '../lib/ui.mjs';

const env = serverAndBrowser();

test('conversation info lists links newest first and pages through them', async () => {
  const ana = { name: uniqueName('lana') };
  ana.api = await Api.register(env.server.url, ana.name, 'Ana Links');
  const ben = { name: uniqueName('lben') };
  ben.api = await Api.register(env.server.url, ben.name, 'Ben Links');
  const conv = await ana.api.call('POST', '/conversations', { kind: 'direct', user_id: ben.api.user.id });
  const many = Array.from({ length: 22 }, (_, i) => `https://many.example/${i}`).join(' ');
  await ana.api.send(conv.id, many);
  await ben.api.send(conv.id, 'the plan: https://docs.example/plan. (see https://maps.example/x)');

  const b = await openPage(env.browser, env.server);
  await signInUI(b.page, ben.name);
  await openConversation(b.page, 'Ana Links');
  const plan = messageByText(b.page, 'the plan: https://docs.example/plan. (see https://maps.example/x)');
  await plan.waitFor();
  const inBubble = await plan.locator('a.message-link').evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.getAttribute('rel')]));
  assert.deepEqual(inBubble.map(([href]) => href), ['https://docs.example/plan', 'https://maps.example/x'],
    'the bubble links what the Links list lists');
  assert.ok(inBubble.every(([, rel]) => /noopener/.test(rel) && /noreferrer/.test(rel)));
  await b.page.getByRole('button', { name: 'Conversation info' }).click();
  const info = b.page.getByRole('dialog', { name: 'Conversation info' });
  const list = info.getByRole('list', { name: 'Links' });
  await eventually(async () => (await list.getByRole('link').count()) === 20, 'the first page of links');
  const hrefs = await list.getByRole('link').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  assert.deepEqual(hrefs.slice(0, 3), ['https://docs.example/plan', 'https://maps.example/x', 'https://many.example/0'],
    'newest message first, its links in order, trailing punctuation dropped');
  const first = list.getByRole('link').first();
  assert.equal(await first.getAttribute('target'), '_blank');
  assert.match(await first.getAttribute('rel'), /noopener/);
  assert.match(await first.getAttribute('rel'), /noreferrer/);
  await info.getByRole('button', { name: 'More links' }).click();
  await eventually(async () => (await list.getByRole('link').count()) === 24, 'the second page');
  assert.equal(await info.getByRole('button', { name: 'More links' }).count(), 0, 'no more pages');
  b.expectClean();
  await b.context.close();
});

test('a conversation without links says so, and its bubbles link nothing', async () => {
  const cy = { name: uniqueName('lcy') };
  cy.api = await Api.register(env.server.url, cy.name, 'Cy NoLinks');
  const di = { name: uniqueName('ldi') };
  di.api = await Api.register(env.server.url, di.name, 'Di NoLinks');
  const conv = await cy.api.call('POST', '/conversations', { kind: 'direct', user_id: di.api.user.id });
  await cy.api.send(conv.id, 'nothing to click here: javascript:alert(1) ftp://x.example http://');
  const d = await openPage(env.browser, env.server);
  await signInUI(d.page, di.name);
  await openConversation(d.page, 'Cy NoLinks');
  await d.page.getByRole('button', { name: 'Conversation info' }).click();
  const info = d.page.getByRole('dialog', { name: 'Conversation info' });
  await info.getByText('No links yet.').waitFor();
  const bubble = messageByText(d.page, 'nothing to click here: javascript:alert(1) ftp://x.example http://');
  assert.equal(await bubble.locator('a').count(), 0, 'only http(s) URLs become links');
  d.expectClean();
  await d.context.close();
});
