// Media in the web client (protocol.md §10), two people in two browsers:
// files attached with the button, pasted or dropped become chips that
// upload at once (with progress, cancel and the server's refusal shown);
// a send carries them as attachments; the peer sees images in a box sized
// before they load, plays a video with seeking (Range, 206), downloads a
// file under its own name; the viewer pages through the images; the
// Media and Files sections list them; an offline send arrives once online.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signInUI, uniqueName, eventually, sleep, Api } from '../lib/harness.mjs';
import { openConversation, composer, messages, messageLog, banner, conversationRow } from '../lib/ui.mjs';
import { pngBytes, mp3Bytes } from '../lib/media.mjs';

const env = serverAndBrowser();

/** Ana and Ben, each signed in in a browser, with their direct chat open. */
async function pair(tag) {
  const ana = { name: uniqueName(`${tag}ana`) };
  const ben = { name: uniqueName(`${tag}ben`) };
  ana.api = await Api.register(env.server.url, ana.name, `Ana ${tag}`);
  ben.api = await Api.register(env.server.url, ben.name, `Ben ${tag}`);
  const conv = await ana.api.call('POST', '/conversations', { kind: 'direct', user_id: ben.api.user.id });
  for (const [p, peer] of [[ana, ben], [ben, ana]]) {
    Object.assign(p, await openPage(env.browser, env.server));
    await signInUI(p.page, p.name);
    await openConversation(p.page, `${peer === ben ? 'Ben' : 'Ana'} ${tag}`);
  }
  return { ana, ben, conv };
}

/** Picks files through the "Attach files" button's file chooser. */
async function attachWithButton(page, files) {
  const [chooser] = await Promise.all([
    page.waitForEvent('filechooser'),
    page.getByRole('button', { name: 'Attach files' }).click(),
  ]);
  await chooser.setFiles(files);
}

const chips = (page) => page.getByRole('list', { name: 'Attachments' }).locator('.attach-chip');

/** The states a chip went through, recorded in the page from the moment it appears. */
async function recordChipStates(page) {
  await page.evaluate(() => {
    window.__chipStates = [];
    const seen = (el) => { if (el.dataset && el.dataset.state && window.__chipStates.at(-1) !== el.dataset.state) window.__chipStates.push(el.dataset.state); };
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === 'attributes' && r.target.classList.contains('attach-chip')) seen(r.target);
        for (const n of r.addedNodes || []) if (n.classList && n.classList.contains('attach-chip')) seen(n);
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
  });
}

