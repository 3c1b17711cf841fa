// Receipts slice: the other members' delivered/read watermarks per
// conversation, my own read position, and the status of my messages.

import { maxStatus } from './messages.js';

/** Highest seqs of my own messages the server said were delivered/read. */
function floors(store, cid) {
  let delivered = 0;
  let read = 0;
  for (const m of store.messagesOf(cid)) {
    if (m.sender_id !== (store.me && store.me.id)) continue;
    if (m.status === 'read') read = Math.max(read, m.seq);
    if (m.status === 'read' || m.status === 'delivered') delivered = Math.max(delivered, m.seq);
  }
  return { delivered, read };
}

/** The others whose watermarks count for `msg`, when known. */
function othersFor(store, conv, msg) {
  if (conv.kind === 'direct' && conv.peer) return [conv.peer.id];
  const members = store.membersOf(conv.id);
  if (!members) return null;
  return members.filter((m) => m.user_id !== store.me.id && (m.joined_seq || 0) <= msg.seq).map((m) => m.user_id);
}

function fromWatermarks(store, conv, msg, wm, computed) {
  const others = othersFor(store, conv, msg);
  if (others) {
    if (others.length === 0) return computed;
    const all = (k) => others.every((u) => { const w = wm.get(u); return w && w[k] >= msg.seq; });
    if (all('read_seq')) return 'read';
    if (all('delivered_seq')) return 'delivered';
    return computed;
  }
  const need = Math.max(1, (conv.member_count || 2) - 1);
  let nd = 0; let nr = 0;
  for (const w of wm.values()) {
    if (w.delivered_seq >= msg.seq) nd += 1;
    if (w.read_seq >= msg.seq) nr += 1;
  }
  if (nr >= need) return 'read';
  if (nd >= need) return 'delivered';
  return computed;
}

export function createReceipts(store) {
  const watermarks = new Map(); // cid -> Map(uid -> {delivered_seq, read_seq})
  store.on('removed', (cid) => watermarks.delete(cid));

  return {
    reset() { watermarks.clear(); },
    api: {
      applyReceipt(f) {
        const cid = f.conversation_id;
        let wm = watermarks.get(cid);
        if (!wm) { wm = new Map(); watermarks.set(cid, wm); }
        const prev = wm.get(f.user_id) || { delivered_seq: 0, read_seq: 0 };
        wm.set(f.user_id, {
          delivered_seq: Math.max(prev.delivered_seq, f.delivered_seq || 0, f.read_seq || 0),
          read_seq: Math.max(prev.read_seq, f.read_seq || 0),
        });
        store.touch(`conv:${cid}`, 'list');
      },
      forgetWatermark(cid, uid) {
        const wm = watermarks.get(cid);
        if (wm) wm.delete(uid);
      },
      /** My own watermark moved (ack of message.read / delivered). */
      applyOwnRead(cid, readSeq, unreadCount) {
        const conv = store.conversation(cid);
        if (!conv) return;
        if (readSeq !== undefined) conv.read_seq = Math.max(conv.read_seq || 0, readSeq);
        if (unreadCount !== undefined) conv.unread_count = unreadCount;
        store.touch('list', `conv:${cid}`);
      },
      /** My delivered watermark moved (no re-render: nothing shows it). */
      applyOwnDelivered(cid, seq) {
        const conv = store.conversation(cid);
        if (conv) conv.delivered_seq = Math.max(conv.delivered_seq || 0, seq);
      },
      /**
       * Status of one of my messages: the server's status (REST/ack) upgraded
       * by the receipts pushed since: delivered/read once every other member's
       * watermark reached the message's seq.
       */
      statusOf(msg) {
        const base = msg.status || 'sent';
        if (base === 'read') return base;
        const conv = store.conversation(msg.conversation_id);
        if (!conv) return base;
        const floor = floors(store, msg.conversation_id);
        if (floor.read >= msg.seq) return 'read';
        let computed = floor.delivered >= msg.seq ? 'delivered' : 'sent';
        const wm = watermarks.get(msg.conversation_id);
        if (wm) computed = fromWatermarks(store, conv, msg, wm, computed);
        return maxStatus(base, computed);
      },
    },
  };
}
