// Marks slice: my starred messages and the ones I deleted for myself, per
// conversation, as the server keeps them for all my devices
// (GET /conversations/{id}/marks, the `message.mark` push). History still
// carries messages deleted for me: the log leaves them out.

export function createMarks(store) {
  const byConv = new Map(); // cid -> Map(message_id -> {starred, hidden})

  function marksOf(cid) {
    let m = byConv.get(cid);
    if (!m) { m = new Map(); byConv.set(cid, m); }
    return m;
  }

  function put(mark) {
    const m = marksOf(mark.conversation_id);
    if (!mark.starred && !mark.hidden) m.delete(mark.message_id);
    else m.set(mark.message_id, { starred: !!mark.starred, hidden: !!mark.hidden });
  }

  return {
    reset() { byConv.clear(); },
    api: {
      /** A conversation's marks from the server (replaces what was known). */
      setMarks(cid, list) {
        byConv.set(cid, new Map());
        for (const mark of list || []) put(mark);
        store.touch(`conv:${cid}`, 'list');
      },
      /** One message's new marks (my answer, or a push from another device). */
      setMark(mark) {
        put(mark);
        store.touch(`conv:${mark.conversation_id}`, 'list', 'starred');
      },
      isStarred: (cid, mid) => !!(byConv.get(cid)?.get(mid)?.starred),
      isHidden: (cid, mid) => !!(byConv.get(cid)?.get(mid)?.hidden),
    },
  };
}