test('an image attached with the button reaches the peer in a box of its shape, and the viewer pages', async () => {
  const { ana, ben } = await pair('img');
  await recordChipStates(ana.page);
  const send = ana.page.getByRole('button', { name: 'Send' });
  assert.equal(await send.isDisabled(), true, 'nothing to send yet');
  const wide = pngBytes(800, 400);
  await attachWithButton(ana.page, [{ name: 'beach.png', mimeType: 'image/png', buffer: wide }]);
  const chip = chips(ana.page).first();
  await chip.waitFor();
  assert.match(await chip.textContent(), /beach\.png/);
  assert.equal(await chip.locator('img.chip-preview').evaluate((img) => img.src.startsWith('blob:')), true, 'a local preview');
  await eventually(async () => (await chip.getAttribute('data-state')) === 'ready', 'the upload finished');
  const states = await ana.page.evaluate(() => window.__chipStates);
  assert.deepEqual(states, ['uploading', 'ready'], 'the chip showed the upload, then ready');
  assert.equal(await send.isDisabled(), false, 'an attachment alone can be sent');
  await composer(ana.page).fill('the beach https://maps.example/b');
  await composer(ana.page).press('Enter');
  assert.equal(await chips(ana.page).count(), 0, 'the tray is emptied by the send');

  const bubble = messages(ben.page).filter({ hasText: 'the beach' });
  const tile = bubble.locator('button.media-image');
  await tile.waitFor();
  const box = await tile.boundingBox();
  assert.ok(Math.abs(box.width / box.height - 2) < 0.02, `a 2:1 box: ${box.width}x${box.height}`);
  assert.ok(box.width <= 321, `at most 320 px wide: ${box.width}`);
  assert.equal(await bubble.locator('.message-text a.message-link').getAttribute('href'), 'https://maps.example/b', 'the caption is linkified');
  const img = tile.locator('img');
  assert.equal(await img.getAttribute('alt'), 'beach.png');
  assert.equal(await img.getAttribute('loading'), 'lazy');
  await eventually(() => img.evaluate((i) => i.complete && i.naturalWidth > 0), 'the thumbnail loaded');
  assert.match(await img.getAttribute('src'), /\/thumbnail\?exp=/, 'a signed thumbnail URL');

  // A second image, then the viewer goes back and forth between them.
  const tall = pngBytes(300, 600, [170, 50, 50]);
  await attachWithButton(ana.page, [{ name: 'tower.png', mimeType: 'image/png', buffer: tall }]);
  await eventually(async () => (await chips(ana.page).first().getAttribute('data-state')) === 'ready', 'second upload');
  await ana.page.getByRole('button', { name: 'Send' }).click();
  const towerTile = messageLog(ben.page).getByRole('button', { name: 'Open tower.png' });
  await towerTile.waitFor();
  await tile.click();
  const viewer = ben.page.getByRole('dialog', { name: 'Media viewer' });
  await viewer.waitFor();
  assert.equal(await viewer.locator('.dialog-title').textContent(), 'beach.png');
  assert.equal(await viewer.locator('.lightbox-counter').textContent(), '1 of 2');
  await eventually(() => viewer.locator('img.lightbox-media').evaluate((i) => i.naturalWidth === 800), 'the full image, not the thumbnail');
  await ben.page.keyboard.press('ArrowRight');
  await eventually(async () => (await viewer.locator('.dialog-title').textContent()) === 'tower.png', 'next with the arrow key');
  assert.equal(await viewer.getByRole('button', { name: 'Next' }).isDisabled(), true, 'the last one');
  await viewer.getByRole('button', { name: 'Previous' }).click();
  await eventually(async () => (await viewer.locator('.dialog-title').textContent()) === 'beach.png', 'previous with the button');
  assert.equal(await viewer.getByRole('link', { name: 'Download beach.png' }).getAttribute('download'), 'beach.png');
  await ben.page.keyboard.press('Escape');
  await eventually(async () => (await viewer.count()) === 0, 'Escape closes the viewer');
  ana.expectClean();
  ben.expectClean();
  await ana.context.close();
  await ben.context.close();
});

/** The messages of a conversation as Ben's server account sees them. */
async function serverMessages(api, conv) {
  return (await api.call('GET', `/conversations/${conv.id}/messages?limit=100`)).messages;
}

