// Conversations slice: the summaries the list shows, and the highest seq
// applied per conversation (what the gateway `sync` resumes from).

function activityOf(conv) {
  const t = conv.last_message ? Date.parse(conv.last_message.created_at) : 0;
  return Math.max(t || 0, Date.parse(conv.created_at) || 0, conv._activity || 0);
}

function upsertConversation(store, state, conv) {
  const prev = state.conversations.get(conv.id);
  const merged = { ...(prev || {}), ...conv };
  if (prev && prev.last_seq > conv.last_seq) {
    // A live event beat this REST snapshot: keep the newer summary.
    merged.last_seq = prev.last_seq;
    merged.last_message = prev.last_message;
    merged.unread_count = prev.unread_count;
    merged.read_seq = Math.max(prev.read_seq || 0, conv.read_seq || 0);
  }
  if (conv.peer) store.putUser(conv.peer);
  if (conv.last_message) store.rememberMessage(conv.last_message);
  state.conversations.set(conv.id, merged);
  state.applied.set(conv.id, Math.max(state.applied.get(conv.id) || 0, conv.last_seq || 0));
  store.touch('list', `conv:${conv.id}`);
  return merged;
}

function removeConversation(store, state, id) {
  state.conversations.delete(id);
  state.applied.delete(id);
  store.emit('removed', id); // the other slices forget it too
  store.touch('list', `conv:${id}`);
}

function peerOf(store, conv) {
  if (!conv || conv.kind !== 'direct' || !conv.peer) return null;
  return store.user(conv.peer.id) || conv.peer;
}

/** Admit event `seq`: 'applied' (and recorded), 'duplicate', 'gap' or 'unknown'. */
function advance(state, cid, seq) {
  const conv = state.conversations.get(cid);
  if (!conv) return 'unknown';
  const last = state.applied.get(cid) || 0;
  if (seq <= last) return 'duplicate';
  if (seq > last + 1) return 'gap';
  state.applied.set(cid, seq);
  conv.last_seq = Math.max(conv.last_seq || 0, seq);
  return 'applied';
}

function conversationApi(store, state) {
  const { conversations, applied } = state;
  return {
    upsertConversation: (conv) => upsertConversation(store, state, conv),
    removeConversation: (id) => removeConversation(store, state, id),
    peerOf: (conv) => peerOf(store, conv),
    advance: (cid, seq) => advance(state, cid, seq),
    setConversations(list) {
      const seen = new Set();
      for (const c of list) { seen.add(c.id); upsertConversation(store, state, c); }
      for (const id of [...conversations.keys()]) if (!seen.has(id)) removeConversation(store, state, id);
      store.touch('list');
    },
    conversation: (id) => conversations.get(id) || null,
    allConversations: () => conversations.values(),
    /** Pinned chats first (in pin order), then the rest, most recent first. */
    sortedConversations: () => [...conversations.values()].sort((a, b) => {
      const pa = store.pinnedAt(a.id);
      const pb = store.pinnedAt(b.id);
      if (pa || pb) return (pa || Infinity) - (pb || Infinity);
      return activityOf(b) - activityOf(a);
    }),
    titleOf(conv) {
      if (!conv) return '';
      if (conv.kind === 'direct') {
        const p = peerOf(store, conv);
        return p ? (p.display_name || p.username) : 'Direct chat';
      }
      return conv.title || 'Group';
    },
    totalUnread() {
      let n = 0;
      for (const c of conversations.values()) n += c.unread_count || 0;
      return n;
    },
    isMuted: (conv) => !!(conv && conv.muted_until && Date.parse(conv.muted_until) > Date.now()),
    /** {conversation_id: last applied seq} for the gateway `sync`. */
    sinceMap: () => Object.fromEntries(applied),
    /** My place in a support queue (the `support.queue` push). */
    setSupportPosition(cid, position) {
      const conv = conversations.get(cid);
      if (!conv || !conv.support) return;
      conv.support = { ...conv.support, position };
      store.touch(`conv:${cid}`, 'support');
    },
    /** A new setting of mine on a conversation (mute, title...). */
    patchConversation(cid, fields) {
      const conv = conversations.get(cid);
      if (conv) Object.assign(conv, fields);
      store.touch('list', `conv:${cid}`);
    },
  };
}

export function createConversations(store) {
  const state = { conversations: new Map(), applied: new Map() };
  return {
    reset() { state.conversations.clear(); state.applied.clear(); },
    events: {
      'conversation.updated': (conv, ev, d) => {
        for (const k of ['title', 'avatar_url']) if (k in d) conv[k] = d[k];
      },
    },
    api: conversationApi(store, state),
  };
}
