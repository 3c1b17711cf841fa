// Gateway events into the store slices, and what follows from them
// (settle the outbox, receipts, refetches).
import { refetchConversation, refreshConversations } from './loaders.js';

function onEvent(s, f) {
  const { store, outbox, receipts } = s;
  const ev = f.event;
  if (!ev) return;
  const r = store.applyEvent(ev);
  if (r === 'unknown') { refetchConversation(s, ev.conversation_id, false); return; }
  if (r === 'gap') { refetchConversation(s, ev.conversation_id, true); return; }
  if (r === 'applied' && ev.type.startsWith('support.')) {
    // The support state (queued, assigned, resolved) lives on the conversation.
    refetchConversation(s, ev.conversation_id, false);
    store.touch('support');
  }
  if (r !== 'applied' || ev.type !== 'message.created') return;
  const m = ev.data.message;
  if (m.sender_id !== store.me.id && s.notifier) s.notifier.onMessage(ev).catch(() => {});
  if (m.sender_id === store.me.id) {
    if (m.client_id) outbox.settle(m.client_id);
  } else if (receipts.isReading(ev.conversation_id)) {
    receipts.markReadSoon();
  } else {
    receipts.queueDelivered(ev.conversation_id, ev.seq);
  }
}

function onConversationAdded(s, f) {
  const { store } = s;
  const added = f.conversation;
  if (added.peer) {
    // The pushed peer's presence is not reliable (the server sends it as
    // offline): keep what we know and ask REST for the current one.
    const known = store.user(added.peer.id);
    if (known && known.presence) added.peer = { ...added.peer, presence: known.presence };
    s.ctx.refreshUser(added.peer.id);
  }
  const conv = store.upsertConversation(added);
  if ((conv.delivered_seq || 0) < (conv.last_seq || 0)) s.receipts.queueDelivered(conv.id, conv.last_seq);
}

function onConversationRemoved(s, f) {
  const { store } = s;
  const conv = store.conversation(f.conversation_id);
  if (!conv) return; // we removed it ourselves (left the group)
  const wasOpen = store.openConversationId === f.conversation_id;
  store.removeConversation(f.conversation_id);
  if (wasOpen) {
    s.ctx.toast(`You are no longer a member of ${store.titleOf(conv) || 'this conversation'}.`);
    s.ctx.navigate(null);
  }
}

/** After every (re)connect: reloads, the outbox pump, receipts. */
function onSynced(s, { resync }, first) {
  const { gateway, outbox, receipts } = s;
  for (const cid of resync) refetchConversation(s, cid, true);
  if (!first) {
    refreshConversations(s);
    const view = s.panes.current();
    if (view) view.refresh();
  }
  outbox.pump();
  receipts.deliverAll();
  receipts.flushDelivered();
  receipts.markReadSoon();
  if (document.visibilityState === 'hidden') gateway.setPresence('away').catch(() => {});
}

export function wireGateway(s) {
  const { gateway, store } = s;
  let syncedOnce = false;
  gateway.on('event', (f) => onEvent(s, f));
  gateway.on('conversation.added', (f) => onConversationAdded(s, f));
  gateway.on('conversation.removed', (f) => onConversationRemoved(s, f));
  gateway.on('receipt', (f) => store.applyReceipt(f));
  gateway.on('typing', (f) => store.applyTyping(f));
  gateway.on('presence', (f) => store.applyPresence(f));
  gateway.on('chat.state', (f) => store.setChatState(f));
  gateway.on('message.mark', (f) => store.setMark(f));
  gateway.on('support.queue', (f) => store.setSupportPosition(f.conversation_id, f.position));
  gateway.on('session_expired', () => s.expired());
  gateway.on('synced', (f) => { onSynced(s, f, !syncedOnce); syncedOnce = true; });
}