test('pasted and dropped files become chips; a refusal shows the server message; cancel and the limit of 10', async () => {
  const { ana, ben, conv } = await pair('chip');
  const page = ana.page;
  // Paste: an image on the clipboard, pasted into the text box.
  await page.evaluate(async () => {
    const c = document.createElement('canvas');
    c.width = 40; c.height = 30;
    c.getContext('2d').fillRect(0, 0, 40, 30);
    const blob = await new Promise((r) => c.toBlob(r, 'image/png'));
    const dt = new DataTransfer();
    dt.items.add(new File([blob], 'pasted.png', { type: 'image/png' }));
    const box = document.querySelector('.composer-input');
    box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  });
  await chips(page).filter({ hasText: 'pasted.png' }).waitFor();
  // Drop: a text file dropped on the message log.
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['dropped notes'], 'dropped.txt', { type: 'text/plain' }));
    const log = document.querySelector('.messages');
    log.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
    log.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await chips(page).filter({ hasText: 'dropped.txt' }).waitFor();
  assert.equal(await page.locator('.conversation.drop-target').count(), 0, 'the drop hint goes with the drop');

  // Bytes the server does not take: its own message shows on the chip.
  const junk = Buffer.from([0, 1, 2, 3, 250, 251, 252, 253, 0, 0, 7]);
  const refused = await ana.api.upload('junk.bin', junk);
  assert.equal(refused.status, 415);
  await attachWithButton(page, [{ name: 'junk.bin', mimeType: 'application/octet-stream', buffer: junk }]);
  const bad = chips(page).filter({ hasText: 'junk.bin' });
  await eventually(async () => (await bad.getAttribute('data-state')) === 'failed', 'the refused chip');
  assert.equal((await bad.locator('.chip-status').textContent()).trim(), refused.body.error.message, 'the server\'s message');
  assert.equal(await bad.getByRole('button', { name: 'Retry junk.bin' }).isVisible(), true);
  await composer(page).fill('three files');
  await composer(page).press('Enter');
  await page.getByText('Remove or retry the attachments that could not be uploaded.').waitFor();
  assert.equal(await chips(page).count(), 3, 'nothing was sent with a failed chip');
  await bad.getByRole('button', { name: 'Remove junk.bin' }).click();
  await eventually(async () => (await chips(page).count()) === 2, 'the failed chip removed');
  await eventually(async () => (await chips(page).evaluateAll((cs) => cs.every((c) => c.dataset.state === 'ready'))), 'both uploaded');
  await composer(page).press('Enter');
  await eventually(async () => {
    const ms = await serverMessages(ben.api, conv);
    return ms.length === 1 && ms[0].text === 'three files' && ms[0].attachments.map((a) => a.name).join() === 'pasted.png,dropped.txt';
  }, 'one message with both attachments, in order');
  await messages(ben.page).filter({ hasText: 'three files' }).locator('.file-card', { hasText: 'dropped.txt' }).waitFor();

  // Cancel: a slow upload cancelled midway is never sent.
  const cdp = await ana.context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 256 * 1024 });
  const aborted = new Promise((resolve) => page.on('requestfailed', (r) => { if (r.url().endsWith('/api/v1/media')) resolve(r.failure().errorText); }));
  await attachWithButton(page, [{ name: 'big.txt', mimeType: 'text/plain', buffer: Buffer.alloc(4 * 1024 * 1024, 'a') }]);
  const big = chips(page).filter({ hasText: 'big.txt' });
  await eventually(async () => (await big.locator('progress').evaluate((p) => p.value > 0 && p.value < p.max)), 'the upload under way');
  await big.getByRole('button', { name: 'Cancel upload of big.txt' }).click();
  assert.match(await aborted, /ABORTED/, 'the request was cancelled');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  assert.equal(await chips(page).count(), 0);
  await composer(page).fill('no file here');
  await composer(page).press('Enter');
  await eventually(async () => (await serverMessages(ben.api, conv)).length === 2, 'the text arrived');
  const last = (await serverMessages(ben.api, conv)).at(-1);
  assert.equal(last.text, 'no file here');
  assert.deepEqual(last.attachments, [], 'the cancelled file was not sent');

  // At most 10 per message: the eleventh is refused, and said so.
  const eleven = Array.from({ length: 11 }, (_, i) => ({ name: `n${i}.txt`, mimeType: 'text/plain', buffer: Buffer.from(`note ${i}`) }));
  await attachWithButton(page, eleven);
  await page.getByText('You can send at most 10 attachments in one message.').waitFor();
  assert.equal(await chips(page).count(), 10);
  ana.expectClean();
  ben.expectClean();
  await ana.context.close();
  await ben.context.close();
});

/** A WebM of about 1.5 s recorded from a canvas in the page, as bytes. */
async function webm(page) {
  const b64 = await page.evaluate(async () => {
    const c = document.createElement('canvas');
    c.width = 320; c.height = 240;
    const g = c.getContext('2d');
    const stream = c.captureStream(25);
    const rec = new MediaRecorder(stream, { mimeType: 'video/webm' });
    const parts = [];
    rec.ondataavailable = (e) => { if (e.data.size) parts.push(e.data); };
    const stopped = new Promise((r) => { rec.onstop = r; });
    let frame = 0;
    const timer = setInterval(() => { frame += 1; g.fillStyle = `hsl(${(frame * 12) % 360} 70% 50%)`; g.fillRect(0, 0, 320, 240); }, 40);
    rec.start(100);
    await new Promise((r) => setTimeout(r, 1500));
    rec.stop();
    await stopped;
    clearInterval(timer);
    const buf = new Uint8Array(await new Blob(parts, { type: 'video/webm' }).arrayBuffer());
    let s = '';
    for (let i = 0; i < buf.length; i += 0x8000) s += String.fromCharCode(...buf.subarray(i, i + 0x8000));
    return btoa(s);
  });
  return Buffer.from(b64, 'base64');
}

