// Telling the server what I have: "delivered" for every conversation with
// something new (batched), "read" for the open one while the tab is visible.

export function createReceiptSender({ api, store, gateway }) {
  const readSent = new Map();
  const deliverQueue = new Map();
  let readTimer = null;
  let deliverTimer = null;

  const isReading = (cid) => store.openConversationId === cid && document.visibilityState === 'visible';

  function markRead() {
    const cid = store.openConversationId;
    const conv = store.conversation(cid);
    if (!conv || document.visibilityState !== 'visible') return;
    const seq = conv.last_seq || 0;
    if (!(conv.unread_count > 0 || (conv.read_seq || 0) < seq)) return;
    if ((readSent.get(cid) || 0) >= seq) return;
    readSent.set(cid, seq);
    const p = gateway.connected ? gateway.markRead(cid, seq) : api.markRead(cid, seq);
    p.then((r) => store.applyOwnRead(cid, r.read_seq, r.unread_count))
      .catch(() => { if ((readSent.get(cid) || 0) === seq) readSent.delete(cid); });
  }

  function markReadSoon() {
    clearTimeout(readTimer);
    readTimer = setTimeout(markRead, 120);
  }

  function flushDelivered() {
    if (!gateway.connected) return; // redone after the next sync
    for (const [cid, seq] of deliverQueue) {
      deliverQueue.delete(cid);
      gateway.markDelivered(cid, seq).then((r) => store.applyOwnDelivered(cid, r.delivered_seq || seq)).catch(() => {});
    }
  }

  function queueDelivered(cid, seq) {
    deliverQueue.set(cid, Math.max(deliverQueue.get(cid) || 0, seq));
    clearTimeout(deliverTimer);
    deliverTimer = setTimeout(flushDelivered, 100);
  }

  function deliverAll() {
    for (const conv of store.allConversations()) {
      if ((conv.delivered_seq || 0) < (conv.last_seq || 0) && !isReading(conv.id)) queueDelivered(conv.id, conv.last_seq);
    }
  }

  return {
    isReading, markReadSoon, queueDelivered, deliverAll, flushDelivered,
    destroy() { clearTimeout(readTimer); clearTimeout(deliverTimer); },
  };
}
