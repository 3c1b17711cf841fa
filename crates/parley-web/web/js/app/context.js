// The context every feature gets: the clients, the store, the outbox, and
// the few session actions they call back into.
import { openNewChat } from '../features/list/new-chat.js';
import { openNewGroup } from '../features/groups/new-group.js';
import { openMessageSearch } from '../features/search/search-dialog.js';
import { createSignedUrls } from '../features/media/signed-urls.js';

export function createContext(s, toast) {
  const { api, store, gateway, outbox } = s;
  const requestedQuotes = new Set();
  const requestedUsers = new Set();
  const ctx = {
    api, store, gateway, outbox,
    /** Signed media URLs, shared by every element of the session. */
    signedUrls: createSignedUrls(api),
    toast: (msg, action) => toast.show(msg, action),
    openSupport: () => s.router.go({ name: 'support' }),
    /** The number of chats waiting in my inboxes' queues (for the tab title). */
    setSupportQueued(n) { if (s.supportQueued !== n) { s.supportQueued = n; store.touch('support'); } },
    navigate: (cid) => s.router.go(cid ? { name: 'conversation', cid } : { name: 'list' }),
    openNewChat: () => openNewChat(ctx),
    openNewGroup: () => openNewGroup(ctx),
    /** The message search, offering the open conversation as its scope. */
    openMessageSearch: () => openMessageSearch(ctx, { conversationId: store.openConversationId || undefined }),
    /** Opens a conversation at one of its messages (loading older pages to it). */
    async openMessage(cid, messageId, seq) {
      s.router.go({ name: 'conversation', cid });
      for (let i = 0; i < 100; i += 1) {
        const view = s.panes.current();
        if (view && view.cid === cid && view.showMessage) { await view.showMessage(messageId, seq); return; }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    signOut: () => s.signOut(),
    markReadSoon: () => s.receipts.markReadSoon(),
    /** The original of a reply, when not loaded (once per id). */
    fetchQuoted(cid, id) {
      if (requestedQuotes.has(id)) return;
      requestedQuotes.add(id);
      api.getMessage(id).then((m) => store.putQuoted(cid, m)).catch(() => {});
    },
    /** A user's profile, when not known yet (once per id). */
    ensureUser(id) {
      if (!id || id === 'system' || store.user(id) || requestedUsers.has(id)) return;
      requestedUsers.add(id);
      api.getUser(id).then((u) => store.putUser(u)).catch(() => {});
    },
    refreshUser(id) { api.getUser(id).then((u) => store.putUser(u)).catch(() => {}); },
  };
  return ctx;
}