test('a recorded video plays for the peer, is read with Range requests (206) and seeks', async () => {
  const { ana, ben } = await pair('vid');
  const bytes = await webm(ana.page);
  assert.ok(bytes.length > 1000, `a recording: ${bytes.length} bytes`);
  const ranged = [];
  ben.page.on('response', (r) => {
    if (/\/api\/v1\/media\/[^/?]+\?exp=/.test(r.url())) {
      ranged.push({ status: r.status(), range: r.request().headers().range || '', contentRange: r.headers()['content-range'] || '' });
    }
  });
  await attachWithButton(ana.page, [{ name: 'clip.webm', mimeType: 'video/webm', buffer: bytes }]);
  await eventually(async () => (await chips(ana.page).first().getAttribute('data-state')) === 'ready', 'the video uploaded');
  assert.equal(await chips(ana.page).first().locator('video.chip-preview').count(), 1, 'a local video preview');
  await composer(ana.page).fill('a clip');
  await composer(ana.page).press('Enter');
  const video = messages(ben.page).filter({ hasText: 'a clip' }).locator('video.media-video');
  await video.waitFor();
  assert.equal(await video.getAttribute('preload'), 'metadata');
  assert.equal(await video.evaluate((v) => v.controls), true);
  await eventually(() => video.evaluate((v) => v.readyState >= 1), 'the video metadata loaded');
  const seeked = await video.evaluate((v) => new Promise((resolve) => {
    v.muted = true;
    v.addEventListener('seeked', () => resolve(v.currentTime), { once: true });
    v.currentTime = 1;
    setTimeout(() => resolve(-1), 8000);
  }));
  assert.ok(seeked > 0.5, `the video sought to ${seeked}`);
  // A MediaRecorder WebM has no cues, so Chromium reads it from the start
  // (`bytes=0-`) rather than jumping; what matters here is that the signed
  // URL is read by range and answered as one, which seeking relies on.
  assert.ok(ranged.some((r) => r.status === 206 && /^bytes=/.test(r.range) && /^bytes \d+-\d+\/\d+$/.test(r.contentRange)),
    `a Range request answered 206: ${JSON.stringify(ranged)}`);
  assert.ok(ranged.every((r) => r.status === 200 || r.status === 206), JSON.stringify(ranged));
  ana.expectClean();
  ben.expectClean();
  await ana.context.close();
  await ben.context.close();
});

test('a file downloads under its own name; Media and Files in conversation info list what was sent', async () => {
  const { ana, ben } = await pair('file');
  const pdf = Buffer.from('%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n');
  await attachWithButton(ana.page, [
    { name: 'Report (final).pdf', mimeType: 'application/pdf', buffer: pdf },
    { name: 'photo.png', mimeType: 'image/png', buffer: pngBytes(120, 90) },
  ]);
  await eventually(async () => (await chips(ana.page).evaluateAll((cs) => cs.length === 2 && cs.every((c) => c.dataset.state === 'ready'))), 'both uploaded');
  await ana.page.getByRole('button', { name: 'Send' }).click();
  const card = messageLog(ben.page).locator('.file-card', { hasText: 'Report (final).pdf' });
  await card.waitFor();
  assert.match(await card.locator('.file-meta').textContent(), /B · PDF/);
  const link = card.getByRole('link', { name: 'Download Report (final).pdf' });
  await eventually(async () => !!(await link.getAttribute('href')), 'the signed link');
  const [download] = await Promise.all([ben.page.waitForEvent('download'), link.click()]);
  assert.equal(download.suggestedFilename(), 'Report (final).pdf');
  const saved = await download.path();
  const { readFileSync } = await import('node:fs');
  assert.ok(readFileSync(saved).equals(pdf), 'the bytes downloaded are the ones uploaded');

  await ben.page.getByRole('button', { name: 'Conversation info' }).click();
  const info = ben.page.getByRole('dialog', { name: 'Conversation info' });
  const grid = info.getByRole('list', { name: 'Media' });
  const tile = grid.getByRole('button', { name: 'Open photo.png' });
  await tile.waitFor();
  await eventually(() => tile.locator('img').evaluate((i) => i.complete && i.naturalWidth > 0), 'the grid thumbnail loaded');
  assert.equal(await grid.getByRole('button').count(), 1, 'only the image is media');
  const files = info.getByRole('list', { name: 'Files' });
  await files.locator('.file-card', { hasText: 'Report (final).pdf' }).waitFor();
  assert.equal(await files.locator('.file-card').count(), 1);
  await tile.click();
  const viewer = ben.page.getByRole('dialog', { name: 'Media viewer' });
  await viewer.waitFor();
  assert.equal(await viewer.locator('.dialog-title').textContent(), 'photo.png');
  await ben.page.keyboard.press('Escape');
  await eventually(async () => (await viewer.count()) === 0, 'the viewer closed');
  assert.equal(await info.isVisible(), true, 'conversation info stays open under it');
  ana.expectClean();
  ben.expectClean();
  await ana.context.close();
  await ben.context.close();
});

