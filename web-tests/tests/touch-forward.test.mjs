// Message actions by long press on a phone (no arrow beside every bubble),
// and Forward to other chats (issue 17).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signInUI, uniqueName, screenshot, eventually, sleep, Api } from '../lib/harness.mjs';
import { openConversation, messageByText, messages, conversationRow, longPress } from '../lib/ui.mjs';
import { pngBytes } from '../lib/media.mjs';

const env = serverAndBrowser();

async function people() {
  const tag = uniqueName('t');
  const annName = uniqueName('ann');
  const ann = await Api.register(env.server.url, annName, 'Ann');
  const bob = await Api.register(env.server.url, uniqueName('bob'), `Bob ${tag}`);
  const cy = await Api.register(env.server.url, uniqueName('cy'), `Cy ${tag}`);
  const di = await Api.register(env.server.url, uniqueName('di'), `Di ${tag}`);
  const withBob = await bob.call('POST', '/conversations', { kind: 'direct', user_id: ann.user.id });
  const withCy = await cy.call('POST', '/conversations', { kind: 'direct', user_id: ann.user.id });
  const withDi = await di.call('POST', '/conversations', { kind: 'direct', user_id: ann.user.id });
  await bob.send(withBob.id, 'press and hold me');
  await cy.send(withCy.id, 'hi from Cy');
  await di.send(withDi.id, 'hi from Di');
  return { tag, annName, ann, bob, cy, di, withBob, withCy, withDi };
}


test('on a phone a long press opens the message actions; a tap does not', async () => {
  const { tag, annName } = await people();
  const a = await openPage(env.browser, env.server, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await signInUI(a.page, annName);
  await conversationRow(a.page, `Bob ${tag}`).getByRole('button').first().tap();
  const m = messageByText(a.page, 'press and hold me');
  await m.waitFor();
  const button = m.getByRole('button', { name: 'Message actions' });
  assert.equal(Number(await button.evaluate((el) => getComputedStyle(el).opacity)), 0, 'no arrow beside the bubble on a touch screen');
  const bubble = m.locator('.bubble');
  await longPress(a.page, bubble, 100);
  await sleep(600);
  assert.equal(await a.page.getByRole('menu').count(), 0, 'a short touch opens nothing');
  await longPress(a.page, bubble, 700);
  const menu = a.page.getByRole('menu', { name: 'Message actions' });
  await menu.waitFor();
  for (const name of ['Reply', 'Copy', 'Forward', 'Star', 'Delete for me']) {
    assert.equal(await menu.getByRole('menuitem', { name, exact: true }).count(), 1, name);
  }
  await screenshot(a.page, 'long-press-menu-phone');
  await menu.getByRole('menuitem', { name: 'Star', exact: true }).tap();
  await eventually(async () => (await m.locator('.starred-icon').count()) === 1, 'starred by touch');
  a.expectClean();
  await a.context.close();
});

test('Forward sends the text to the chats chosen, through the outbox', async () => {
  const { tag, annName, cy, di, withCy, withDi } = await people();
  const a = await openPage(env.browser, env.server);
  await signInUI(a.page, annName);
  await openConversation(a.page, `Bob ${tag}`);
  const m = messageByText(a.page, 'press and hold me');
  await m.hover();
  await m.getByRole('button', { name: 'Message actions' }).click();
  await a.page.getByRole('menuitem', { name: 'Forward' }).click();
  const dialog = a.page.getByRole('dialog', { name: 'Forward message' });
  await dialog.waitFor();
  assert.equal(await dialog.getByRole('checkbox', { name: `Bob ${tag}` }).count(), 0, 'not to the chat it is in');
  await dialog.getByLabel('Forward to').fill('Cy');
  await dialog.getByRole('checkbox', { name: `Cy ${tag}` }).check();
  await dialog.getByLabel('Forward to').fill('');
  await dialog.getByRole('checkbox', { name: `Di ${tag}` }).check();
  await screenshot(a.page, 'forward-dialog');
  await dialog.getByRole('button', { name: 'Forward' }).click();
  await dialog.waitFor({ state: 'detached' });
  for (const [who, conv] of [[cy, withCy], [di, withDi]]) {
    await eventually(async () => (await who.call('GET', `/conversations/${conv.id}/messages?limit=5`)).messages.some((x) => x.text === 'press and hold me'), 'forwarded');
  }
  assert.match(await a.page.locator('.toast').textContent(), /forwarded to 2 chats/);
  a.expectClean();
  await a.context.close();
});

test('Forward takes a photo along: uploaded again as mine when it is someone else\'s', async () => {
  const { tag, annName, ann, bob, cy, di, withBob, withCy, withDi } = await people();
  const photo = pngBytes(64, 32, [200, 40, 90]);
  const up = await bob.upload('sunset.png', photo);
  assert.equal(up.status, 201);
  await bob.sendMedia(withBob.id, [up.body.id], 'look at this');
  const a = await openPage(env.browser, env.server);
  await signInUI(a.page, annName);
  await openConversation(a.page, `Bob ${tag}`);
  const m = messageByText(a.page, 'look at this');
  await m.hover();
  await m.getByRole('button', { name: 'Message actions' }).click();
  await a.page.getByRole('menuitem', { name: 'Forward' }).click();
  const dialog = a.page.getByRole('dialog', { name: 'Forward message' });
  await dialog.waitFor();
  assert.match(await dialog.locator('.forward-preview').textContent(), /sunset\.png/);
  await dialog.getByRole('checkbox', { name: `Cy ${tag}` }).check();
  await dialog.getByRole('button', { name: 'Forward' }).click();
  await dialog.waitFor({ state: 'detached' });
  let got;
  await eventually(async () => {
    got = (await cy.call('GET', `/conversations/${withCy.id}/messages?limit=5`)).messages.find((x) => x.text === 'look at this');
    return Boolean(got);
  }, 'forwarded with its photo');
  assert.equal(got.sender_id, ann.user.id);
  assert.equal(got.kind, 'media');
  assert.equal(got.attachments.length, 1);
  assert.notEqual(got.attachments[0].id, up.body.id, 'a copy uploaded by the forwarder, not Bob\'s upload');
  assert.equal(got.attachments[0].name, 'sunset.png');
  const bytes = await fetch(`${cy.base}/media/${got.attachments[0].id}`, { headers: { authorization: `Bearer ${cy.token}` } });
  assert.equal(bytes.status, 200, 'Cy may read the forwarded photo');
  assert.equal((await bytes.arrayBuffer()).byteLength, got.attachments[0].size);

  // My own photo is attached again as it is (no second upload).
  const mine = await ann.upload('mine.png', pngBytes(16, 16));
  await ann.sendMedia(withBob.id, [mine.body.id]);
  const tile = a.page.getByRole('button', { name: 'Open mine.png' });
  await tile.waitFor();
  const own = messages(a.page).filter({ has: tile });
  await own.hover();
  await own.getByRole('button', { name: 'Message actions' }).click();
  await a.page.getByRole('menuitem', { name: 'Forward' }).click();
  await dialog.waitFor();
  await dialog.getByRole('checkbox', { name: `Di ${tag}` }).check();
  await dialog.getByRole('button', { name: 'Forward' }).click();
  await dialog.waitFor({ state: 'detached' });
  await eventually(async () => {
    got = (await di.call('GET', `/conversations/${withDi.id}/messages?limit=5`)).messages.find((x) => x.kind === 'media');
    return Boolean(got);
  }, 'my photo forwarded');
  assert.deepEqual(got.attachments.map((x) => x.id), [mine.body.id]);
  assert.equal(got.text, null);
  a.expectClean();
  await a.context.close();
});
