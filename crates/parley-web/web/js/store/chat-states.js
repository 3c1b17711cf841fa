// Chat states slice: which of my chats are pinned (on top, in pin order)
// and which are archived (in the "Archived" list), as the server keeps them
// for all my devices (GET /users/me/chats, the `chat.state` push). An
// archived chat comes back by itself on a new message unless it is muted:
// the server applies that rule on every read; between reads the client
// applies it to the messages it sees arrive.

export function createChatStates(store) {
  const states = new Map(); // cid -> {pinnedAt: ms|null, archived: bool, atSeq}

  function lastSeqOf(cid) {
    const conv = store.conversation(cid);
    return (conv && conv.last_message && conv.last_message.seq) || 0;
  }

  function put(s) {
    const pinnedAt = s.pinned_at ? Date.parse(s.pinned_at) : null;
    if (!pinnedAt && !s.archived) states.delete(s.conversation_id);
    else states.set(s.conversation_id, { pinnedAt, archived: !!s.archived, atSeq: lastSeqOf(s.conversation_id) });
  }

  return {
    reset() { states.clear(); },
    api: {
      /** The whole list from the server (replaces what was known). */
      setChatStates(list) {
        states.clear();
        for (const s of list || []) put(s);
        store.touch('list', 'chats');
      },
      /** One chat's new state (my answer, or a push from another device). */
      setChatState(s) {
        put(s);
        store.touch('list', 'chats', `conv:${s.conversation_id}`);
      },
      pinnedAt(cid) {
        const s = states.get(cid);
        return s ? s.pinnedAt : null;
      },
      isArchived(conv) {
        const s = conv && states.get(conv.id);
        if (!s || !s.archived) return false;
        return store.isMuted(conv) || lastSeqOf(conv.id) <= s.atSeq;
      },
      pinnedCount() {
        let n = 0;
        for (const [cid, s] of states) if (s.pinnedAt && store.conversation(cid)) n += 1;
        return n;
      },
    },
  };
}
