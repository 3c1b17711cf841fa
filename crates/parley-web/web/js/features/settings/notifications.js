// Notification settings (protocol.md §12): what may notify this user
// (`/users/me/notifications`: push all/mentions/off, previews, email
// digests), the address digests go to (`PATCH /users/me {email}`) and, on
// this device, Web Push. Push is turned on only by the button here, after
// the browser's own permission prompt: never on first load.
import { h, uid } from '../../util/dom.js';
import { openDialog } from '../../ui/dialog.js';
import { clockPreference, setClockPreference } from '../../util/time.js';

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
  const digestId = uid('digest');
  const pauseId = uid('pause');
  const quietId = uid('quiet');
  const quietFromId = uid('quiet-from');
  const quietToId = uid('quiet-to');
  const emailId = uid('email');
  const push = h('select', { id: pushId, class: 'select-input', disabled: true },
    h('option', { value: 'all' }, 'All messages'),
    h('option', { value: 'mentions' }, 'Direct messages and mentions'),
    h('option', { value: 'off' }, 'Off'));
  const previews = h('input', { id: previewsId, type: 'checkbox', disabled: true });
  const digest = h('input', { id: digestId, type: 'checkbox', disabled: true });
  const email = h('input', {
    id: emailId, type: 'email', autocomplete: 'email', maxlength: '254',
    placeholder: 'you@example.com', disabled: true,
  });
  const saveEmail = h('button', { type: 'submit', class: 'btn', disabled: true }, 'Save address');
  const emailForm = h('form', { class: 'field-row', novalidate: true }, email, saveEmail);
  const pausedOption = h('option', { value: 'paused', hidden: true }, 'Paused');
  const pause = h('select', { id: pauseId, class: 'select-input', disabled: true },
    pausedOption,
    h('option', { value: '' }, 'Not paused'),
    h('option', { value: '1' }, 'For 1 hour'),
    h('option', { value: '8' }, 'For 8 hours'),
    h('option', { value: '24' }, 'For 24 hours'));
  const pausedNote = h('p', { class: 'field-hint' });
  const quiet = h('input', { id: quietId, type: 'checkbox', disabled: true });
  const quietFrom = h('input', { id: quietFromId, type: 'time', value: '22:00', disabled: true });
  const quietTo = h('input', { id: quietToId, type: 'time', value: '07:00', disabled: true });
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const status = h('p', { class: 'form-error', role: 'status' });
  const device = h('button', { type: 'button', class: 'btn btn-primary', disabled: true }, 'Turn on notifications on this device');
  const deviceNote = h('p', { class: 'field-hint' });
  const clockId = uid('clock');
  const clock = h('select', { id: clockId, class: 'select-input' },
    h('option', { value: 'auto' }, 'As my language shows it'),
    h('option', { value: '12' }, '12-hour (9:05 PM)'),
    h('option', { value: '24' }, '24-hour (21:05)'));
  clock.value = clockPreference();
  clock.addEventListener('change', () => {
    setClockPreference(clock.value);
    // Every time on screen is drawn again.
    for (const c of ctx.store.allConversations()) ctx.store.touch(`conv:${c.id}`);
    ctx.store.touch('list');
  });
  d.body.append(
    h('div', { class: 'field' }, h('label', { for: pushId }, 'Notify me about'), push),
    h('div', { class: 'field field-inline' }, previews, h('label', { for: previewsId }, 'Show message text in notifications')),
    h('h3', { class: 'dialog-subtitle' }, 'Do not disturb'),
    h('div', { class: 'field' }, h('label', { for: pauseId }, 'Pause notifications'), pause),
    pausedNote,
    h('div', { class: 'field field-inline' }, quiet, h('label', { for: quietId }, 'Quiet hours every day')),
    h('div', { class: 'field-row' },
      h('label', { for: quietFromId }, 'From'), quietFrom,
      h('label', { for: quietToId }, 'to'), quietTo),
    h('h3', { class: 'dialog-subtitle' }, 'Email'),
    h('div', { class: 'field field-inline' }, digest, h('label', { for: digestId }, 'Email me a digest of unread messages while I am away')),
    h('div', { class: 'field' }, h('label', { for: emailId }, 'Email address'), emailForm),
    h('h3', { class: 'dialog-subtitle' }, 'This device'),
    deviceNote, device,
    h('div', { class: 'field' }, h('label', { for: clockId }, 'Clock'), clock),
    status);

  const renderDnd = (p) => {
    const until = p.dnd_until ? new Date(p.dnd_until) : null;
    const paused = !!until && until > new Date();
    pausedOption.hidden = !paused;
    pausedOption.textContent = paused
      ? `Paused until ${until.toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit' })}`
      : 'Paused';
    pause.value = paused ? 'paused' : '';
    pausedNote.textContent = paused ? 'Messages arrive as usual; nothing notifies until then.' : '';
    quiet.checked = !!p.quiet_hours;
    if (p.quiet_hours) { quietFrom.value = p.quiet_hours.from; quietTo.value = p.quiet_hours.to; }
    quietFrom.disabled = quietTo.disabled = !quiet.checked;
  };
  api.notificationPrefs().then((p) => {
    push.value = p.push;
    previews.checked = !!p.previews;
    digest.checked = p.email === 'digest';
    renderDnd(p);
    push.disabled = false;
    previews.disabled = false;
    digest.disabled = false;
    pause.disabled = false;
    quiet.disabled = false;
  }).catch((e) => { status.textContent = (e && e.message) || 'Could not load the settings'; });
  api.me().then((me) => {
    email.value = me.email || '';
    email.disabled = false;
    saveEmail.disabled = false;
  }).catch(() => {});
  emailForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    status.textContent = '';
    saveEmail.disabled = true;
    try {
      const me = await api.updateMe({ email: email.value.trim() });
      email.value = me.email || '';
      ctx.toast(me.email ? 'Email address saved' : 'Email address removed');
    } catch (e) {
      status.textContent = (e && e.message) || 'Could not save the address';
    }
    saveEmail.disabled = false;
  });

  const save = async (fields) => {
    status.textContent = '';
    try {
      const p = await api.updateNotificationPrefs(fields);
      push.value = p.push;
      previews.checked = !!p.previews;
      digest.checked = p.email === 'digest';
      renderDnd(p);
      ctx.toast('Notification settings saved');
    } catch (e) {
      status.textContent = (e && e.message) || 'Could not save';
    }
  };
  push.addEventListener('change', () => save({ push: push.value }));
  previews.addEventListener('change', () => save({ previews: previews.checked }));
  digest.addEventListener('change', () => save({ email: digest.checked ? 'digest' : 'off' }));
  pause.addEventListener('change', () => {
    if (pause.value === 'paused') return;
    const hours = Number(pause.value);
    save({ dnd_until: hours ? new Date(Date.now() + hours * 3600_000).toISOString() : null });
  });
  const saveQuiet = () => save({
    quiet_hours: quiet.checked ? { from: quietFrom.value, to: quietTo.value, time_zone: zone } : null,
  });
  quiet.addEventListener('change', saveQuiet);
  quietFrom.addEventListener('change', () => { if (quiet.checked) saveQuiet(); });
  quietTo.addEventListener('change', () => { if (quiet.checked) saveQuiet(); });

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
