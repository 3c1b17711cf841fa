// The conversation list (left pane): my profile and the actions, the
// filter box, and one row per conversation, most recent first.
import { h, icon, uid } from '../../util/dom.js';
import { createProfileBox } from '../settings/profile.js';
import { signOutButton } from '../settings/sign-out.js';
import { notificationsButton } from '../settings/notifications.js';
import { rowContent, rowSignature } from './row.js';
import { chatMenuButton, chatMenuOnLongPress } from './chat-menu.js';
import { openStarred } from '../conversation/starred-dialog.js';

function matches(store, conv, q) {
  if (!q) return true;
  const peer = store.peerOf(conv);
  return store.titleOf(conv).toLowerCase().includes(q) || (peer && peer.username && peer.username.includes(q));
}

const isAgent = (me) => !!me && (me.role === 'agent' || me.role === 'admin');

export function createListView(ctx) {
  const { store } = ctx;
  const searchId = uid('search');
  const search = h('input', { id: searchId, type: 'search', class: 'search-input', placeholder: 'Search chats', autocomplete: 'off' });
  const list = h('ul', { class: 'conv-list' });
  const empty = h('p', { class: 'list-empty', hidden: true });
  const profile = createProfileBox(ctx);
  const rows = new Map(); // cid -> {li, button, sig}
  // The main list, or the Archived list (entered from its row on top).
  let showArchived = false;
  const archivedCount = h('span', { class: 'archived-count', 'aria-hidden': 'true' });
  const archivedEntry = h('button', {
    type: 'button', class: 'archived-entry', hidden: true,
    onclick: () => { showArchived = true; render(); archivedBack.focus(); },
  }, icon('archive'), h('span', { class: 'archived-label' }, 'Archived'), archivedCount);
  const archivedBack = h('button', {
    type: 'button', class: 'icon-btn', 'aria-label': 'Back to chats', title: 'Back to chats',
    onclick: () => { showArchived = false; render(); archivedEntry.focus(); },
  }, icon('back'));
  const archivedHeader = h('div', { class: 'archived-header', hidden: true }, archivedBack, h('h2', { class: 'archived-title' }, 'Archived'));

  const header = h('header', { class: 'sidebar-header' },
    profile.el,
    h('div', { class: 'header-actions' },
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'New chat', title: 'New chat', onclick: () => ctx.openNewChat() }, icon('chat')),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'New group', title: 'New group', onclick: () => ctx.openNewGroup() }, icon('group')),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Search messages', title: 'Search messages', onclick: () => ctx.openMessageSearch() }, icon('search')),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Starred messages', title: 'Starred messages', onclick: () => openStarred(ctx) }, icon('star')),
      isAgent(store.me) ? h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Support', title: 'Support dashboard', onclick: () => ctx.openSupport() }, icon('support')) : null,
      notificationsButton(ctx),
      signOutButton(ctx)));

  const el = h('aside', { class: 'sidebar' },
    header,
    h('div', { class: 'search-box' },
      h('label', { for: searchId, class: 'visually-hidden' }, 'Search chats'),
      search),
    h('nav', { 'aria-label': 'Conversations', class: 'conv-nav' }, archivedHeader, archivedEntry, list, empty));

  search.addEventListener('input', () => render());
  search.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && search.value) { search.value = ''; render(); }
  });

  function rowFor(conv) {
    let row = rows.get(conv.id);
    if (!row) {
      const button = h('button', { type: 'button', class: 'conv-row', onclick: () => ctx.navigate(conv.id) });
      const menu = chatMenuButton(ctx, conv.id);
      chatMenuOnLongPress(ctx, conv.id, button, menu);
      const li = h('li', { class: 'conv-item', 'data-conversation-id': conv.id }, button, menu);
      row = { li, button, sig: '' };
      rows.set(conv.id, row);
    }
    const sig = rowSignature(store, conv);
    if (sig !== row.sig) {
      row.sig = sig;
      row.button.replaceChildren(...rowContent(store, conv));
      const active = store.openConversationId === conv.id;
      row.li.classList.toggle('active', active);
      if (active) row.button.setAttribute('aria-current', 'true'); else row.button.removeAttribute('aria-current');
    }
    return row;
  }

  function render() {
    if (!store.me) return;
    const q = search.value.trim().toLowerCase();
    const all = store.sortedConversations();
    const archived = all.filter((c) => store.isArchived(c));
    if (showArchived && !archived.length) showArchived = false;
    const convs = all.filter((c) => store.isArchived(c) === showArchived && matches(store, c, q));
    archivedEntry.hidden = showArchived || !archived.length;
    archivedCount.textContent = String(archived.length);
    archivedHeader.hidden = !showArchived;
    const hadFocus = list.contains(document.activeElement) ? document.activeElement : null;
    const keep = new Set(convs.map((c) => c.id));
    for (const [id, row] of rows) if (!keep.has(id)) { row.li.remove(); rows.delete(id); }
    let cursor = list.firstChild;
    for (const conv of convs) {
      const row = rowFor(conv);
      if (cursor === row.li) cursor = cursor.nextSibling;
      else list.insertBefore(row.li, cursor);
    }
    if (hadFocus && !list.contains(document.activeElement) && hadFocus.isConnected) hadFocus.focus();
    empty.hidden = convs.length > 0;
    empty.textContent = q ? 'No chats match your search.'
      : archived.length ? 'Every chat is archived.' : 'No chats yet. Use “New chat” to start one.';
  }

  render();
  return {
    el,
    update(dirty) {
      if (dirty.has('users')) profile.render();
      render();
    },
    /** Focus back on a conversation's row (or the filter box). */
    focusRow(cid) {
      const conv = store.conversation(cid);
      if (conv && store.isArchived(conv) !== showArchived) { showArchived = store.isArchived(conv); render(); }
      const btn = list.querySelector(`.conv-item[data-conversation-id="${CSS.escape(cid)}"] button`);
      if (btn) btn.focus(); else search.focus();
    },
  };
}
