// Notifications in the web client (protocol.md §12): the settings dialog
// reads and writes /users/me/notifications; the service worker turns a
// Web Push payload into a notification titled and worded as the payload
// says (delivered here through Chromium's DevTools, as a push service
// would), one per conversation, closed by a `read` update. (A click opening the conversation is the
// worker's notificationclick handler; DevTools cannot click a
// notification, so it is not tested here.)
// Push is never asked for on first load.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openPage, signInUI, uniqueName, eventually, Api } from '../lib/harness.mjs';

const env = serverAndBrowser();

test('notification settings are read and saved, and nothing is asked on first load', async () => {
  const name = uniqueName('nset');
  const api = await Api.register(env.server.url, name, 'Nia Settings');
  const b = await openPage(env.browser, env.server);
  await signInUI(b.page, name);
  assert.equal(await b.page.evaluate(() => Notification.permission), 'default', 'no prompt on load');
  assert.equal(await b.page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).length), 0,
    'no service worker until the user turns notifications on');
  await b.page.getByRole('button', { name: 'Notification settings' }).click();
  const dialog = b.page.getByRole('dialog', { name: 'Notification settings' });
  const select = dialog.getByLabel('Notify me about');
  await eventually(async () => !(await select.isDisabled()), 'the settings loaded');
  assert.equal(await select.inputValue(), 'all');
  await select.selectOption('mentions');
  await eventually(async () => (await api.call('GET', '/users/me/notifications')).push === 'mentions', 'push saved');
  const previews = dialog.getByLabel('Show message text in notifications');
  assert.equal(await previews.isChecked(), true);
  await previews.uncheck();
  await eventually(async () => (await api.call('GET', '/users/me/notifications')).previews === false, 'previews saved');
  // Email digests: the address (only the user sees it) and the switch.
  const digest = dialog.getByLabel('Email me a digest of unread messages while I am away');
  assert.equal(await digest.isChecked(), true, 'digests are on by default');
  const address = dialog.getByLabel('Email address');
  await eventually(async () => !(await address.isDisabled()), 'the address loaded');
  assert.equal(await address.inputValue(), '');
  await address.fill('not an address');
  await dialog.getByRole('button', { name: 'Save address' }).click();
  await eventually(async () => /email must be an address/.test(await dialog.getByRole('status').textContent()),
    'the refusal is shown');
  assert.equal((await api.call('GET', '/users/me')).email, undefined, 'nothing saved');
  await address.fill('nia@example.com');
  await dialog.getByRole('button', { name: 'Save address' }).click();
  await eventually(async () => (await api.call('GET', '/users/me')).email === 'nia@example.com', 'address saved');
  await digest.uncheck();
  await eventually(async () => (await api.call('GET', '/users/me/notifications')).email === 'off', 'digests off');
  // Do not disturb: a pause and quiet hours in the browser's zone.
  await dialog.getByLabel('Pause notifications').selectOption('8');
  await eventually(async () => {
    const p = await api.call('GET', '/users/me/notifications');
    return p.dnd_until && Date.parse(p.dnd_until) > Date.now() + 7 * 3600_000;
  }, 'paused for 8 hours');
  await dialog.getByLabel('Quiet hours every day').check();
  await eventually(async () => {
    const q = (await api.call('GET', '/users/me/notifications')).quiet_hours;
    return q && q.from === '22:00' && q.to === '07:00' && q.time_zone;
  }, 'quiet hours saved');
  await dialog.getByLabel('Pause notifications').selectOption('');
  await eventually(async () => !(await api.call('GET', '/users/me/notifications')).dnd_until, 'pause ended');
  await dialog.getByRole('button', { name: 'Turn on notifications on this device' }).waitFor();
  await dialog.getByRole('button', { name: 'Close' }).click();
  // Reopened, it shows what is stored.
  await b.page.getByRole('button', { name: 'Notification settings' }).click();
  await eventually(async () => (await select.inputValue()) === 'mentions', 'stored value shown');
  assert.equal(await previews.isChecked(), false);
  await eventually(async () => (await address.inputValue()) === 'nia@example.com', 'stored address shown');
  assert.equal(await digest.isChecked(), false);
  assert.equal(await dialog.getByLabel('Quiet hours every day').isChecked(), true);
  b.expectClean();
  await b.context.close();
});

