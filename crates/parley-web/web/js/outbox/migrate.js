// The outbox of the previous client lived in localStorage under
// `parley.outbox.<userId>`: a JSON array of
//   {client_id, conversation_id, text, reply_to, created_at, state, error}
// in send order. On first start it is copied into IndexedDB (records not
// there yet) and the key removed once the copy committed.

const KEY_PREFIX = 'parley.outbox.';

function readLegacy(key) {
  try {
    const raw = localStorage.getItem(key);
    if (raw === null) return null;
    const v = JSON.parse(raw);
    return Array.isArray(v) ? v : [];
  } catch { return []; }
}

function toRecord(it, userId, index) {
  return {
    client_id: it.client_id,
    user_id: userId,
    conversation_id: it.conversation_id,
    text: it.text,
    reply_to: it.reply_to || null,
    attachments: [],
    state: it.state === 'failed' ? 'failed' : 'pending',
    error: it.error || null,
    created_at: it.created_at || new Date().toISOString(),
    // Keeps the array's order, before anything queued from now on.
    queued_at: (Date.parse(it.created_at) || 0) + index / 1000,
  };
}

const valid = (it) => it && typeof it.client_id === 'string' && typeof it.conversation_id === 'string' && typeof it.text === 'string';

/**
 * Moves a legacy outbox into `db`. Without a database the items are only
 * returned (and the key kept), so that nothing is lost.
 */
export async function migrateLegacyOutbox(db, userId) {
  const key = KEY_PREFIX + userId;
  const legacy = readLegacy(key);
  if (legacy === null) return [];
  const records = legacy.filter(valid).map((it, i) => toRecord(it, userId, i));
  if (!db) return records;
  await db.putMissing(records);
  try { localStorage.removeItem(key); } catch { /* ignore */ }
  return records;
}

/** Forgets a legacy outbox (sign out with clearing). */
export function removeLegacyOutbox(userId) {
  try { localStorage.removeItem(KEY_PREFIX + userId); } catch { /* ignore */ }
}
