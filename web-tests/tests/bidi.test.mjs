// Spoofing text (issue 12): a message carrying a right-to-left override
// (U+202E) or Arabic text is shown isolated: it takes its direction from
// itself (dir=auto, unicode-bidi: plaintext) and cannot reorder the
// sender's name, the time or the ticks around it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signInUI, uniqueName, Api } from '../lib/harness.mjs';
import { openConversation, messageByText, conversationRow, computedStyle } from '../lib/ui.mjs';

const env = serverAndBrowser();

test('messages with bidi controls are isolated and take their own direction', async () => {
  const annName = uniqueName('ann');
  const ann = await Api.register(env.server.url, annName, 'Ann');
  const bob = await Api.register(env.server.url, uniqueName('bob'), 'Bob Bidi');
  const conv = await bob.call('POST', '/conversations', { kind: 'direct', user_id: ann.user.id });
  const spoof = 'invoice\u202Efdp.exe';
  const arabic = 'مرحبا بالعالم';
  await bob.send(conv.id, spoof);
  await bob.send(conv.id, arabic);
  const a = await openPage(env.browser, env.server);
  await signInUI(a.page, annName);
  await openConversation(a.page, 'Bob Bidi');
  for (const text of [spoof, arabic]) {
    const el = messageByText(a.page, text).locator('.message-text');
    await el.waitFor();
    assert.equal(await el.getAttribute('dir'), 'auto', 'direction from the text itself');
    const bidi = await computedStyle(el, 'unicodeBidi');
    assert.equal(bidi, 'plaintext', 'isolated from what surrounds it');
  }
  const arabicDir = await messageByText(a.page, arabic).locator('.message-text')
    .evaluate((n) => n.matches(':dir(rtl)'));
  assert.ok(arabicDir, 'Arabic text is laid out right to left');
  const preview = conversationRow(a.page, 'Bob Bidi').locator('.conv-preview');
  assert.equal(await computedStyle(preview, 'unicodeBidi'), 'plaintext');
  const title = conversationRow(a.page, 'Bob Bidi').locator('.conv-title');
  assert.equal(await computedStyle(title, 'unicodeBidi'), 'isolate');
  a.expectClean();
  await a.context.close();
});
