// Parley web client entry point: wires the protocol client, the store, the
// outbox and the views together.
import { ParleyClient, Gateway } from './parley/index.js';
import { Store } from './store.js';
import { Outbox } from './outbox.js';
import { h, icon } from './util/dom.js';
import { renderAuth } from './views/auth.js';
import { createListView } from './views/list.js';
import { createConversationView } from './views/conversation.js';
import { createBanner } from './views/banner.js';
import { openNewChat, openNewGroup, openMessageInfo, openConversationInfo } from './views/dialogs.js';
import { closeMenu } from './views/menu.js';

const root = document.getElementById('app');
const store = new Store();
let session = null; // {gateway, outbox, ctx, ...} while signed in

const api = new ParleyClient({
  onSessionExpired: () => {
    if (session) endSession('Your session has expired. Please sign in again.');
  },
});

// ---- Auth -------------------------------------------------------------------

function showAuth(message) {
  document.title = 'Parley';
  renderAuth(root, {
    onSignIn: async (u, p) => { const me = await api.login(u, p); await startSession(me); },
    onSignUp: async (u, d, p) => { const me = await api.register(u, p, d); await startSession(me); },
  });
  if (message) {
    const alert = root.querySelector('[role="alert"]');
    if (alert) alert.textContent = message;
  }
}

function endSession(message, { clearOutbox = false } = {}) {
  if (!session) return;
  const s = session;
  session = null;
  closeMenu(false);
  document.querySelectorAll('dialog').forEach((d) => d.remove());
  s.teardown();
  s.gateway.stop();
  s.outbox.destroy();
  if (clearOutbox) { try { localStorage.removeItem(s.outbox.key); } catch { /* ignore */ } }
  store.reset();
  if (location.hash) history.replaceState(null, '', location.pathname);
  showAuth(message);
}

// ---- Session ------------------------------------------------------------------

