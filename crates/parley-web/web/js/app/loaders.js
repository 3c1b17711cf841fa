// REST reloads the session needs besides the live events.

/** A conversation again (after a gap or an unknown event); 404: it is gone. */
export async function refetchConversation({ api, store }, cid, reloadMessages) {
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

/**
 * A last_message may come without `status` (a pushed event never has one):
 * ask for it (own messages only, a bounded number) so that the list's
 * ticks are right at once.
 */
export function loadLastStatuses({ api, store }) {
  const mine = store.sortedConversations()
    .filter((c) => c.last_message && c.last_message.sender_id === store.me.id && !c.last_message.deleted && !c.last_message.status)
    .slice(0, 30);
  for (const c of mine) {
    api.getMessage(c.last_message.id).then((m) => store.setLastStatus(c.id, m)).catch(() => {});
  }
}

/** Pinned and archived chats (after the conversations, whose last seqs they read). */
export function loadChatStates({ api, store }) {
  return api.chatStates().then((r) => store.setChatStates(r.chats)).catch(() => {});
}

/** Presence, statuses and chat states are not replayed by sync: refresh them. */
export function refreshConversations(s) {
  const { api, store } = s;
  api.allConversations()
    .then((list) => { for (const c of list) store.upsertConversation(c); return loadChatStates(s); })
    .catch(() => {});
}