/** The outbox records' attachments as the page's IndexedDB holds them. */
function storedAttachments(page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const r = indexedDB.open('parley');
    r.onerror = () => reject(r.error);
    r.onsuccess = () => {
      const q = r.result.transaction('outbox').objectStore('outbox').getAll();
      q.onsuccess = () => {
        r.result.close();
        resolve(q.result.flatMap((rec) => rec.attachments.map((a) => ({
          text: rec.text, name: a.name, isBlob: a.file instanceof Blob, size: a.file ? a.file.size : 0, media: !!a.media,
        }))));
      };
      q.onerror = () => reject(q.error);
    };
  }));
}

test('an image sent offline waits in the outbox, file included, across a reload, and arrives once online', async () => {
  const { ana, ben, conv } = await pair('off');
  const bytes = pngBytes(200, 100, [50, 100, 200]);
  await ana.context.setOffline(true);
  await eventually(async () => await banner(ana.page).isVisible(), 'the offline banner');
  await attachWithButton(ana.page, [{ name: 'offline.png', mimeType: 'image/png', buffer: bytes }]);
  await eventually(async () => (await chips(ana.page).first().getAttribute('data-state')) === 'waiting', 'the chip waits for the network');
  await composer(ana.page).fill('sent while offline');
  await composer(ana.page).press('Enter');
  const pending = messages(ana.page).filter({ hasText: 'sent while offline' });
  await pending.waitFor();
  assert.equal(await pending.locator('.ticks').getAttribute('data-status'), 'sending');
  await eventually(() => pending.locator('img').evaluate((i) => i.complete && i.naturalWidth === 200), 'a local preview of the image');
  const stored = await storedAttachments(ana.page);
  assert.deepEqual(stored, [{ text: 'sent while offline', name: 'offline.png', isBlob: true, size: bytes.length, media: false }],
    'the file itself is in IndexedDB');
  await sleep(500);
  assert.equal((await serverMessages(ben.api, conv)).length, 0, 'nothing reached the server');

  // The reload fails while offline, as it would for a user; the file is still there after it.
  await ana.page.reload().catch(() => {});
  await ana.context.setOffline(false);
  await ana.page.goto(env.server.url + '/');
  await openConversation(ana.page, 'Ben off');
  const arrived = messages(ben.page).filter({ hasText: 'sent while offline' });
  const tile = arrived.getByRole('button', { name: 'Open offline.png' });
  await tile.waitFor({ timeout: 20000 });
  await eventually(() => tile.locator('img').evaluate((i) => i.complete && i.naturalWidth > 0), 'the peer sees the image');
  await sleep(1000);
  const ms = await serverMessages(ben.api, conv);
  assert.equal(ms.length, 1, 'sent once');
  assert.equal(ms[0].attachments.length, 1);
  assert.equal(ms[0].attachments[0].width, 200);
  await eventually(async () => (await storedAttachments(ana.page)).length === 0, 'the outbox emptied');
  ana.expectClean();
  ben.expectClean();
  await ana.context.close();
  await ben.context.close();
});

