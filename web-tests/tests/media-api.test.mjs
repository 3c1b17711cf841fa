// Media, the web client's REST layer (protocol.md §10): an upload through
// XMLHttpRequest reports its progress and resolves with the media object,
// a cancelled one rejects and leaves nothing behind, and a signed URL
// serves the bytes without the Authorization header.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, uniqueName, PASSWORD, Api } from '../lib/harness.mjs';

const env = serverAndBrowser();

test('the client uploads with progress, cancels, and reads through a signed URL', async () => {
  const ben = await Api.register(env.server.url, uniqueName('mben'), 'Ben Media');
  const b = await openPage(env.browser, env.server);
  const name = uniqueName('mana');
  const out = await b.page.evaluate(async ({ name, password, benId }) => {
    const { ParleyClient } = await import('/js/parley/api.js');
    const client = new ParleyClient({ storageKey: `media-api-${name}` });
    await client.register(name, password, 'Ana Media');
    const conv = await client.openDirect(benId);
    const body = 'x'.repeat(3 * 1024 * 1024);
    const file = new File([body], 'notes <b>1</b> é.txt', { type: 'text/plain' });
    const progress = [];
    const media = await client.uploadMedia(file, { onProgress: (loaded, total) => progress.push([loaded, total]) });

    const ctl = new AbortController();
    const cancelled = client.uploadMedia(new File([body], 'never.txt', { type: 'text/plain' }), {
      signal: ctl.signal,
      onProgress: () => ctl.abort(),
    }).then(() => 'uploaded', (e) => e.code);
    const cancelCode = await cancelled;

    await client.sendMessage(conv.id, { clientId: crypto.randomUUID(), text: 'caption', attachments: [media.id] });
    const files = await client.files(conv.id);
    const signed = await client.signedMedia(media.id);
    const res = await fetch(signed.url, { credentials: 'omit' });
    const text = await res.text();
    return { media, progress, cancelCode, files, status: res.status, same: text === body };
  }, { name, password: PASSWORD, benId: ben.user.id });

  assert.equal(out.media.kind, 'file');
  assert.equal(out.media.name, 'notes <b>1</b> é.txt');
  assert.equal(out.media.size, 3 * 1024 * 1024);
  assert.ok(out.progress.length > 0, 'upload progress was reported');
  const [lastLoaded, lastTotal] = out.progress[out.progress.length - 1];
  assert.ok(lastLoaded > 0 && lastTotal >= 3 * 1024 * 1024, `progress ${lastLoaded}/${lastTotal}`);
  assert.equal(out.cancelCode, 'aborted', 'a cancelled upload rejects as aborted');
  const items = out.files.files;
  assert.ok(Array.isArray(items), `files list shape: ${JSON.stringify(out.files).slice(0, 200)}`);
  assert.equal(items.length, 1, 'only the sent file is listed, the cancelled one is not');
  assert.equal(out.status, 200);
  assert.ok(out.same, 'the signed URL serves the uploaded bytes');
  b.expectClean();
  await b.context.close();
});
