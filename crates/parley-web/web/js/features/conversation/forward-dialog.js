// "Forward": a message's text to one or more of my other chats. Each copy
// goes through the outbox like anything typed (a client id of its own, kept
// across reloads while offline). Attachments are not forwarded: an upload
// belongs to the message it was sent with (protocol.md §10).
import { h, uid, avatar } from '../../util/dom.js';
import { openDialog } from '../../ui/dialog.js';

const MAX_TARGETS = 5;

export function openForward(ctx, fromCid, m) {
  const { store, outbox } = ctx;
  const d = openDialog({ label: 'Forward message' });
  const filterId = uid('fwd');
  const filter = h('input', { id: filterId, type: 'search', class: 'search-input', placeholder: 'Search chats', autocomplete: 'off' });
  const list = h('ul', { class: 'user-list check-list', 'aria-label': 'Chats' });
  const note = h('p', { class: 'form-hint', 'aria-live': 'polite' });
  const send = h('button', { type: 'submit', class: 'btn btn-primary', disabled: true }, 'Forward');
  const selected = new Set();
  const targets = store.sortedConversations().filter((c) => c.id !== fromCid && !c.support);

  function render() {
    const q = filter.value.trim().toLowerCase();
    const shown = targets.filter((c) => !q || store.titleOf(c).toLowerCase().includes(q));
    list.replaceChildren(...shown.map((c) => {
      const title = store.titleOf(c);
      const peer = store.peerOf(c);
      const cb = h('input', { type: 'checkbox', 'aria-label': title, checked: selected.has(c.id) });
      cb.disabled = !selected.has(c.id) && selected.size >= MAX_TARGETS;
      cb.addEventListener('change', () => {
        if (cb.checked) selected.add(c.id); else selected.delete(c.id);
        render();
      });
      return h('li', null, h('label', { class: 'user-check' }, cb,
        avatar(title, c.kind === 'direct' ? (peer && peer.avatar_url) : c.avatar_url, c.kind === 'direct' && peer ? peer.id : c.id, 'sm'),
        h('span', { class: 'user-text' }, h('span', { class: 'user-name' }, title))));
    }));
    if (!shown.length) list.replaceChildren(h('li', { class: 'list-empty' }, 'No chats match.'));
    send.disabled = selected.size === 0;
    note.textContent = selected.size >= MAX_TARGETS ? `Up to ${MAX_TARGETS} chats at a time.` : '';
  }

  const form = h('form', { class: 'dialog-form' },
    h('blockquote', { class: 'forward-preview', dir: 'auto' }, m.text),
    h('div', { class: 'field' }, h('label', { for: filterId }, 'Forward to'), filter),
    list, note,
    h('div', { class: 'dialog-actions' }, send));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!selected.size) return;
    for (const cid of selected) outbox.add(cid, m.text, null, []);
    const n = selected.size;
    d.close();
    ctx.toast(n === 1 ? 'Message forwarded' : `Message forwarded to ${n} chats`);
  });
  filter.addEventListener('input', render);
  d.body.append(form);
  render();
  filter.focus();
}
