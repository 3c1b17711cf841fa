// A profile photo, set from the sidebar: the picked image is uploaded and
// made the avatar (PATCH /users/me {avatar_media_id}); the server's square
// copy loads in any <img> without a token, for the user and for others.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signInUI, uniqueName, eventually, Api } from '../lib/harness.mjs';
import { conversationRow } from '../lib/ui.mjs';
import { pngBytes } from '../lib/media.mjs';

const env = serverAndBrowser();

/** The loaded size of the first avatar image inside `locator`, or null. */
async function loadedAvatar(locator) {
  return locator.locator('img.avatar').first().evaluate((img) =>
    (img.complete && img.naturalWidth > 0 ? { src: img.getAttribute('src'), w: img.naturalWidth, h: img.naturalHeight } : null))
    .catch(() => null);
}

test('a profile photo picked in the sidebar becomes a square avatar that others see', async () => {
  const ana = { name: uniqueName('avana') };
  const ben = { name: uniqueName('avben') };
  ana.api = await Api.register(env.server.url, ana.name, 'Ana Avatar');
  ben.api = await Api.register(env.server.url, ben.name, 'Ben Avatar');
  await ana.api.call('POST', '/conversations', { kind: 'direct', user_id: ben.api.user.id });
  for (const p of [ana, ben]) {
    Object.assign(p, await openPage(env.browser, env.server));
    await signInUI(p.page, p.name);
  }

  const button = ana.page.getByRole('button', { name: 'Change profile photo' });
  assert.equal(await button.locator('img').count(), 0, 'initials before a photo is set');
  const [chooser] = await Promise.all([ana.page.waitForEvent('filechooser'), button.click()]);
  await chooser.setFiles([{ name: 'me.png', mimeType: 'image/png', buffer: pngBytes(600, 300) }]);

  const mine = await eventually(async () => {
    const got = await loadedAvatar(button);
    assert.ok(got, 'the new avatar loaded in the sidebar');
    return got;
  }, 'the new avatar');
  assert.match(mine.src, /^\/api\/v1\/media\/[A-Za-z0-9-]+$/, 'an avatar served by this server');
  assert.equal(mine.w, mine.h, 'square');
  const me = await ana.api.call('GET', '/users/me');
  assert.equal(me.avatar_url, mine.src, 'the profile holds it');

  // Ben's list shows Ana's photo on their chat (after a reload: profiles
  // are read when the list loads).
  await ben.page.reload();
  const row = conversationRow(ben.page, 'Ana Avatar');
  const seen = await eventually(async () => {
    const got = await loadedAvatar(row);
    assert.ok(got, "Ana's avatar loaded in Ben's list");
    return got;
  }, "Ana's avatar in Ben's list");
  assert.equal(seen.src, mine.src);

  // A file that is not an image is refused with the server's message and
  // the avatar stays.
  const [again] = await Promise.all([ana.page.waitForEvent('filechooser'), button.click()]);
  await again.setFiles([{ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('just text\n') }]);
  await eventually(async () => {
    const text = await ana.page.locator('.toast').evaluateAll((els) => els.map((e) => e.textContent));
    assert.ok(text.some((t) => /image/i.test(t)), `a toast says it must be an image: ${text}`);
    return true;
  }, 'the refusal toast');
  assert.equal((await ana.api.call('GET', '/users/me')).avatar_url, mine.src);
});
