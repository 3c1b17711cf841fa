// Accessibility (axe-core: no serious or critical violations on the main
// views, light and dark), keyboard use, and a phone-sized screen.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { serverAndBrowser, openPage, signInUI, uniqueName, screenshot, eventually, Api } from '../lib/harness.mjs';
import { conversationList, conversationRow, conversationView, composer, openConversation, sendText, messageByText, tickStatus } from '../lib/ui.mjs';
import { pngBytes, mp3Bytes } from '../lib/media.mjs';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const env = serverAndBrowser();

/** Runs axe in the page; fails on serious or critical violations. */
async function scan(page, view) {
  // Evaluated through the DevTools protocol, which the page's CSP does not
  // govern: the client's own policy stays in force for everything else.
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${view}: ${JSON.stringify(bad, null, 2)}`);
}

/** Ann with a direct chat with Bob and a group, with a few messages. */
async function people() {
  const annName = uniqueName('ann');
  const ann = await Api.register(env.server.url, annName, 'Ann Accessible');
  const bob = await Api.register(env.server.url, uniqueName('bob'), 'Bob Keyboard');
  const cy = await Api.register(env.server.url, uniqueName('cy'), 'Cy');
  const direct = await bob.call('POST', '/conversations', { kind: 'direct', user_id: ann.user.id });
  // Media bubbles: an image with a caption, a file card, a voice note.
  const uploads = [['chart.png', pngBytes(640, 360)], ['agenda.txt', Buffer.from('1. contrast\n2. focus\n')], ['voice.mp3', mp3Bytes(1)]];
  const media = [];
  for (const [name, bytes] of uploads) media.push((await bob.upload(name, bytes)).body.id);
  await bob.sendMedia(direct.id, [media[0]], 'The chart');
  await bob.sendMedia(direct.id, media.slice(1));
  await bob.send(direct.id, 'Is the screen reader happy?');
  const group = await bob.call('POST', '/conversations', { kind: 'group', title: 'A11y review', member_ids: [ann.user.id, cy.user.id] });
  await cy.send(group.id, 'Contrast checked.');
  return { annName, ann, bob, direct, group };
}

for (const colorScheme of ['light', 'dark']) {
  test(`axe finds no serious or critical violations (${colorScheme})`, async () => {
    const { annName } = await people();
    const a = await openPage(env.browser, env.server, { colorScheme });
    await scan(a.page, 'sign in');
    await screenshot(a.page, `sign-in-${colorScheme}`);
    await a.page.getByRole('button', { name: 'Create an account' }).click();
    await scan(a.page, 'sign up');
    await a.page.getByRole('button', { name: 'I have an account' }).click();
    await signInUI(a.page, annName);
    // A group's preview names its sender, even one the client never met.
    await eventually(async () => /^Cy: Contrast checked\./.test((await conversationRow(a.page, 'A11y review').locator('.conv-preview').textContent()).trim()), 'sender named in the preview');
    await scan(a.page, 'conversation list');
    await openConversation(a.page, 'Bob Keyboard');
    await sendText(a.page, 'Yes, it is.');
    await eventually(async () => (await tickStatus(a.page, 'Yes, it is.')) !== 'sending', 'sent');
    await scan(a.page, 'conversation');
    await screenshot(a.page, `conversation-${colorScheme}`);
    await a.page.getByRole('button', { name: 'Open chart.png' }).click();
    await a.page.getByRole('dialog', { name: 'Media viewer' }).waitFor();
    await scan(a.page, 'media viewer');
    await screenshot(a.page, `media-viewer-${colorScheme}`);
    await a.page.keyboard.press('Escape');
    const [chooser] = await Promise.all([a.page.waitForEvent('filechooser'), a.page.getByRole('button', { name: 'Attach files' }).click()]);
    await chooser.setFiles([{ name: 'photo.png', mimeType: 'image/png', buffer: pngBytes(100, 80) }]);
    await eventually(async () => (await a.page.locator('.attach-chip').getAttribute('data-state')) === 'ready', 'the chip ready');
    await scan(a.page, 'attachments tray');
    await screenshot(a.page, `attachments-tray-${colorScheme}`);
    await a.page.getByRole('button', { name: 'Remove photo.png' }).click();
    await a.page.getByRole('button', { name: 'New group' }).click();
    await a.page.getByRole('dialog', { name: 'New group' }).waitFor();
    await scan(a.page, 'new group dialog');
    await screenshot(a.page, `new-group-${colorScheme}`);
    await a.page.keyboard.press('Escape');
    await a.page.getByRole('button', { name: 'New chat' }).click();
    await a.page.getByRole('dialog', { name: 'New chat' }).waitFor();
    await scan(a.page, 'new chat dialog');
    await a.page.keyboard.press('Escape');
    await a.page.getByRole('button', { name: 'Search messages' }).click();
    const search = a.page.getByRole('dialog', { name: 'Search messages' });
    await search.getByLabel('Search messages').fill('contrast');
    await eventually(async () => (await search.locator('.search-hit mark').count()) > 0, 'a highlighted hit');
    await scan(a.page, 'message search dialog');
    // The first Escape in a filled search field clears it; the next closes.
    await search.getByLabel('Search messages').fill('');
    await a.page.keyboard.press('Escape');
    await search.waitFor({ state: 'detached' });
    await openConversation(a.page, 'A11y review');
    await composer(a.page).pressSequentially('@');
    await a.page.getByRole('listbox', { name: 'Mention a member' }).getByRole('option').first().waitFor();
    await scan(a.page, 'mention suggestions');
    await composer(a.page).press('Escape');
    await composer(a.page).fill('');
    await a.page.getByRole('button', { name: 'Conversation info' }).click();
    await a.page.getByRole('dialog', { name: 'Conversation info' }).waitFor();
    await scan(a.page, 'group info');
    await a.page.keyboard.press('Escape');
    const msg = messageByText(a.page, 'Contrast checked.');
    await msg.getByRole('button', { name: 'Message actions' }).focus();
    await a.page.keyboard.press('Enter');
    await a.page.getByRole('menu').waitFor();
    await scan(a.page, 'message menu');
    await a.page.getByRole('menuitem', { name: 'Star', exact: true }).click();
    await eventually(async () => (await msg.locator('.starred-icon').count()) === 1, 'starred');
    await a.page.getByRole('button', { name: 'Starred messages' }).click();
    const starred = a.page.getByRole('dialog', { name: 'Starred messages' });
    await eventually(async () => (await starred.locator('.search-hit').count()) === 1, 'the starred list');
    await scan(a.page, 'starred messages dialog');
    await a.page.keyboard.press('Escape');
    await starred.waitFor({ state: 'detached' });
    await msg.hover();
    await msg.getByRole('button', { name: 'Message actions' }).click();
    await a.page.getByRole('menuitem', { name: 'Delete for me' }).click();
    await a.page.locator('.toast').getByRole('button', { name: 'Undo' }).waitFor();
    await scan(a.page, 'delete for me with Undo');
    await a.page.locator('.toast').getByRole('button', { name: 'Undo' }).click();
    await msg.waitFor();
    await msg.hover();
    await msg.getByRole('button', { name: 'Message actions' }).click();
    await a.page.getByRole('menuitem', { name: 'React', exact: true }).click();
    await a.page.getByRole('menuitem', { name: '👍' }).click();
    await eventually(async () => (await msg.locator('.reaction').count()) === 1, 'reacted');
    await msg.hover();
    await msg.getByRole('button', { name: 'Message actions' }).click();
    await a.page.getByRole('menuitem', { name: 'Who reacted' }).click();
    await a.page.getByRole('dialog', { name: 'Reactions' }).getByRole('region').first().waitFor();
    await scan(a.page, 'who reacted dialog');
    await a.page.keyboard.press('Escape');
    await msg.hover();
    await msg.getByRole('button', { name: 'Message actions' }).click();
    await a.page.getByRole('menuitem', { name: 'Forward' }).click();
    await a.page.getByRole('dialog', { name: 'Forward message' }).getByRole('checkbox').first().waitFor();
    await scan(a.page, 'forward dialog');
    await a.page.keyboard.press('Escape');
    await a.page.getByRole('button', { name: 'Emoji' }).click();
    await a.page.getByRole('dialog', { name: 'Emoji' }).getByRole('region', { name: 'Smileys' }).waitFor();
    await scan(a.page, 'emoji picker');
    await a.page.keyboard.press('Escape');
    // The delete confirmation, and a chat row showing a draft.
    await openConversation(a.page, 'Bob Keyboard');
    const mine = messageByText(a.page, 'Yes, it is.');
    await mine.hover();
    await mine.getByRole('button', { name: 'Message actions' }).click();
    await a.page.getByRole('menuitem', { name: 'Delete for everyone' }).click();
    await a.page.getByRole('dialog', { name: 'Delete for everyone?' }).waitFor();
    await scan(a.page, 'delete confirmation');
    await screenshot(a.page, `delete-confirmation-${colorScheme}`);
    await a.page.getByRole('dialog', { name: 'Delete for everyone?' }).getByRole('button', { name: 'Cancel' }).click();
    await composer(a.page).fill('an unsent thought');
    await openConversation(a.page, 'A11y review');
    await eventually(async () => /Draft:/.test(await conversationRow(a.page, 'Bob Keyboard').textContent()), 'the draft in the row');
    await scan(a.page, 'conversation list with a draft');
    // A chat row's menu, a pinned row and the Archived list.
    const bobRow = conversationRow(a.page, 'Bob Keyboard');
    await bobRow.getByRole('button', { name: 'Chat actions' }).focus();
    await a.page.keyboard.press('Enter');
    await a.page.getByRole('menu', { name: 'Chat actions' }).waitFor();
    await scan(a.page, 'chat menu');
    await a.page.getByRole('menuitem', { name: 'Pin chat' }).click();
    await eventually(async () => (await bobRow.locator('.pinned-icon').count()) === 1, 'pinned');
    await scan(a.page, 'conversation list with a pinned chat');
    await bobRow.getByRole('button', { name: 'Chat actions' }).click();
    await a.page.getByRole('menuitem', { name: 'Archive chat' }).click();
    await a.page.getByRole('button', { name: 'Archived' }).click();
    await eventually(async () => (await bobRow.count()) === 1, 'the archived chat listed');
    await scan(a.page, 'archived list');
    await screenshot(a.page, `archived-${colorScheme}`);
    await bobRow.getByRole('button', { name: 'Chat actions' }).click();
    await a.page.getByRole('menuitem', { name: 'Unarchive chat' }).click();
    await eventually(async () => (await a.page.getByRole('button', { name: 'Back to chats' }).count()) === 0, 'back to the chats once nothing is archived');
    a.expectClean();
    await a.context.close();
  });
}

test('keyboard only: open a chat and send', async () => {
  const { annName, bob, direct } = await people();
  const a = await openPage(env.browser, env.server);
  await signInUI(a.page, annName);
  // Tab until the Bob row has focus, then Enter opens it.
  let found = false;
  for (let i = 0; i < 40 && !found; i++) {
    await a.page.keyboard.press('Tab');
    found = await a.page.evaluate(() => !!document.activeElement?.closest('li.conv-item') && /Bob Keyboard/.test(document.activeElement.textContent));
  }
  assert.ok(found, 'the conversation row is reachable with Tab');
  await a.page.keyboard.press('Enter');
  await conversationView(a.page).locator('.conv-header-title', { hasText: 'Bob Keyboard' }).waitFor();
  await composer(a.page).focus();
  await a.page.keyboard.type('typed without a mouse');
  await a.page.keyboard.press('Enter');
  await eventually(async () => {
    const page = await bob.call('GET', `/conversations/${direct.id}/messages`);
    return page.messages.some((m) => m.text === 'typed without a mouse');
  }, 'sent from the keyboard');
  // Escape closes a dialog and focus goes into it when open.
  await a.page.getByRole('button', { name: 'New chat' }).click();
  const dialog = a.page.getByRole('dialog', { name: 'New chat' });
  await dialog.waitFor();
  assert.ok(await dialog.evaluate((d) => d.contains(document.activeElement)), 'focus moves into the dialog');
  await a.page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  a.expectClean();
  await a.context.close();
});

test('a phone-sized screen shows the list and the chat one at a time', async () => {
  const { annName } = await people();
  const a = await openPage(env.browser, env.server, { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  await scan(a.page, 'phone sign in');
  await signInUI(a.page, annName);
  await screenshot(a.page, 'phone-list');
  await openConversation(a.page, 'Bob Keyboard');
  assert.equal(await conversationList(a.page).isVisible(), false, 'the list gives way to the chat');
  await sendText(a.page, 'from my phone');
  await eventually(async () => (await tickStatus(a.page, 'from my phone')) !== 'sending', 'sent');
  const width = await a.page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `no horizontal scrolling (${width}px)`);
  await scan(a.page, 'phone conversation');
  await screenshot(a.page, 'phone-chat');
  await a.page.getByRole('button', { name: 'Back' }).click();
  await conversationList(a.page).waitFor();
  a.expectClean();
  await a.context.close();
});
