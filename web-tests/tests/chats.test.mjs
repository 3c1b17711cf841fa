// Pinned and archived chats (issue 17): per user, kept by the server and
// synced to the user's other devices; pinned chats on top in pin order;
// archived ones in the "Archived" list until a new message brings them
// back (unless muted); the row menu on a phone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signInUI, uniqueName, screenshot, eventually, Api } from '../lib/harness.mjs';
import { conversationList, conversationRow, longPress } from '../lib/ui.mjs';

const env = serverAndBrowser();

/** Ann with direct chats with Bob, Cy and Di (Di's the most recent). */
async function people() {
  const tag = uniqueName('c');
  const annName = uniqueName('ann');
  const ann = await Api.register(env.server.url, annName, 'Ann');
  const others = {};
  for (const who of ['Bob', 'Cy', 'Di']) {
    const u = await Api.register(env.server.url, uniqueName(who.toLowerCase()), `${who} ${tag}`);
    const conv = await u.call('POST', '/conversations', { kind: 'direct', user_id: ann.user.id });
    await u.send(conv.id, `hello from ${who}`);
    others[who] = { api: u, conv };
  }
  return { tag, annName, ann, others };
}

/** The titles in the list, top to bottom. */
async function titles(page) {
  return conversationList(page).locator('li.conv-item .conv-title').allTextContents();
}

async function rowAction(page, title, item) {
  await conversationRow(page, title).getByRole('button', { name: 'Chat actions' }).click();
  await page.getByRole('menuitem', { name: item }).click();
}

test('pinned chats stay on top in pin order, on both devices', async () => {
  const { tag, annName, ann, others } = await people();
  const one = await openPage(env.browser, env.server);
  await signInUI(one.page, annName);
  const two = await openPage(env.browser, env.server);
  await signInUI(two.page, annName);
  await eventually(async () => (await titles(one.page))[0] === `Di ${tag}`, 'the newest chat first');

  await rowAction(one.page, `Bob ${tag}`, 'Pin chat');
  await eventually(async () => (await titles(one.page))[0] === `Bob ${tag}`, 'pinned on top');
  await rowAction(one.page, `Cy ${tag}`, 'Pin chat');
  const expected = [`Bob ${tag}`, `Cy ${tag}`, `Di ${tag}`];
  await eventually(async () => JSON.stringify(await titles(one.page)) === JSON.stringify(expected), 'pin order, then the rest');
  assert.equal(await conversationRow(one.page, `Bob ${tag}`).locator('.pinned-icon').count(), 1, 'the pin shows');
  // The other device hears it at once, without reloading.
  await eventually(async () => JSON.stringify(await titles(two.page)) === JSON.stringify(expected), 'the same order on the other device');
  await screenshot(two.page, 'pinned-on-second-device');

  // A new message in an unpinned chat does not jump over the pins.
  await others.Di.api.send(others.Di.conv.id, 'me again');
  await eventually(async () => /me again/.test(await conversationRow(one.page, `Di ${tag}`).locator('.conv-preview').textContent()), 'the new message shows');
  assert.deepEqual(await titles(one.page), expected, 'pins stay on top');

  // Unpinning on the second device moves the chat back by its activity.
  await rowAction(two.page, `Bob ${tag}`, 'Unpin chat');
  await eventually(async () => (await titles(one.page))[0] === `Cy ${tag}` && (await conversationRow(one.page, `Bob ${tag}`).locator('.pinned-icon').count()) === 0, 'unpinned everywhere');

  // The limit: a fourth pin is refused with the server's reason.
  await rowAction(one.page, `Bob ${tag}`, 'Pin chat');
  await rowAction(one.page, `Di ${tag}`, 'Pin chat');
  const extra = await Api.register(env.server.url, uniqueName('eve'), `Eve ${tag}`);
  await extra.call('POST', '/conversations', { kind: 'direct', user_id: ann.user.id });
  await eventually(async () => (await conversationRow(one.page, `Eve ${tag}`).count()) === 1, 'a fourth chat');
  await rowAction(one.page, `Eve ${tag}`, 'Pin chat');
  await eventually(async () => /at most 3 chats can be pinned/.test((await one.page.locator('.toast').textContent()) || ''), 'the limit explained');
  assert.equal(await conversationRow(one.page, `Eve ${tag}`).locator('.pinned-icon').count(), 0);

  // After a reload the pins come from the server.
  await two.page.reload();
  await eventually(async () => (await titles(two.page)).slice(0, 3).join('|') === [`Cy ${tag}`, `Bob ${tag}`, `Di ${tag}`].join('|'), 'the pins after a reload', 15000);
  one.expectClean();
  two.expectClean();
  await one.context.close();
  await two.context.close();
});

