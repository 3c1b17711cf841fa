// The connection state the banner shows: connected, connecting, or
// offline (the browser says so, or down for more than 8 s); and presence
// following the tab's visibility.

export function watchConnection(s) {
  const { gateway, store, listen } = s;
  let downSince = Date.now();
  function update() {
    if (gateway.state === 'connected') {
      downSince = null;
      store.setConnection('connected');
    } else {
      if (!downSince) downSince = Date.now();
      const offline = !navigator.onLine || Date.now() - downSince > 8000;
      store.setConnection(offline ? 'offline' : 'connecting');
    }
  }
  gateway.on('state', update);
  listen(window, 'online', update);
  listen(window, 'offline', update);
  const timer = setInterval(update, 1000);
  s.cleanups.push(() => clearInterval(timer));

  listen(document, 'visibilitychange', () => {
    const visible = document.visibilityState === 'visible';
    if (gateway.connected) gateway.setPresence(visible ? 'online' : 'away').catch(() => {});
    if (visible) s.receipts.markReadSoon();
  });
}
