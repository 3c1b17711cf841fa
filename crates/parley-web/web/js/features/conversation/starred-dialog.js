// "Starred messages": my starred list across every chat (newest star
// first, from the server, so the same on all my devices); a click opens
// the chat at the message.
import { h } from '../../util/dom.js';
import { openDialog } from '../../ui/dialog.js';
import { formatListTime } from '../../util/time.js';
import { attachmentSummary } from '../media/summary.js';

export function openStarred(ctx) {
  const { api, store } = ctx;
  const d = openDialog({ label: 'Starred messages' });
  const status = h('p', { class: 'search-status', role: 'status' }, 'Loading…');
  const list = h('ul', { class: 'search-hits starred-list' });
  const more = h('button', { type: 'button', class: 'btn', hidden: true, onclick: () => load() }, 'More');
  d.body.append(status, list, more);
  let cursor = null;

  function item(s) {
    const m = s.message;
    ctx.ensureUser(m.sender_id);
    const conv = store.conversation(m.conversation_id);
    const who = m.sender_id === store.me.id ? 'You' : store.displayName(m.sender_id);
    const where = conv ? store.titleOf(conv) : 'Chat';
    return h('li', null, h('button', {
      type: 'button', class: 'search-hit',
      onclick: () => { d.close(); ctx.openMessage(m.conversation_id, m.id, m.seq); },
    },
    h('span', { class: 'search-hit-meta' }, `${who} in ${where} · ${formatListTime(m.created_at)}`),
    h('span', { class: 'search-hit-snippet', dir: 'auto' }, m.text || attachmentSummary(m.attachments))));
  }

  async function load() {
    try {
      const page = await api.starred(cursor);
      for (const s of page.starred) list.append(item(s));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      status.textContent = list.children.length ? '' : 'No starred messages. Star one from its menu to keep it here.';
    } catch (e) {
      status.textContent = e.message || 'Could not load your starred messages.';
    }
  }
  load();
}
