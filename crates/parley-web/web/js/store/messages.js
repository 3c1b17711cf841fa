// Messages slice: per conversation the messages loaded, keyed by seq (so
// deduplicated by (conversation_id, seq)), and the messages met elsewhere
// (last messages, quoted originals) by id.

const STATUS_RANK = { sending: 0, failed: 0, sent: 1, delivered: 2, read: 3 };

export function maxStatus(a, b) {
  return (STATUS_RANK[b] || 0) > (STATUS_RANK[a] || 0) ? b : a;
}

export function createMessages(store) {
  const buckets = new Map(); // cid -> {bySeq: Map, hasMoreBefore, loaded}
  const quoted = new Map(); // message id -> message
  store.on('removed', (cid) => buckets.delete(cid));

  function bucketFor(cid) {
    let b = buckets.get(cid);
    if (!b) {
      b = { bySeq: new Map(), hasMoreBefore: true, loaded: false };
      buckets.set(cid, b);
    }
    return b;
  }

  function remember(m) { if (m && m.id) quoted.set(m.id, m); }

  function put(b, m) {
    const prev = b.bySeq.get(m.seq);
    // Keep the best known status: REST/acks may carry it, events never do.
    const status = prev ? maxStatus(prev.status, m.status) : m.status;
    const merged = { ...(prev || {}), ...m };
    if (status) merged.status = status;
    if (!m.reactions && prev) merged.reactions = prev.reactions;
    b.bySeq.set(m.seq, merged);
    remember(merged);
    return merged;
  }

  function findMessage(cid, messageId) {
    const b = buckets.get(cid);
    if (b) for (const m of b.bySeq.values()) if (m.id === messageId) return m;
    return quoted.get(messageId) || null;
  }

  function onCreated(conv, ev, d) {
    const m = d.message;
    if (!m) return;
    const stored = put(bucketFor(conv.id), m);
    conv.last_message = stored;
    conv._activity = Date.parse(ev.at) || Date.now();
    if (store.me && m.sender_id === store.me.id) {
      conv.read_seq = Math.max(conv.read_seq || 0, m.seq);
      conv.delivered_seq = Math.max(conv.delivered_seq || 0, m.seq);
      conv.unread_count = 0;
    } else {
      if (m.kind !== 'system' && m.seq > (conv.read_seq || 0)) conv.unread_count = (conv.unread_count || 0) + 1;
      store.stopTyping(conv.id, m.sender_id);
    }
    store.emit('message', { conversation: conv, message: stored });
  }

  function onEdited(conv, ev, d) {
    const m = findMessage(conv.id, d.message_id);
    if (m) { m.text = d.text; m.edited_at = d.edited_at; }
    if (conv.last_message && conv.last_message.id === d.message_id) {
      conv.last_message = { ...conv.last_message, text: d.text, edited_at: d.edited_at };
    }
  }

  function onDeleted(conv, ev, d) {
    const m = findMessage(conv.id, d.message_id);
    if (m) {
      const mine = store.me && m.sender_id === store.me.id;
      if (!m.deleted && !mine && m.seq > (conv.read_seq || 0) && conv.unread_count > 0) conv.unread_count -= 1;
      m.deleted = true; m.text = null; m.attachments = []; m.reactions = [];
    }
    if (conv.last_message && conv.last_message.id === d.message_id) {
      conv.last_message = { ...conv.last_message, deleted: true, text: null };
    }
  }

  function onReaction(conv, ev, d) {
    const m = findMessage(conv.id, d.message_id);
    if (!m) return;
    const list = (m.reactions || []).map((r) => ({ ...r }));
    let r = list.find((x) => x.emoji === d.emoji);
    const add = ev.type === 'reaction.added';
    if (!r && add) { r = { emoji: d.emoji, count: 0, me: false }; list.push(r); }
    if (r) {
      r.count = Math.max(0, r.count + (add ? 1 : -1));
      if (store.me && d.user_id === store.me.id) r.me = add;
    }
    m.reactions = list.filter((x) => x.count > 0);
  }

  return {
    reset() { buckets.clear(); quoted.clear(); },
    events: {
      'message.created': onCreated,
      'message.edited': onEdited,
      'message.deleted': onDeleted,
      'reaction.added': onReaction,
      'reaction.removed': onReaction,
    },
    api: {
      rememberMessage: remember,
      findMessage,
      bucket: (cid) => buckets.get(cid) || null,
      /** The loaded messages of a conversation, in no particular order. */
      messagesOf: (cid) => (buckets.has(cid) ? buckets.get(cid).bySeq.values() : []),
      messageList(cid) {
        const b = buckets.get(cid);
        if (!b) return [];
        return [...b.bySeq.values()].sort((a, b2) => a.seq - b2.seq);
      },
      /** A quoted original fetched over REST. */
      putQuoted(cid, m) { remember(m); store.touch(`conv:${cid}`); },
      /** Merge a page of messages from REST (ascending seq). */
      addMessages(cid, messages, { hasMoreBefore, replace = false, newestPage = false } = {}) {
        const b = bucketFor(cid);
        if (replace) b.bySeq.clear();
        for (const m of messages) put(b, m);
        if (hasMoreBefore !== undefined && (!newestPage || !b.loaded || replace)) b.hasMoreBefore = hasMoreBefore;
        if (newestPage) b.loaded = true;
        store.touch(`conv:${cid}`);
      },
      /** A message acknowledged by the server (ack of our own send). */
      applyOwnMessage(m) {
        const conv = store.conversation(m.conversation_id);
        const b = bucketFor(m.conversation_id);
        put(b, { ...m, status: m.status || 'sent' });
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
    },
  };
}
