// What the message log should show, in order: day separators, the stored
// messages, then my pending sends not on the server yet. Each item has a
// key (stable across renders) and a signature (its element is rebuilt only
// when that changes).
import { h } from '../../util/dom.js';
import { formatDay, dayKey, formatTime } from '../../util/time.js';
import { messageEl } from './message.js';

function sigOf(store, cid, m, pending) {
  if (pending) {
    return JSON.stringify(['p', m.state, m.text, m.error, m.reply_to && store.findMessage(cid, m.reply_to)?.text,
      (m.attachments || []).map((a) => (a.media ? a.media.id : a.name))]);
  }
  const q = m.reply_to ? store.findMessage(cid, m.reply_to) : null;
  return JSON.stringify([m.seq, m.text, m.deleted, m.edited_at, m.reactions, (m.attachments || []).map((a) => a.id),
    q && [q.text, q.deleted], store.displayName(m.sender_id), store.isStarred(cid, m.id), formatTime(m.created_at)]);
}

function daySeparator(m, dk) {
  const label = formatDay(m.created_at);
  return { key: `day:${dk}`, sig: label, make: () => h('div', { class: 'day-separator', role: 'separator', 'aria-label': label }, h('span', null, label)) };
}

export function desiredItems(ctx, cid, actions) {
  const { store } = ctx;
  const msgs = store.messageList(cid);
  const known = new Set(msgs.map((m) => m.client_id).filter(Boolean));
  const pend = store.pendingIn(cid).filter((p) => !known.has(p.client_id));
  const out = [];
  let day = null;
  let prevSender = null;
  const push = (m, pending) => {
    const dk = dayKey(m.created_at);
    const sender = pending ? store.me.id : (m.kind === 'system' ? null : m.sender_id);
    const first = sender !== prevSender || dk !== day;
    prevSender = sender;
    if (dk !== day) { day = dk; out.push(daySeparator(m, dk)); }
    const own = pending || m.sender_id === store.me.id;
    out.push({
      key: m.client_id && own ? `c:${m.client_id}` : `m:${m.seq}`,
      sig: `${first ? 1 : 0}${sigOf(store, cid, m, pending)}`,
      own,
      status: !pending && own && m.kind !== 'system' && !m.deleted ? store.statusOf(m) : null,
      make: () => {
        const e = messageEl(ctx, cid, m, { pending, first, actions });
        if (first) e.classList.add('first-in-group');
        return e;
      },
    });
  };
  for (const m of msgs) if (!store.isHidden(cid, m.id)) push(m, false);
  for (const p of pend) push(p, true);
  return out;
}