test('archived chats move to the Archived list and come back on a new message unless muted', async () => {
  const { tag, annName, ann, others } = await people();
  const one = await openPage(env.browser, env.server);
  await signInUI(one.page, annName);
  const two = await openPage(env.browser, env.server);
  await signInUI(two.page, annName);
  await eventually(async () => (await titles(one.page)).length === 3, 'three chats');

  await rowAction(one.page, `Bob ${tag}`, 'Archive chat');
  await rowAction(one.page, `Cy ${tag}`, 'Archive chat');
  await eventually(async () => JSON.stringify(await titles(one.page)) === JSON.stringify([`Di ${tag}`]), 'archived chats leave the list');
  const entry = one.page.getByRole('button', { name: 'Archived' });
  assert.equal((await one.page.locator('.archived-count').textContent()).trim(), '2');
  await eventually(async () => JSON.stringify(await titles(two.page)) === JSON.stringify([`Di ${tag}`]), 'and on the other device');

  await entry.click();
  await eventually(async () => (await titles(one.page)).sort().join('|') === [`Bob ${tag}`, `Cy ${tag}`].join('|'), 'the Archived list');
  await screenshot(one.page, 'archived-list');
  await one.page.getByRole('button', { name: 'Back to chats' }).click();

  // Cy's chat is muted: it stays archived when Cy writes.
  await ann.call('PUT', `/conversations/${others.Cy.conv.id}/mute`, { until: '2999-01-01T00:00:00Z' });
  await two.page.reload(); // the mute is read with the conversations
  await eventually(async () => JSON.stringify(await titles(two.page)) === JSON.stringify([`Di ${tag}`]), 'still archived after a reload', 15000);
  await others.Bob.api.send(others.Bob.conv.id, 'back from the archive?');
  await others.Cy.api.send(others.Cy.conv.id, 'muted, so stay there');
  for (const page of [one.page, two.page]) {
    await eventually(async () => (await titles(page)).includes(`Bob ${tag}`), 'a new message brings Bob back');
  }
  await one.page.reload();
  await eventually(async () => (await titles(one.page)).includes(`Bob ${tag}`), 'Bob back after a reload too', 15000);
  assert.ok(!(await titles(one.page)).includes(`Cy ${tag}`), 'the muted chat stays archived');
  assert.equal((await one.page.locator('.archived-count').textContent()).trim(), '1');

  // Unarchive from the Archived list; the entry goes once it is empty.
  await one.page.getByRole('button', { name: 'Archived' }).click();
  await rowAction(one.page, `Cy ${tag}`, 'Unarchive chat');
  await eventually(async () => (await titles(one.page)).includes(`Cy ${tag}`) && (await one.page.getByRole('button', { name: 'Archived' }).count()) === 0, 'no Archived entry when nothing is archived');
  one.expectClean();
  two.expectClean();
  await one.context.close();
  await two.context.close();
});

test('on a phone a long press on a chat opens its menu; a tap opens the chat', async () => {
  const { tag, annName } = await people();
  const a = await openPage(env.browser, env.server, { viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });
  await signInUI(a.page, annName);
  const row = conversationRow(a.page, `Bob ${tag}`);
  const button = row.getByRole('button', { name: 'Chat actions' });
  await row.waitFor();
  assert.equal(Number(await button.evaluate((el) => getComputedStyle(el).opacity)), 0, 'no chevron over the badges on a touch screen');
  await longPress(a.page, row.locator('.conv-row'), 700);
  await a.page.getByRole('menu', { name: 'Chat actions' }).waitFor();
  assert.ok(await row.isVisible(), 'the long press did not open the chat');
  await a.page.getByRole('menuitem', { name: 'Pin chat' }).tap();
  await eventually(async () => (await row.locator('.pinned-icon').count()) === 1, 'pinned by touch');
  await screenshot(a.page, 'pinned-phone');
  await row.locator('.conv-row').tap();
  await a.page.getByRole('region', { name: 'Conversation' }).locator('.conv-header-title', { hasText: `Bob ${tag}` }).waitFor();
  a.expectClean();
  await a.context.close();
});
