// "Forward": a message's text and attachments to one or more of my other
// chats. Each copy goes through the outbox like anything typed (a client id
// of its own, kept across reloads while offline). A message may attach only
// its sender's own uploads (protocol.md §10): my own media is attached
// again as it is; someone else's is fetched and uploaded once as mine, then
// attached to every copy.
import { h, uid, avatar } from '../../util/dom.js';
import { openDialog } from '../../ui/dialog.js';

const MAX_TARGETS = 5;

function attachmentOf(media) {
  return { media, name: media.name, type: media.mime, size: media.size, width: media.width, height: media.height };
}

/** The media objects the copies attach: mine as they are, others' uploaded again. */
async function forwardableMedia(ctx, m) {
  const list = m.attachments || [];
  if (m.sender_id === ctx.store.me.id) return list;
  const out = [];
  for (const media of list) out.push(await ctx.api.uploadMedia(await ctx.api.mediaFile(media)));
  return out;
}

function preview(m) {
  const files = (m.attachments || []).map((a) => a.name || 'file');
  return h('blockquote', { class: 'forward-preview', dir: 'auto' },
    files.length ? h('span', { class: 'forward-files' }, `📎 ${files.join(', ')}`) : null,
    m.text ? h('span', null, m.text) : null);
}

export function openForward(ctx, fromCid, m) {
  const { store, outbox } = ctx;
  const d = openDialog({ label: 'Forward message' });
  const filterId = uid('fwd');
  const filter = h('input', { id: filterId, type: 'search', class: 'search-input', placeholder: 'Search chats', autocomplete: 'off' });
  const list = h('ul', { class: 'user-list check-list', 'aria-label': 'Chats' });
  const note = h('p', { class: 'form-hint', 'aria-live': 'polite' });
  const send = h('button', { type: 'submit', class: 'btn btn-primary', disabled: true }, 'Forward');
  const selected = new Set();
  let busy = false;
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
    send.disabled = selected.size === 0 || busy;
    note.textContent = selected.size >= MAX_TARGETS ? `Up to ${MAX_TARGETS} chats at a time.` : '';
  }

  const form = h('form', { class: 'dialog-form' },
    preview(m),
    h('div', { class: 'field' }, h('label', { for: filterId }, 'Forward to'), filter),
    list, note,
    h('div', { class: 'dialog-actions' }, send));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!selected.size || busy) return;
    busy = true;
    send.disabled = true;
    if ((m.attachments || []).length) note.textContent = 'Preparing attachments…';
    let media;
    try {
      media = await forwardableMedia(ctx, m);
    } catch (err) {
      busy = false;
      render();
      note.textContent = err.message || 'Could not forward the attachments.';
      return;
    }
    for (const cid of selected) outbox.add(cid, m.text || null, null, media.map(attachmentOf));
    const n = selected.size;
    d.close();
    ctx.toast(n === 1 ? 'Message forwarded' : `Message forwarded to ${n} chats`);
  });
  filter.addEventListener('input', render);
  d.body.append(form);
  render();
  filter.focus();
}
