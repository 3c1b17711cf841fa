// The outbox record: what is stored per pending send. `attachments` is
// empty for now; a later change can keep files (Blobs) there, which
// IndexedDB stores as they are.
//   {client_id, user_id, conversation_id, text, reply_to, attachments,
//    state: 'pending' | 'failed', error, created_at, queued_at}
// In memory an item may also be in state 'sending' (stored as 'pending').

function newClientId() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

let lastQueuedAt = 0;
/** A strictly increasing number within this tab: the send order. */
function queuedAt() {
  lastQueuedAt = Math.max(Date.now(), lastQueuedAt + 0.001);
  return lastQueuedAt;
}

export function newRecord(userId, conversationId, text, replyTo) {
  return {
    client_id: newClientId(),
    user_id: userId,
    conversation_id: conversationId,
    text,
    reply_to: replyTo || null,
    attachments: [],
    state: 'pending',
    error: null,
    created_at: new Date().toISOString(),
    queued_at: queuedAt(),
  };
}

/** What is stored for an item (an item being sent is stored as pending). */
export function toStored(it) {
  return {
    client_id: it.client_id,
    user_id: it.user_id,
    conversation_id: it.conversation_id,
    text: it.text,
    reply_to: it.reply_to || null,
    attachments: it.attachments || [],
    state: it.state === 'failed' ? 'failed' : 'pending',
    error: it.error || null,
    created_at: it.created_at,
    queued_at: it.queued_at,
  };
}

export function bySendOrder(a, b) {
  return (a.queued_at || 0) - (b.queued_at || 0);
}