async function startSession(me) {
  store.reset();
  store.setMe(me);
  const gateway = new Gateway(api, { getSince: () => store.sinceMap() });
  const outbox = new Outbox({ gateway, userId: me.id, onSent: (m) => store.applyOwnMessage(m) });
  const cleanups = [];
  const listen = (target, type, fn, opts) => { target.addEventListener(type, fn, opts); cleanups.push(() => target.removeEventListener(type, fn, opts)); };

  // Toasts (transient errors).
  const toastEl = h('div', { class: 'toast', 'aria-live': 'assertive', hidden: true });
  let toastTimer = null;
  const toast = (msg) => {
    toastEl.textContent = msg;
    toastEl.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toastEl.hidden = true; toastEl.textContent = ''; }, 4000);
  };

  const requestedQuotes = new Set();
  const requestedUsers = new Set();
  const ctx = {
    api, store, gateway, outbox, toast,
    navigate: (cid) => {
      const target = cid ? `#/c/${cid}` : '#/';
      if (location.hash !== target) location.hash = target; else route();
    },
    openNewChat: () => openNewChat(ctx),
    openNewGroup: () => openNewGroup(ctx),
    openMessageInfo: (cid, m) => openMessageInfo(ctx, cid, m),
    openConversationInfo: (cid) => openConversationInfo(ctx, cid),
    signOut: async () => {
      const s = session;
      if (!s) return;
      endSession(null, { clearOutbox: true });
      await api.logout();
    },
    fetchQuoted: (cid, id) => {
      if (requestedQuotes.has(id)) return;
      requestedQuotes.add(id);
      api.getMessage(id).then((m) => { store.quoted.set(id, m); store.touch(`conv:${cid}`); }).catch(() => {});
    },
    ensureUser: (id) => {
      if (store.user(id) || requestedUsers.has(id)) return;
      requestedUsers.add(id);
      api.getUser(id).then((u) => store.putUser(u)).catch(() => {});
    },
    refreshUser: (id) => { api.getUser(id).then((u) => store.putUser(u)).catch(() => {}); },
    markReadSoon: () => markReadSoon(),
  };
  store.on('need_user', (id) => ctx.ensureUser(id));

  // ---- Layout --------------------------------------------------------------
  const banner = createBanner();
  const listView = createListView(ctx);
  const pane = h('div', { class: 'pane' });
  const emptyPane = h('div', { class: 'empty-pane' },
    h('div', { class: 'empty-pane-inner' },
      h('span', { class: 'brand-mark big' }, icon('chat')),
      h('p', { class: 'empty-pane-title' }, 'Parley'),
      h('p', { class: 'empty-pane-text' }, 'Select a chat to start messaging, or start a new one.')));
  const shell = h('div', { class: 'app-shell' }, listView.el, pane);
  root.replaceChildren(h('h1', { class: 'visually-hidden' }, 'Parley'), banner.el, shell, toastEl);
  let view = null;

  // ---- Routing ----------------------------------------------------------------
  async function route() {
    const m = /^#\/c\/(.+)$/.exec(location.hash);
    const cid = m ? decodeURIComponent(m[1]) : null;
    if (view && view.cid === cid) return;
    closeMenu(false);
    const previous = view ? view.cid : null;
    const hadFocus = view && view.el.contains(document.activeElement);
    if (view) { view.destroy(); view = null; }
    store.openConversationId = null;
    if (cid && !store.conversation(cid)) {
      try {
        store.upsertConversation(await api.getConversation(cid));
      } catch {
        if (session) ctx.navigate(null);
        return;
      }
      if (!session || location.hash !== `#/c/${cid}`) return;
    }
    if (cid) {
      store.openConversationId = cid;
      view = createConversationView(ctx, cid);
      pane.replaceChildren(view.el);
      shell.classList.add('has-conversation');
      view.focusComposer();
      const conv = store.conversation(cid);
      if (conv.kind !== 'direct' && !store.members.has(cid)) {
        api.members(cid).then((r) => store.setMembers(cid, r.members)).catch(() => {});
      }
      const peer = store.peerOf(conv);
      if (peer) {
        api.blockStatus(peer.id).then((b) => { store.blocks.set(peer.id, b); store.touch(`conv:${cid}`); }).catch(() => {});
      }
      markReadSoon();
    } else {
      pane.replaceChildren(emptyPane);
      shell.classList.remove('has-conversation');
      if (previous && hadFocus) {
        // Back from a conversation: return focus to its row in the list.
        const row = listView.el.querySelector(`.conv-item[data-conversation-id="${CSS.escape(previous)}"] button`);
        if (row) row.focus(); else listView.focusSearch();
      }
    }
    store.touch('list');
  }
  listen(window, 'hashchange', route);

  // ---- Read / delivered ---------------------------------------------------------
  const readSent = new Map();
  let readTimer = null;
  const isReading = (cid) => store.openConversationId === cid && document.visibilityState === 'visible';
  function markReadSoon() {
    clearTimeout(readTimer);
    readTimer = setTimeout(markRead, 120);
  }
  function markRead() {
    const cid = store.openConversationId;
    const conv = store.conversation(cid);
    if (!conv || document.visibilityState !== 'visible') return;
    const seq = conv.last_seq || 0;
    if (!(conv.unread_count > 0 || (conv.read_seq || 0) < seq)) return;
    if ((readSent.get(cid) || 0) >= seq) return;
    readSent.set(cid, seq);
    const p = gateway.connected ? gateway.markRead(cid, seq) : api.markRead(cid, seq);
    p.then((r) => store.applyOwnRead(cid, r.read_seq, r.unread_count))
      .catch(() => { if ((readSent.get(cid) || 0) === seq) readSent.delete(cid); });
  }

  const deliverQueue = new Map();
  let deliverTimer = null;
  function queueDelivered(cid, seq) {
    deliverQueue.set(cid, Math.max(deliverQueue.get(cid) || 0, seq));
    clearTimeout(deliverTimer);
    deliverTimer = setTimeout(flushDelivered, 100);
  }
  function flushDelivered() {
    if (!gateway.connected) return; // redone after the next sync
    for (const [cid, seq] of deliverQueue) {
      deliverQueue.delete(cid);
      gateway.markDelivered(cid, seq).then((r) => {
        const conv = store.conversation(cid);
        if (conv) conv.delivered_seq = Math.max(conv.delivered_seq || 0, r.delivered_seq || seq);
      }).catch(() => {});
    }
  }
  function deliverAll() {
    for (const conv of store.conversations.values()) {
      if ((conv.delivered_seq || 0) < (conv.last_seq || 0) && !isReading(conv.id)) queueDelivered(conv.id, conv.last_seq);
    }
  }

  // ---- Gateway wiring ---------------------------------------------------------------
  async function refetchConversation(cid, reloadMessages) {
    try {
      const conv = await api.getConversation(cid);
      store.upsertConversation(conv);
      const b = store.bucket(cid);
      if (reloadMessages && b && b.loaded) {
        const page = await api.messages(cid, { limit: 50 });
        store.addMessages(cid, page.messages, { hasMoreBefore: page.has_more, replace: true, newestPage: true });
      }
    } catch (e) {
      if (e.status === 404) store.removeConversation(cid);
    }
  }

  gateway.on('event', (f) => {
    const ev = f.event;
    if (!ev) return;
    const r = store.applyEvent(ev);
    if (r === 'unknown') { refetchConversation(ev.conversation_id, false); return; }
    if (r === 'gap') { refetchConversation(ev.conversation_id, true); return; }
    if (r !== 'applied' || ev.type !== 'message.created') return;
    const m = ev.data.message;
    if (m.sender_id === store.me.id) {
      if (m.client_id) outbox.settle(m.client_id);
    } else if (isReading(ev.conversation_id)) {
      markReadSoon();
    } else {
      queueDelivered(ev.conversation_id, ev.seq);
    }
  });
  gateway.on('conversation.added', (f) => {
    const added = f.conversation;
    if (added.peer) {
      // The pushed peer's presence is not reliable (the server sends it as
      // offline): keep what we know and ask REST for the current one.
      const known = store.user(added.peer.id);
      if (known && known.presence) added.peer = { ...added.peer, presence: known.presence };
      ctx.refreshUser(added.peer.id);
    }
    const conv = store.upsertConversation(added);
    if ((conv.delivered_seq || 0) < (conv.last_seq || 0)) queueDelivered(conv.id, conv.last_seq);
  });
  gateway.on('conversation.removed', (f) => {
    const conv = store.conversation(f.conversation_id);
    if (!conv) return; // we removed it ourselves (left the group)
    const wasOpen = store.openConversationId === f.conversation_id;
    store.removeConversation(f.conversation_id);
    if (wasOpen) {
      toast(`You are no longer a member of ${store.titleOf(conv) || 'this conversation'}.`);
      ctx.navigate(null);
    }
  });
  gateway.on('receipt', (f) => store.applyReceipt(f));
  gateway.on('typing', (f) => store.applyTyping(f));
  gateway.on('presence', (f) => store.applyPresence(f));
  gateway.on('session_expired', () => endSession('Your session has expired. Please sign in again.'));

  let syncedOnce = false;
  gateway.on('synced', ({ resync }) => {
    for (const cid of resync) refetchConversation(cid, true);
    if (syncedOnce) {
      // Presence and statuses are not replayed by sync: refresh them.
      api.allConversations().then((list) => { for (const c of list) store.upsertConversation(c); }).catch(() => {});
      if (view) view.refresh();
    }
    syncedOnce = true;
    outbox.pump();
    deliverAll();
    flushDelivered();
    markReadSoon();
    if (document.visibilityState === 'hidden') gateway.setPresence('away').catch(() => {});
  });

  // A last_message may come without `status` (a pushed event never has one): ask for it (own messages
  // only, a bounded number) so that the list's ticks are right at once.
  function loadLastStatuses() {
    const mine = store.sortedConversations()
      .filter((c) => c.last_message && c.last_message.sender_id === me.id && !c.last_message.deleted && !c.last_message.status)
      .slice(0, 30);
    for (const c of mine) {
      api.getMessage(c.last_message.id).then((m) => {
        const conv = store.conversation(c.id);
        if (conv && conv.last_message && conv.last_message.id === m.id && m.status) {
          conv.last_message = { ...conv.last_message, status: m.status };
          store.touch('list');
        }
      }).catch(() => {});
    }
  }

  // ---- Connection banner -----------------------------------------------------------
  let downSince = Date.now();
  function updateConnection() {
    if (gateway.state === 'connected') {
      downSince = null;
      store.setConnection('connected');
    } else {
      if (!downSince) downSince = Date.now();
      const offline = !navigator.onLine || Date.now() - downSince > 8000;
      store.setConnection(offline ? 'offline' : 'connecting');
    }
  }
  gateway.on('state', updateConnection);
  listen(window, 'online', updateConnection);
  listen(window, 'offline', updateConnection);
  const connTimer = setInterval(updateConnection, 1000);
  cleanups.push(() => clearInterval(connTimer));

  listen(document, 'visibilitychange', () => {
    const visible = document.visibilityState === 'visible';
    if (gateway.connected) gateway.setPresence(visible ? 'online' : 'away').catch(() => {});
    if (visible) markReadSoon();
  });

  outbox.on('change', () => store.touch('outbox', 'list'));

  // ---- Store -> views ------------------------------------------------------------
  const unsub = store.subscribe((dirty) => {
    if (!session) return;
    if (dirty.has('connection')) banner.update(store.connection);
    listView.update(dirty);
    if (view) view.update(dirty);
    const total = store.totalUnread();
    document.title = total > 0 ? `(${total}) Parley` : 'Parley';
    if (store.openConversationId && dirty.has(`conv:${store.openConversationId}`)) markReadSoon();
  });
  cleanups.push(unsub);
  cleanups.push(() => { clearTimeout(readTimer); clearTimeout(deliverTimer); clearTimeout(toastTimer); if (view) view.destroy(); });

  session = { gateway, outbox, ctx, teardown: () => cleanups.forEach((fn) => fn()) };
  banner.update('connecting');

  try {
    store.setConversations(await api.allConversations());
    loadLastStatuses();
  } catch (e) {
    if (e.status === 401) return; // onSessionExpired already ended the session
    toast('Could not load your chats; retrying over the live connection.');
  }
  if (!session) return;
  gateway.start();
  await route();
}

// ---- Boot ----------------------------------------------------------------------

async function boot() {
  if (!api.hasSession()) { showAuth(); return; }
  root.replaceChildren(h('div', { class: 'boot' }, h('span', { class: 'brand-mark big' }, icon('chat')), h('p', null, 'Loading Parley…')));
  let delay = 1000;
  for (;;) {
    try {
      const me = await api.me();
      await startSession(me);
      return;
    } catch (e) {
      if (!api.hasSession() || e.status === 401) { showAuth(); return; }
      // Server unreachable: keep trying (the refresh token stays stored).
      root.replaceChildren(h('div', { class: 'boot' }, h('span', { class: 'brand-mark big' }, icon('chat')),
        h('p', { role: 'status' }, 'Offline'), h('p', { class: 'boot-hint' }, 'Cannot reach the server; retrying…')));
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30000);
    }
  }
}

boot();