test('the service worker shows a push as a notification, one per conversation, text only with previews', async () => {
  const ana = { name: uniqueName('nana') };
  ana.api = await Api.register(env.server.url, ana.name, 'Ana Push');
  const ben = { name: uniqueName('nben') };
  ben.api = await Api.register(env.server.url, ben.name, 'Ben Push');
  const conv = await ana.api.call('POST', '/conversations', { kind: 'direct', user_id: ben.api.user.id });
  const b = await openPage(env.browser, env.server);
  await b.context.grantPermissions(['notifications'], { origin: env.server.url });
  await signInUI(b.page, ben.name);
  const cdp = await b.context.newCDPSession(b.page);
  const registrations = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => registrations.push(...e.registrations));
  await cdp.send('ServiceWorker.enable');
  await b.page.evaluate(async () => {
    await navigator.serviceWorker.register('/sw.js', { scope: '/' });
    await navigator.serviceWorker.ready;
  });
  await eventually(async () => registrations.some((r) => r.scopeURL.startsWith(env.server.url) && !r.isDeleted), 'the registration');
  const reg = registrations.find((r) => r.scopeURL.startsWith(env.server.url) && !r.isDeleted);
  const push = (payload) => cdp.send('ServiceWorker.deliverPushMessage', {
    origin: env.server.url, registrationId: reg.registrationId, data: JSON.stringify(payload),
  });
  const payload = {
    type: 'message', conversation_id: conv.id, message_id: 'm1', seq: 3, title: 'Ana Push',
    sender_id: ana.api.user.id, sender_name: 'Ana Push', preview: 'lunch at noon?', unread_count: 1,
  };
  await push(payload);
  const shown = () => b.page.evaluate(async () => {
    const r = await navigator.serviceWorker.getRegistration('/');
    return (await r.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag }));
  });
  await eventually(async () => (await shown()).length === 1, 'the notification');
  assert.deepEqual(await shown(), [{ title: 'Ana Push', body: 'lunch at noon?', tag: `conv:${conv.id}` }]);
  // A newer push of the same conversation replaces it; previews off says
  // only that there is a message.
  await push({ ...payload, seq: 4, preview: null, unread_count: 2 });
  await eventually(async () => {
    const n = await shown();
    return n.length === 1 && n[0].body === 'New message (2 unread)';
  }, 'one notification per conversation, without text');
  // A group: the sender is named in the body.
  await push({ ...payload, conversation_id: 'g1', title: 'Team', preview: 'standup' });
  await eventually(async () => (await shown()).some((n) => n.title === 'Team' && n.body === 'Ana Push: standup'), 'the group one');
  // Read on another device: the server's silent update closes that
  // conversation's notification and leaves the other.
  await push({ type: 'read', conversation_id: conv.id, read_seq: 4 });
  await eventually(async () => {
    const n = await shown();
    return n.length === 1 && n[0].title === 'Team';
  }, 'the read conversation\'s notification closed');
  b.expectClean();
  await b.context.close();
});

test('a message while the tab is hidden shows a desktop notification; a visible tab or a muted chat none', async () => {
  const ana = { name: uniqueName('dana') };
  ana.api = await Api.register(env.server.url, ana.name, 'Ana Desk');
  const ben = { name: uniqueName('dben') };
  ben.api = await Api.register(env.server.url, ben.name, 'Ben Desk');
  const conv = await ana.api.call('POST', '/conversations', { kind: 'direct', user_id: ben.api.user.id });
  const cy = { name: uniqueName('dcy') };
  cy.api = await Api.register(env.server.url, cy.name, 'Cy Muted');
  const muted = await cy.api.call('POST', '/conversations', { kind: 'direct', user_id: ben.api.user.id });
  await ben.api.call('PUT', `/conversations/${muted.id}/mute`, { until: new Date(Date.now() + 3600_000).toISOString() });
  const b = await openPage(env.browser, env.server);
  await b.context.grantPermissions(['notifications'], { origin: env.server.url });
  // Records what the page shows (there is no service worker here, so the
  // page's own Notification is used).
  await b.page.evaluate(() => {
    const Real = window.Notification;
    window.__shown = [];
    window.Notification = class extends Real {
      constructor(title, options) {
        super(title, options);
        window.__shown.push({ title, body: options.body, tag: options.tag });
      }
    };
  });
  await signInUI(b.page, ben.name);
  const shown = () => b.page.evaluate(() => window.__shown);
  const hide = (hidden) => b.page.evaluate((h) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
  await b.page.getByRole('navigation', { name: 'Conversations' }).getByText('Ana Desk').waitFor();
  await ana.api.send(conv.id, 'seen in the open tab');
  await eventually(async () => (await b.page.getByText('seen in the open tab').count()) > 0, 'the first message, while visible');
  await hide(true);
  await ana.api.send(conv.id, 'while you were away');
  await eventually(async () => (await shown()).length === 1, 'the desktop notification');
  assert.deepEqual(await shown(), [{ title: 'Ana Desk', body: 'while you were away', tag: `conv:${conv.id}` }],
    'only the message that came while hidden');
  await cy.api.send(muted.id, 'muted chat');
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await shown()).length, 1, 'nothing for a muted conversation');
  await hide(false);
  await ana.api.send(conv.id, 'tab visible again');
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await shown()).length, 1, 'nothing while the tab is visible');
  b.expectClean();
  await b.context.close();
});
