// Typing slice: who is typing where, each entry expiring on its own.

const TYPING_TTL_MS = 6500;

export function createTyping(store) {
  const typing = new Map(); // cid -> Map(uid -> expiresAt)
  let timer = null;
  store.on('removed', (cid) => typing.delete(cid));

  function stopTyping(cid, uid) {
    const m = typing.get(cid);
    if (m && m.delete(uid)) store.touch('typing', 'list', `conv:${cid}`);
  }

  function sweep() {
    const now = Date.now();
    let any = false;
    for (const [cid, m] of typing) {
      for (const [uid, exp] of m) {
        if (exp <= now) { m.delete(uid); store.touch('typing', 'list', `conv:${cid}`); }
      }
      if (m.size) any = true;
    }
    if (!any) { clearInterval(timer); timer = null; }
  }

  return {
    reset() { typing.clear(); clearInterval(timer); timer = null; },
    api: {
      stopTyping,
      applyTyping(f) {
        if (f.typing) {
          let m = typing.get(f.conversation_id);
          if (!m) { m = new Map(); typing.set(f.conversation_id, m); }
          m.set(f.user_id, Date.now() + TYPING_TTL_MS);
          if (!timer) timer = setInterval(sweep, 500);
        } else {
          stopTyping(f.conversation_id, f.user_id);
        }
        store.touch('typing', 'list', `conv:${f.conversation_id}`);
      },
      /** User ids typing in a conversation (excluding me). */
      typingIn(cid) {
        const m = typing.get(cid);
        if (!m) return [];
        const now = Date.now();
        return [...m.entries()].filter(([uid, exp]) => exp > now && uid !== (store.me && store.me.id)).map(([uid]) => uid);
      },
    },
  };
}