test('a voice note plays in place with its length', async () => {
  const { ana, ben, conv } = await pair('aud');
  const voice = await ana.api.upload('voice note.mp3', mp3Bytes(2));
  assert.equal(voice.body.kind, 'audio');
  await ana.api.sendMedia(conv.id, [voice.body.id]);
  const audio = messageLog(ben.page).locator('audio.media-audio');
  await audio.waitFor();
  assert.equal(await audio.evaluate((a) => a.controls), true);
  assert.equal(await audio.getAttribute('aria-label'), 'voice note.mp3');
  await eventually(() => audio.evaluate((a) => a.readyState >= 1 && Math.abs(a.duration - 2) < 0.3), 'the player read the length');
  assert.equal(await messageLog(ben.page).locator('.message .message-text').count(), 0, 'no caption, no empty text');
  const preview = conversationRow(ben.page, 'Ana aud').locator('.conv-preview');
  await eventually(async () => (await preview.textContent()).trim() === 'Audio', 'the list says what was sent');
  ana.expectClean();
  ben.expectClean();
  await ana.context.close();
  await ben.context.close();
});

test('an image whose signed URL fails gets a new URL once and loads', async () => {
  const { ana, ben, conv } = await pair('exp');
  const signedAsked = [];
  ben.page.on('request', (r) => { if (/\/api\/v1\/media\/[^/]+\/signed$/.test(r.url())) signedAsked.push(r.url()); });
  // The first thumbnail load fails as an expired URL does (404).
  let failed = 0;
  await ben.page.route(/\/thumbnail\?exp=/, (route) => {
    if (failed++ === 0) return route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":{"code":"not_found","message":"not found"}}' });
    return route.continue();
  });
  const up = await ana.api.upload('late.png', pngBytes(90, 60));
  await ana.api.sendMedia(conv.id, [up.body.id], 'late image');
  const img = messages(ben.page).filter({ hasText: 'late image' }).locator('img');
  await eventually(() => img.evaluate((i) => i.complete && i.naturalWidth > 0), 'the image loaded with a new URL');
  assert.equal(failed, 2, 'one failed load, one retry');
  assert.equal(signedAsked.length, 2, 'a second signed URL was fetched for the retry');
  ana.expectClean();
  ben.expectClean();
  await ana.context.close();
  await ben.context.close();
});

test('a message sent while its file still uploads shows the progress and goes once the upload is done', async () => {
  const { ana, ben, conv } = await pair('wait');
  const cdp = await ana.context.newCDPSession(ana.page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 512 * 1024 });
  const uploads = [];
  ana.page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/api/v1/media')) uploads.push(r.url()); });
  await attachWithButton(ana.page, [{ name: 'slow.txt', mimeType: 'text/plain', buffer: Buffer.alloc(2 * 1024 * 1024, 'b') }]);
  assert.equal(await chips(ana.page).first().getAttribute('data-state'), 'uploading');
  await composer(ana.page).fill('before the upload ends');
  await composer(ana.page).press('Enter');
  const pending = messages(ana.page).filter({ hasText: 'before the upload ends' });
  await pending.waitFor();
  assert.equal(await pending.locator('.ticks').getAttribute('data-status'), 'sending');
  const bar = pending.getByRole('progressbar', { name: 'Uploading slow.txt' });
  await eventually(() => bar.evaluate((p) => p.value > 0 && p.value < p.max), 'the bubble shows the upload going on');
  assert.equal((await serverMessages(ben.api, conv)).length, 0, 'not sent before the upload is done');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await messageLog(ben.page).locator('.file-card', { hasText: 'slow.txt' }).waitFor({ timeout: 20000 });
  const ms = await serverMessages(ben.api, conv);
  assert.equal(ms.length, 1);
  assert.deepEqual(ms[0].attachments.map((a) => [a.name, a.size]), [['slow.txt', 2 * 1024 * 1024]]);
  assert.equal(uploads.length, 1, 'the outbox used the upload the tray started');
  ana.expectClean();
  ben.expectClean();
  await ana.context.close();
  await ben.context.close();
});
