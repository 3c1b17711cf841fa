// A signed-in session: the gateway, the outbox, the screen, the router,
// and the wiring from gateway events to the store slices and from the
// store to the views. start() brings it up; stop() tears it down.
import { Gateway } from '../parley/index.js';
import { Outbox } from '../outbox/outbox.js';
import { closeMenu } from '../ui/menu.js';
import { removeAllDialogs } from '../ui/dialog.js';
import { createToast } from '../ui/toast.js';
import { createContext } from './context.js';
import { createLayout } from './layout.js';
import { createPanes } from './panes.js';
import { createRouter } from './router.js';
import { createReceiptSender } from './receipts.js';
import { wireGateway } from './gateway-events.js';
import { createDesktopNotifier } from './desktop-notify.js';
import { watchConnection } from './connection.js';
import { loadChatStates, loadLastStatuses } from './loaders.js';
import { setFaviconBadge } from './favicon.js';

/** Store changes re-render the views that depend on them. */
function renderOnChange(s, layout) {
  const { store } = s;
  s.cleanups.push(store.subscribe((dirty) => {
    if (!s.isActive()) return;
    if (dirty.has('connection')) layout.banner.update(store.connection);
    layout.listView.update(dirty);
    const view = s.panes.current();
    if (view) view.update(dirty);
    const total = store.totalUnread();
    const queued = s.supportQueued || 0;
    if (queued > 0) document.title = `(${queued}) Support queue — Parley`;
    else document.title = total > 0 ? `(${total}) Parley` : 'Parley';
    setFaviconBadge(total);
    if (store.openConversationId && dirty.has(`conv:${store.openConversationId}`)) s.receipts.markReadSoon();
  }));
}

/** Builds the screen and the wiring (once the outbox is loaded). */
function build(s, root) {
  const toast = createToast();
  s.cleanups.push(() => toast.destroy());
  s.ctx = createContext(s, toast);
  s.receipts = createReceiptSender(s);
  s.notifier = createDesktopNotifier(s);
  s.cleanups.push(() => s.receipts.destroy());
  s.cleanups.push(s.store.on('need_user', (id) => { if (s.isActive()) s.ctx.ensureUser(id); }));
  const layout = createLayout(root, s.ctx, toast);
  s.panes = createPanes(s, layout);
  s.cleanups.push(() => s.panes.destroy());
  s.router = createRouter((route) => s.panes.show(route));
  s.cleanups.push(() => s.router.stop());
  wireGateway(s);
  watchConnection(s);
  renderOnChange(s, layout);
  layout.banner.update('connecting');
}

/**
 * @param {{api, store, root, signOut: () => Promise<void>, expired: () => void}} env
 * @param {object} me the signed-in user
 */
export function createSession(env, me) {
  const { api, store, root } = env;
  store.reset();
  store.setMe(me);
  const gateway = new Gateway(api, { getSince: () => store.sinceMap() });
  const outbox = new Outbox({ gateway, api, userId: me.id, onSent: (m) => store.applyOwnMessage(m) });
  outbox.on('change', () => store.setOutbox(outbox.items));
  let stopped = false;
  const s = {
    api, store, gateway, outbox, cleanups: [],
    isActive: () => !stopped,
    signOut: env.signOut,
    expired: env.expired,
    listen(target, type, fn, opts) {
      target.addEventListener(type, fn, opts);
      s.cleanups.push(() => target.removeEventListener(type, fn, opts));
    },
  };

  async function start() {
    await outbox.load();
    if (stopped) return;
    build(s, root);
    try {
      store.setConversations(await api.allConversations());
      loadChatStates(s);
      loadLastStatuses(s);
    } catch (e) {
      if (e.status === 401) return; // onSessionExpired already ended the session
      s.ctx.toast('Could not load your chats; retrying over the live connection.');
    }
    if (stopped) return;
    gateway.start();
    await s.router.start();
  }

  /** Ends the session; with `clearOutbox` (signing out), this user's unsent messages and drafts are deleted. */
  function stop({ clearOutbox = false } = {}) {
    if (stopped) return;
    stopped = true;
    closeMenu(false);
    removeAllDialogs();
    for (const fn of s.cleanups) fn();
    gateway.stop();
    outbox.destroy({ clear: clearOutbox });
    // Signing out (not an expired session) leaves no drafts on the device.
    if (clearOutbox) store.forgetDrafts(); else store.flushDrafts();
    store.reset();
    setFaviconBadge(0);
    if (location.hash) history.replaceState(null, '', location.pathname);
  }

  return { start, stop, isActive: s.isActive };
}
