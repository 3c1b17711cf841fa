// A chat row's own actions: Pin chat / Unpin chat, Archive chat /
// Unarchive chat (per user, on every device: the server keeps them and
// tells my other devices with `chat.state`).
import { h, icon } from '../../util/dom.js';
import { openMessageMenu } from '../../ui/menu.js';
import { onLongPress } from '../../ui/long-press.js';

async function apply(ctx, call, failure) {
  try {
    ctx.store.setChatState(await call());
  } catch (e) {
    ctx.toast(e.message || failure);
  }
}

function itemsFor(ctx, conv) {
  const { store, api } = ctx;
  const pinned = !!store.pinnedAt(conv.id);
  const archived = store.isArchived(conv);
  const items = [];
  if (!archived) {
    items.push(pinned
      ? { label: 'Unpin chat', action: () => apply(ctx, () => api.pinChat(conv.id, false), 'Could not unpin the chat.') }
      : { label: 'Pin chat', action: () => apply(ctx, () => api.pinChat(conv.id, true), 'Could not pin the chat.') });
  }
  items.push(archived
    ? { label: 'Unarchive chat', action: () => apply(ctx, () => api.archiveChat(conv.id, false), 'Could not unarchive the chat.') }
    : { label: 'Archive chat', action: () => apply(ctx, () => api.archiveChat(conv.id, true), 'Could not archive the chat.') });
  return items;
}

/** Opens the menu of a chat's row from its button. */
function openFor(ctx, convId, btn) {
  const conv = ctx.store.conversation(convId);
  if (conv) openMessageMenu(btn, itemsFor(ctx, conv), 'Chat actions');
}

/** A long press on the row opens its menu (touch screens). */
export function chatMenuOnLongPress(ctx, convId, row, btn) {
  onLongPress(row, () => openFor(ctx, convId, btn));
}

/** The row's menu button (shown on hover or focus; on touch screens a long press on the row). */
export function chatMenuButton(ctx, convId) {
  const btn = h('button', {
    type: 'button', class: 'conv-menu-btn', 'aria-label': 'Chat actions', title: 'Chat actions',
    'aria-haspopup': 'menu', 'aria-expanded': 'false',
  }, icon('chevron'));
  btn.addEventListener('click', (e) => {
    e.stopPropagation();
    openFor(ctx, convId, btn);
  });
  return btn;
}
