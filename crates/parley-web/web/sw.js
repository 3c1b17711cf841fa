// Parley's service worker: shows Web Push notifications (protocol.md §12)
// and opens the conversation when one is clicked. Registered only after
// the user turns notifications on (Settings > Notifications), never on
// first load. A push for a conversation replaces the one before it (the
// tag), as the server's Topic does on the push service; a `read` update
// closes it.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let data = null;
  try { data = event.data ? event.data.json() : null; } catch { data = null; }
  if (data && data.type === 'read' && data.conversation_id) {
    // Read on another device: its notification goes (a silent update,
    // sent only to devices that were shown one).
    event.waitUntil(self.registration.getNotifications({ tag: `conv:${data.conversation_id}` })
      .then((shown) => shown.forEach((n) => n.close())));
    return;
  }
  if (!data || data.type !== 'message' || !data.conversation_id) return;
  const title = data.title || data.sender_name || 'New message';
  const more = data.unread_count > 1 ? ` (${data.unread_count} unread)` : '';
  const body = data.preview != null
    ? (data.title !== data.sender_name ? `${data.sender_name}: ${data.preview}` : data.preview)
    : `New message${more}`;
  event.waitUntil(self.registration.showNotification(title, {
    body,
    tag: `conv:${data.conversation_id}`,
    renotify: true,
    icon: '/favicon.svg',
    data: { conversation_id: data.conversation_id, seq: data.seq },
  }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const cid = event.notification.data && event.notification.data.conversation_id;
  const target = cid ? `/#/c/${encodeURIComponent(cid)}` : '/';
  event.waitUntil((async () => {
    const wins = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const w of wins) {
      if (new URL(w.url).origin === self.location.origin) {
        await w.focus();
        if ('navigate' in w) await w.navigate(target);
        return;
      }
    }
    await self.clients.openWindow(target);
  })());
});
