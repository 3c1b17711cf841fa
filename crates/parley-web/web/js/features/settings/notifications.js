// Notification settings (protocol.md §12): what may notify this user
// (`/users/me/notifications`: push all/mentions/off, previews) and, on
// this device, Web Push. Push is turned on only by the button here, after
// the browser's own permission prompt: never on first load.
import { h, uid } from '../../util/dom.js';
import { openDialog } from '../../ui/dialog.js';

/** base64url (the VAPID key) to the bytes `applicationServerKey` wants. */
function keyBytes(b64url) {
  const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function pushSupported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/** This device's push subscription, if any. */
async function currentSubscription() {
  if (!pushSupported()) return null;
  const reg = await navigator.serviceWorker.getRegistration('/');
  return reg ? reg.pushManager.getSubscription() : null;
}

/** Registers the service worker and subscribes this device. */
async function enablePush(api) {
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') throw new Error('Notifications are blocked for this site in the browser’s settings.');
  const reg = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  await navigator.serviceWorker.ready;
  const { public_key: key } = await api.vapidPublicKey();
  const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
  await api.subscribePush(sub.toJSON());
  return sub;
}

async function disablePush(api) {
  const sub = await currentSubscription();
  if (!sub) return;
  await api.unsubscribePush(sub.endpoint).catch(() => {});
  await sub.unsubscribe();
}

export function notificationsButton(ctx) {
  return h('button', {
    type: 'button', class: 'icon-btn', 'aria-label': 'Notification settings', title: 'Notification settings',
    onclick: () => openNotificationSettings(ctx),
  }, icon());
}

function icon() {
  // A bell, drawn here so that dom.js's icon set stays as it is.
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('fill', 'currentColor');
  path.setAttribute('d', 'M12 22a2 2 0 0 0 2-2h-4a2 2 0 0 0 2 2zm6-6V11a6 6 0 0 0-5-5.9V4a1 1 0 0 0-2 0v1.1A6 6 0 0 0 6 11v5l-2 2v1h16v-1z');
  svg.appendChild(path);
  return svg;
}

export function openNotificationSettings(ctx) {
  const { api } = ctx;
  const d = openDialog({ label: 'Notification settings', title: 'Notifications', className: 'notification-settings' });
  const pushId = uid('push');
  const previewsId = uid('previews');
  const push = h('select', { id: pushId, class: 'select-input', disabled: true },
    h('option', { value: 'all' }, 'All messages'),
    h('option', { value: 'mentions' }, 'Direct messages and mentions'),
    h('option', { value: 'off' }, 'Off'));
  const previews = h('input', { id: previewsId, type: 'checkbox', disabled: true });
  const status = h('p', { class: 'form-error', role: 'status' });
  const device = h('button', { type: 'button', class: 'btn btn-primary', disabled: true }, 'Turn on notifications on this device');
  const deviceNote = h('p', { class: 'field-hint' });
  d.body.append(
    h('div', { class: 'field' }, h('label', { for: pushId }, 'Notify me about'), push),
    h('div', { class: 'field field-inline' }, previews, h('label', { for: previewsId }, 'Show message text in notifications')),
    h('h3', { class: 'dialog-subtitle' }, 'This device'),
    deviceNote, device, status);

  api.notificationPrefs().then((p) => {
    push.value = p.push;
    previews.checked = !!p.previews;
    push.disabled = false;
    previews.disabled = false;
  }).catch((e) => { status.textContent = (e && e.message) || 'Could not load the settings'; });

  const save = async (fields) => {
    status.textContent = '';
    try {
      const p = await api.updateNotificationPrefs(fields);
      push.value = p.push;
      previews.checked = !!p.previews;
      ctx.toast('Notification settings saved');
    } catch (e) {
      status.textContent = (e && e.message) || 'Could not save';
    }
  };
  push.addEventListener('change', () => save({ push: push.value }));
  previews.addEventListener('change', () => save({ previews: previews.checked }));

  let on = false;
  const renderDevice = () => {
    if (!pushSupported()) {
      deviceNote.textContent = 'This browser cannot receive push notifications.';
      device.hidden = true;
      return;
    }
    device.disabled = false;
    device.textContent = on ? 'Turn off notifications on this device' : 'Turn on notifications on this device';
    deviceNote.textContent = on
      ? 'This device gets a notification when a message arrives while Parley is closed or in the background.'
      : 'Get a notification when a message arrives while Parley is closed.';
  };
  currentSubscription().then((s) => { on = !!s; renderDevice(); }).catch(() => renderDevice());
  device.addEventListener('click', async () => {
    device.disabled = true;
    status.textContent = '';
    try {
      if (on) { await disablePush(api); on = false; } else { await enablePush(api); on = true; }
      ctx.toast(on ? 'Notifications are on for this device' : 'Notifications are off for this device');
    } catch (e) {
      status.textContent = (e && e.message) || 'Could not change notifications on this device';
    }
    renderDevice();
  });
}
