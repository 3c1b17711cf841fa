// The "Message info" dialog: one of my messages and who got and read it.
import { h, avatar } from '../../util/dom.js';
import { formatFull } from '../../util/time.js';
import { openDialog, focusClose } from '../../ui/dialog.js';

function receiptRow(ctx, r) {
  const { store } = ctx;
  const name = store.displayName(r.user_id);
  if (!store.user(r.user_id)) ctx.ensureUser(r.user_id);
  return h('li', { class: 'member receipt', 'data-user-id': r.user_id },
    avatar(name, store.user(r.user_id)?.avatar_url, r.user_id, 'sm'),
    h('span', { class: 'user-text' },
      h('span', { class: 'user-name' }, name),
      r.read_at ? h('span', { class: 'receipt-line receipt-read' }, `Read ${formatFull(r.read_at)}`) : null,
      r.delivered_at ? h('span', { class: 'receipt-line' }, `Delivered ${formatFull(r.delivered_at)}`) : null,
      !r.delivered_at && !r.read_at ? h('span', { class: 'receipt-line' }, 'Not delivered yet') : null));
}

export function openMessageInfo(ctx, cid, msg) {
  const d = openDialog({ label: 'Message info' });
  const list = h('ul', { class: 'receipt-list' }, h('li', { class: 'list-empty' }, 'Loading…'));
  d.body.append(
    h('div', { class: 'info-message' },
      h('div', { class: 'bubble own-preview' }, h('div', { class: 'message-text' }, msg.text || ''),
        h('span', { class: 'message-meta' }, formatFull(msg.created_at)))),
    h('h3', { class: 'section-title' }, 'Receipts'),
    list);
  focusClose(d);
  ctx.api.receipts(msg.id).then((res) => {
    const rows = res.receipts.map((r) => receiptRow(ctx, r));
    list.replaceChildren(...(rows.length ? rows : [h('li', { class: 'list-empty' }, 'No receipts.')]));
  }).catch((e) => {
    list.replaceChildren(h('li', { class: 'form-error', role: 'alert' }, e.message || 'Could not load receipts.'));
  });
}
