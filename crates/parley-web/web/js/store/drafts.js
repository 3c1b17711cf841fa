// Drafts slice: the unsent text of each conversation, per device (kept in
// localStorage under the user's id, so switching chats and reloading keep
// it), shown as "Draft: …" in the list. Signing out forgets them.

const KEY_PREFIX = 'parley.drafts.';
const MAX_CHARS = 10000; // the protocol's longest message

function storage() {
  try { return typeof localStorage === 'undefined' ? null : localStorage; } catch { return null; }
}

export function createDrafts(store) {
  let drafts = null; // Map cid -> text, loaded for store.me on first use
  let loadedFor = null;
  let saveTimer = null;

  function key() { return store.me ? KEY_PREFIX + store.me.id : null; }

  function load() {
    const k = key();
    if (drafts && loadedFor === k) return drafts;
    drafts = new Map();
    loadedFor = k;
    const raw = k && storage() ? storage().getItem(k) : null;
    if (raw) {
      try {
        const obj = JSON.parse(raw);
        for (const [cid, text] of Object.entries(obj || {})) {
          if (typeof text === 'string' && text.trim()) drafts.set(cid, text.slice(0, MAX_CHARS));
        }
      } catch { /* a damaged entry is no draft */ }
    }
    return drafts;
  }

  function save() {
    saveTimer = null;
    const k = key();
    const st = storage();
    if (!k || !st || !drafts) return;
    try {
      if (drafts.size) st.setItem(k, JSON.stringify(Object.fromEntries(drafts)));
      else st.removeItem(k);
    } catch { /* storage full or denied: drafts live until reload */ }
  }

  return {
    reset() {
      if (saveTimer) { clearTimeout(saveTimer); save(); }
      drafts = null;
      loadedFor = null;
    },
    api: {
      draftOf: (cid) => load().get(cid) || '',
      /** Keeps (or, for blank text, forgets) the draft of a conversation. */
      setDraft(cid, text) {
        const map = load();
        const had = map.get(cid) || '';
        const next = text && text.trim() ? String(text).slice(0, MAX_CHARS) : '';
        if (had === next) return;
        if (next) map.set(cid, next); else map.delete(cid);
        store.touch('list');
        if (!saveTimer) saveTimer = setTimeout(save, 300);
      },
      flushDrafts() { if (saveTimer) { clearTimeout(saveTimer); save(); } },
      /** Signing out: this device keeps no drafts of the user. */
      forgetDrafts() {
        if (saveTimer) { clearTimeout(saveTimer); saveTimer = null; }
        const k = key();
        if (k && storage()) { try { storage().removeItem(k); } catch { /* ignore */ } }
        drafts = new Map();
      },
    },
  };
}
