// The outbox record: what is stored per pending send.
//   {client_id, user_id, conversation_id, text, reply_to, attachments,
//    state: 'pending' | 'failed', error, created_at, queued_at}
// In memory an item may also be in state 'sending' (stored as 'pending').
// `attachments` (empty for a text message, and in every record written
// before attachments existed, so those read as they are) is a list of
//   {media, file, name, type, size, width, height}
// where `media` is the uploaded media object, or null while `file` (the
// File itself: IndexedDB stores Blobs as they are, so a file not uploaded
// yet survives a reload) still has to be uploaded. In memory an attachment
// may also carry `upload`, the composer's upload in flight (a promise of
// the media object or null) and `follow(fn)` for its progress, which are
// never stored.

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

/** An attachment as stored (without the upload in flight). */
function storedAttachment(a) {
  return {
    media: a.media || null,
    file: a.media ? null : (a.file || null),
    name: a.name || (a.media && a.media.name) || 'file',
    type: a.type || '',
    size: a.size || 0,
    width: a.width || null,
    height: a.height || null,
  };
}

export function newRecord(userId, conversationId, text, replyTo, attachments = []) {
  return {
    client_id: newClientId(),
    user_id: userId,
    conversation_id: conversationId,
    text,
    reply_to: replyTo || null,
    attachments,
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
    attachments: (it.attachments || []).map(storedAttachment),
    state: it.state === 'failed' ? 'failed' : 'pending',
    error: it.error || null,
    created_at: it.created_at,
    queued_at: it.queued_at,
  };
}

export function bySendOrder(a, b) {
  return (a.queued_at || 0) - (b.queued_at || 0);
}
