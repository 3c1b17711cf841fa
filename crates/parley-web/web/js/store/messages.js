// Messages slice: per conversation the messages loaded, keyed by seq (so
// deduplicated by (conversation_id, seq)), and the messages met elsewhere
// (last messages, quoted originals) by id.

const STATUS_RANK = { sending: 0, failed: 0, sent: 1, delivered: 2, read: 3 };

export function maxStatus(a, b) {
  return (STATUS_RANK[b] || 0) > (STATUS_RANK[a] || 0) ? b : a;
}

function bucketFor(state, cid) {
  let b = state.buckets.get(cid);
  if (!b) {
    b = { bySeq: new Map(), hasMoreBefore: true, loaded: false };
    state.buckets.set(cid, b);
  }
  return b;
}

function remember(state, m) { if (m && m.id) state.quoted.set(m.id, m); }

function put(state, b, m) {
  const prev = b.bySeq.get(m.seq);
  // Keep the best known status: REST/acks may carry it, events never do.
  const status = prev ? maxStatus(prev.status, m.status) : m.status;
  const merged = { ...(prev || {}), ...m };
  if (status) merged.status = status;
  if (!m.reactions && prev) merged.reactions = prev.reactions;
  b.bySeq.set(m.seq, merged);
  remember(state, merged);
  return merged;
}

function findMessage(state, cid, messageId) {
  const b = state.buckets.get(cid);
  if (b) for (const m of b.bySeq.values()) if (m.id === messageId) return m;
  return state.quoted.get(messageId) || null;
}

/** The appliers of the message events. */
function messageEvents(store, state) {
  const isMe = (uid) => !!store.me && uid === store.me.id;
  const onReaction = (conv, ev, d) => {
    const m = findMessage(state, conv.id, d.message_id);
    if (!m) return;
    const list = (m.reactions || []).map((r) => ({ ...r }));
    let r = list.find((x) => x.emoji === d.emoji);
    const add = ev.type === 'reaction.added';
    if (!r && add) { r = { emoji: d.emoji, count: 0, me: false }; list.push(r); }
    if (r) {
      r.count = Math.max(0, r.count + (add ? 1 : -1));
      if (isMe(d.user_id)) r.me = add;
    }
    m.reactions = list.filter((x) => x.count > 0);
  };
  return {
    'message.created': (conv, ev, d) => {
      const m = d.message;
      if (!m) return;
      const stored = put(state, bucketFor(state, conv.id), m);
      conv.last_message = stored;
      conv._activity = Date.parse(ev.at) || Date.now();
      if (isMe(m.sender_id)) {
        conv.read_seq = Math.max(conv.read_seq || 0, m.seq);
        conv.delivered_seq = Math.max(conv.delivered_seq || 0, m.seq);
        conv.unread_count = 0;
      } else {
        if (m.kind !== 'system' && m.seq > (conv.read_seq || 0)) conv.unread_count = (conv.unread_count || 0) + 1;
        store.stopTyping(conv.id, m.sender_id);
      }
      store.emit('message', { conversation: conv, message: stored });
    },
    'message.edited': (conv, ev, d) => {
      const m = findMessage(state, conv.id, d.message_id);
      if (m) { m.text = d.text; m.edited_at = d.edited_at; }
      if (conv.last_message && conv.last_message.id === d.message_id) {
        conv.last_message = { ...conv.last_message, text: d.text, edited_at: d.edited_at };
      }
    },
    'message.deleted': (conv, ev, d) => {
      const m = findMessage(state, conv.id, d.message_id);
      if (m) {
        if (!m.deleted && !isMe(m.sender_id) && m.seq > (conv.read_seq || 0) && conv.unread_count > 0) conv.unread_count -= 1;
        m.deleted = true; m.text = null; m.attachments = []; m.reactions = [];
      }
      if (conv.last_message && conv.last_message.id === d.message_id) {
        conv.last_message = { ...conv.last_message, deleted: true, text: null };
      }
    },
    'reaction.added': onReaction,
    'reaction.removed': onReaction,
  };
}

/** Readers, and what REST and acks bring. */
function messageApi(store, state) {
  return {
    rememberMessage: (m) => remember(state, m),
    findMessage: (cid, id) => findMessage(state, cid, id),
    bucket: (cid) => state.buckets.get(cid) || null,
    /** The loaded messages of a conversation, in no particular order. */
    messagesOf: (cid) => (state.buckets.has(cid) ? state.buckets.get(cid).bySeq.values() : []),
    messageList: (cid) => [...(state.buckets.has(cid) ? state.buckets.get(cid).bySeq.values() : [])].sort((a, b) => a.seq - b.seq),
    /** A quoted original fetched over REST. */
    putQuoted(cid, m) { remember(state, m); store.touch(`conv:${cid}`); },
    /** Merge a page of messages from REST (ascending seq). */
    addMessages(cid, messages, { hasMoreBefore, replace = false, newestPage = false } = {}) {
      const b = bucketFor(state, cid);
      if (replace) b.bySeq.clear();
      for (const m of messages) put(state, b, m);
      if (hasMoreBefore !== undefined && (!newestPage || !b.loaded || replace)) b.hasMoreBefore = hasMoreBefore;
      if (newestPage) b.loaded = true;
      store.touch(`conv:${cid}`);
    },
    /** A message acknowledged by the server (ack of our own send). */
    applyOwnMessage(m) {
      const conv = store.conversation(m.conversation_id);
      const b = bucketFor(state, m.conversation_id);
      put(state, b, { ...m, status: m.status || 'sent' });
      if (conv) {
        if (!conv.last_message || conv.last_message.seq <= m.seq) conv.last_message = b.bySeq.get(m.seq);
        conv.last_seq = Math.max(conv.last_seq || 0, m.seq);
        conv.read_seq = Math.max(conv.read_seq || 0, m.seq);
        conv.delivered_seq = Math.max(conv.delivered_seq || 0, m.seq);
        conv.unread_count = 0;
      }
      store.touch('list', `conv:${m.conversation_id}`);
    },
    /** The last message's status learnt over REST (for the list's ticks). */
    setLastStatus(cid, m) {
      const conv = store.conversation(cid);
      if (conv && conv.last_message && conv.last_message.id === m.id && m.status) {
        conv.last_message = { ...conv.last_message, status: m.status };
        store.touch('list');
      }
    },
  };
}

export function createMessages(store) {
  const state = { buckets: new Map(), quoted: new Map() };
  store.on('removed', (cid) => state.buckets.delete(cid));
  return {
    reset() { state.buckets.clear(); state.quoted.clear(); },
    events: messageEvents(store, state),
    api: messageApi(store, state),
  };
}
