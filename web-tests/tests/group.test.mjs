// A group of three: 200 messages of history load upward on scroll without
// the view jumping; markup in messages renders as text; message info and
// group info work.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signInUI, uniqueName, screenshot, eventually, sleep, Api } from '../lib/harness.mjs';
import { conversationView, messageLog, openConversation, sendText, messageByText, messages, tickStatus } from '../lib/ui.mjs';

const env = serverAndBrowser();

test('a group of three with 200 messages of history', async () => {
  const annName = uniqueName('ann');
  const ann = await Api.register(env.server.url, annName, 'Ann');
  const ben = await Api.register(env.server.url, uniqueName('ben'), 'Ben');
  const cat = await Api.register(env.server.url, uniqueName('cat'), 'Cat');
  const group = await ben.call('POST', '/conversations', { kind: 'group', title: 'Launch crew', member_ids: [ann.user.id, cat.user.id] });
  for (let i = 1; i <= 200; i++) await (i % 2 ? ben : cat).send(group.id, `history ${i}`);

  const a = await openPage(env.browser, env.server);
  await signInUI(a.page, annName);
  await openConversation(a.page, 'Launch crew');
  const log = messageLog(a.page);
  await messageByText(a.page, 'history 200').waitFor();
  assert.match(await conversationView(a.page).locator('.conv-header-status').textContent(), /3 members/);
  const firstShown = Number((await messages(a.page).first().locator('.message-text').textContent()).replace('history ', ''));
  assert.ok(firstShown > 1, 'the newest page first, not the whole history');

  // Scroll to the top repeatedly: each older page appears above while the
  // message that was at the top stays where it was on screen.
  let rounds = 0;
  while (!(await messageByText(a.page, 'history 1').count()) && rounds < 20) {
    const anchor = messages(a.page).first();
    const anchorText = await anchor.locator('.message-text').textContent();
    // Where the top message is on screen the moment the user reaches the top.
    const yBefore = await log.evaluate((el) => {
      el.scrollTop = 0;
      return el.querySelector('.message').getBoundingClientRect().top;
    });
    await eventually(async () => (await messages(a.page).first().locator('.message-text').textContent()) !== anchorText, 'an older page', 10000);
    await sleep(300);
    const box = await messageByText(a.page, anchorText).boundingBox();
    assert.ok(box && Math.abs(box.y - yBefore) < 40, `the view does not jump: ${anchorText} was at ${yBefore}px, now at ${box?.y}px`);
    rounds += 1;
  }
  const texts = await a.page.locator('.message .message-text').allTextContents();
  const expected = Array.from({ length: 200 }, (_, i) => `history ${i + 1}`);
  assert.deepEqual(texts, expected, 'all 200, once each, in order');
  assert.ok((await a.page.locator('.day-separator').count()) >= 1, 'a date separator');

  // Markup is text.
  const xss = ['<script>window.__xss = 1</script>', '<img src=x onerror="window.__xss = 2">', '<b>bold?</b> & &amp;'];
  for (const t of xss) await sendText(a.page, t);
  for (const t of xss) {
    await eventually(async () => ['sent', 'delivered', 'read'].includes(await tickStatus(a.page, t)), 'markup message sent');
    const el = messageByText(a.page, t).locator('.message-text');
    assert.equal(await el.textContent(), t);
    assert.equal(await el.locator('*').count(), 0, 'no elements made from message text');
  }
  assert.equal(await a.page.evaluate(() => window.__xss), undefined, 'no script ran');
  assert.equal(await a.page.locator('.messages img[src="x"]').count(), 0);
  const stored = await ben.call('GET', `/conversations/${group.id}/messages?limit=3`);
  assert.deepEqual(stored.messages.map((m) => m.text), xss, 'stored exactly as typed');

  // Ben reads: message info shows who read it.
  await ben.call('POST', `/conversations/${group.id}/read`, { seq: stored.messages[2].seq });
  const last = messageByText(a.page, xss[2]);
  await last.hover();
  await last.getByRole('button', { name: 'Message actions' }).click();
  await a.page.getByRole('menuitem', { name: 'Message info' }).click();
  const info = a.page.getByRole('dialog', { name: 'Message info' });
  await info.waitFor();
  await eventually(async () => /Ben/.test(await info.textContent()) && /Read/.test(await info.textContent()), 'Ben read it');
  assert.match(await info.textContent(), /Cat/);
  await screenshot(a.page, 'message-info');
  await a.page.keyboard.press('Escape');
  await info.waitFor({ state: 'hidden' });

  // Group info: members with roles; rename as an admin is refused for a
  // plain member, so Ann only sees the members.
  await a.page.getByRole('button', { name: 'Conversation info' }).click();
  const gi = a.page.getByRole('dialog', { name: 'Conversation info' });
  await gi.waitFor();
  assert.equal(await gi.locator('.member').count(), 3);
  await screenshot(a.page, 'group-info');
  await a.page.keyboard.press('Escape');

  a.expectClean();
  await a.context.close();
});

