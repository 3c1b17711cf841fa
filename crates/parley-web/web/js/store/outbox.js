// Outbox view slice: the pending and failed sends as the screens show them
// (a copy the outbox hands over on every change; the outbox itself lives
// in js/outbox/ and persists to IndexedDB).

export function createOutboxView(store) {
  let items = [];
  return {
    reset() { items = []; },
    api: {
      setOutbox(list) {
        items = list.map((i) => ({ ...i }));
        store.touch('outbox', 'list');
      },
      /** Pending or failed sends of a conversation, in creation order. */
      pendingIn: (cid) => items.filter((i) => i.conversation_id === cid),
    },
  };
}
