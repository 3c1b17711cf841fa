// Users slice: who I am, the users met so far (profiles and presence) and
// the block status per user.

export function createUsers(store) {
  const users = new Map();
  const blocks = new Map(); // uid -> {blocked_by_me, blocked_me}

  function putUser(user) {
    if (!user || !user.id) return;
    const prev = users.get(user.id);
    users.set(user.id, { ...(prev || {}), ...user });
    store.touch('users');
  }

  return {
    reset() { store.me = null; users.clear(); blocks.clear(); },
    api: {
      setMe(user) { store.me = user; putUser(user); },
      putUser,
      user: (id) => users.get(id) || null,

      displayName(id) {
        if (store.me && id === store.me.id) return 'You';
        if (id === 'system') return 'Parley'; // system messages: not a user
        const u = users.get(id);
        if (u) return u.display_name || u.username;
        // Unknown yet (a group member we have not loaded): fetch, and the
        // 'users' change re-renders whoever asked.
        if (id) queueMicrotask(() => store.emit('need_user', id));
        return 'Someone';
      },

      /**
       * A user's presence as this client may claim it. While the connection
       * is down nobody is known to be online: only a last-seen time learnt
       * earlier is shown, and the reconnect's refresh brings the truth.
       */
      presenceOf(u) {
        const p = u && u.presence;
        if (!p) return null;
        if (store.connection === 'connected') return p;
        return p.last_seen_at ? { state: 'unknown', last_seen_at: p.last_seen_at } : null;
      },

      applyPresence(f) {
        const u = users.get(f.user_id);
        if (!u) return;
        u.presence = { state: f.state, last_seen_at: f.last_seen_at };
        store.touch('users', 'list');
        for (const c of store.allConversations()) {
          if (c.peer && c.peer.id === f.user_id) store.touch(`conv:${c.id}`);
        }
      },

      blockOf: (uid) => blocks.get(uid) || null,
      /** A block status learnt for a peer; re-renders the chats with them. */
      setBlock(uid, status, cid) {
        blocks.set(uid, status);
        if (cid) store.touch(`conv:${cid}`);
      },
    },
  };
}