test('reply, edit, delete and react in the browser', async () => {
  const annName = uniqueName('ann');
  const ann = await Api.register(env.server.url, annName, 'Ann');
  const bob = await Api.register(env.server.url, uniqueName('bob'), 'Bob');
  const conv = await bob.call('POST', '/conversations', { kind: 'direct', user_id: ann.user.id });
  await bob.send(conv.id, 'what time is launch?');
  const a = await openPage(env.browser, env.server);
  await signInUI(a.page, annName);
  await openConversation(a.page, 'Bob');

  const question = messageByText(a.page, 'what time is launch?');
  await question.hover();
  await question.getByRole('button', { name: 'Message actions' }).click();
  await a.page.getByRole('menuitem', { name: 'Reply' }).click();
  await sendText(a.page, 'at noon');
  const reply = messageByText(a.page, 'at noon');
  await eventually(async () => (await tickStatus(a.page, 'at noon')) !== 'sending', 'reply sent');
  assert.match(await reply.locator('.reply-quote').textContent(), /what time is launch\?/);
  let stored = (await bob.call('GET', `/conversations/${conv.id}/messages`)).messages;
  assert.equal(stored[1].reply_to, stored[0].id, 'sent as a reply');

  await reply.hover();
  await reply.getByRole('button', { name: 'Message actions' }).click();
  await a.page.getByRole('menuitem', { name: 'Edit' }).click();
  const box = a.page.getByLabel('Type a message');
  await box.fill('at 1 pm');
  await box.press('Enter');
  await eventually(async () => (await messageByText(a.page, 'at 1 pm').locator('.edited').count()) === 1, 'edited label');
  stored = (await bob.call('GET', `/conversations/${conv.id}/messages`)).messages;
  assert.equal(stored[1].text, 'at 1 pm');

  // Bob reacts over REST; Ann sees it live, and reacts herself.
  await bob.call('PUT', `/messages/${stored[1].id}/reactions/${encodeURIComponent('👍')}`);
  const edited = messageByText(a.page, 'at 1 pm');
  await eventually(async () => /👍/.test((await edited.locator('.reactions').textContent()) ?? ''), 'live reaction');
  await question.hover();
  await question.getByRole('button', { name: 'Message actions' }).click();
  await a.page.getByRole('menuitem', { name: 'React', exact: true }).click();
  await a.page.getByRole('menuitem', { name: /❤/ }).or(a.page.getByRole('button', { name: /❤/ })).first().click();
  await eventually(async () => {
    const m = await bob.call('GET', `/messages/${stored[0].id}`);
    return m.reactions?.some((r) => r.emoji === '❤️');
  }, 'Ann\'s reaction stored');

  await edited.hover();
  await edited.getByRole('button', { name: 'Message actions' }).click();
  await a.page.getByRole('menuitem', { name: 'Delete for everyone' }).click();
  // A confirmation first: Cancel (focused) changes nothing.
  const confirmDialog = a.page.getByRole('dialog', { name: 'Delete for everyone?' });
  await confirmDialog.getByRole('button', { name: 'Cancel' }).click();
  await sleep(300);
  assert.equal(await a.page.locator('.message.deleted').count(), 0, 'cancelled: nothing deleted');
  await edited.hover();
  await edited.getByRole('button', { name: 'Message actions' }).click();
  await a.page.getByRole('menuitem', { name: 'Delete for everyone' }).click();
  await confirmDialog.getByRole('button', { name: 'Delete for everyone' }).click();
  await eventually(async () => (await a.page.locator('.message.deleted').count()) === 1, 'tombstone');
  assert.match(await a.page.locator('.message.deleted').textContent(), /This message was deleted/);
  stored = (await bob.call('GET', `/conversations/${conv.id}/messages`)).messages;
  assert.equal(stored[1].deleted, true);
  await screenshot(a.page, 'reply-edit-delete');
  a.expectClean();
  await a.context.close();
});
