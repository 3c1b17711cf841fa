// Conversation list (left pane).
import { h, icon, avatar, uid } from '../util/dom.js';
import { formatListTime } from '../util/time.js';
import { ticks } from './ticks.js';

export function createListView(ctx) {
  const { store } = ctx;
  const searchId = uid('search');
  const search = h('input', { id: searchId, type: 'search', class: 'search-input', placeholder: 'Search chats', autocomplete: 'off' });
  const list = h('ul', { class: 'conv-list' });
  const empty = h('p', { class: 'list-empty', hidden: true });
  const meBox = h('div', { class: 'me-box' });
  const rows = new Map(); // cid -> {li, button, sig}

  const header = h('header', { class: 'sidebar-header' },
    meBox,
    h('div', { class: 'header-actions' },
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'New chat', title: 'New chat', onclick: () => ctx.openNewChat() }, icon('chat')),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'New group', title: 'New group', onclick: () => ctx.openNewGroup() }, icon('group')),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Sign out', title: 'Sign out', onclick: () => ctx.signOut() }, icon('logout'))));

  const el = h('aside', { class: 'sidebar' },
    header,
    h('div', { class: 'search-box' },
      h('label', { for: searchId, class: 'visually-hidden' }, 'Search chats'),
      search),
    h('nav', { 'aria-label': 'Conversations', class: 'conv-nav' }, list, empty));

  search.addEventListener('input', () => render());
  search.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && search.value) { search.value = ''; render(); }
  });

  function renderMe() {
    const me = store.me;
    if (!me) return;
    meBox.replaceChildren(
      avatar(me.display_name || me.username, me.avatar_url, me.id, 'sm'),
      h('span', { class: 'me-name' }, me.display_name || me.username));
  }

  function previewOf(conv) {
    const typing = store.typingIn(conv.id);
    if (typing.length) {
      const text = conv.kind === 'direct' ? 'typing…' : `${store.displayName(typing[0])} is typing…`;
      return { typing: true, nodes: [text] };
    }
    const pending = ctx.outbox ? ctx.outbox.forConversation(conv.id) : [];
    if (pending.length) {
      const p = pending[pending.length - 1];
      return { nodes: [ticks(p.state === 'failed' ? 'failed' : 'sending'), p.text] };
    }
    const m = conv.last_message;
    if (!m) return { nodes: [conv.kind === 'group' ? 'Group created' : 'No messages yet'], muted: true };
    if (m.deleted) return { nodes: [m.sender_id === store.me.id ? 'You deleted this message' : 'This message was deleted'], muted: true };
    const own = m.sender_id === store.me.id;
    const nodes = [];
    if (own && m.kind !== 'system') nodes.push(ticks(store.statusOf(m)));
    else if (conv.kind === 'group' && m.kind !== 'system') nodes.push(`${store.displayName(m.sender_id)}: `);
    nodes.push(m.text || (m.attachments && m.attachments.length ? 'Attachment' : ''));
    return { nodes };
  }

  function rowContent(conv) {
    const title = store.titleOf(conv);
    const peer = store.peerOf(conv);
    const online = peer && peer.presence && peer.presence.state === 'online';
    const pv = previewOf(conv);
    const time = conv.last_message ? conv.last_message.created_at : conv.created_at;
    const unread = conv.unread_count || 0;
    const muted = store.isMuted(conv);
    return [
      h('span', { class: 'conv-avatar' },
        avatar(title, conv.kind === 'direct' ? (peer && peer.avatar_url) : conv.avatar_url, conv.kind === 'direct' && peer ? peer.id : conv.id),
        online ? h('span', { class: 'online-dot', role: 'img', 'aria-label': 'online' }) : null),
      h('span', { class: 'conv-main' },
        h('span', { class: 'conv-top' },
          h('span', { class: 'conv-title' }, title),
          h('span', { class: `conv-time${unread ? ' has-unread' : ''}` }, formatListTime(time))),
        h('span', { class: 'conv-bottom' },
          h('span', { class: `conv-preview${pv.typing ? ' is-typing' : ''}${pv.muted ? ' is-muted' : ''}` }, pv.nodes),
          muted ? h('span', { class: 'muted-icon', role: 'img', 'aria-label': 'muted' }, icon('muted')) : null,
          unread ? h('span', { class: `unread-badge${muted ? ' muted' : ''}`, role: 'img', 'aria-label': `${unread} unread message${unread === 1 ? '' : 's'}` }, String(unread)) : null)),
    ];
  }

  function sigOf(conv) {
    const peer = store.peerOf(conv);
    const lm = conv.last_message;
    const pending = ctx.outbox ? ctx.outbox.forConversation(conv.id).map((p) => p.client_id + p.state) : [];
    return JSON.stringify([store.titleOf(conv), conv.avatar_url, peer && peer.avatar_url, peer && peer.presence && peer.presence.state,
      lm && [lm.id, lm.text, lm.deleted, lm.seq, lm.sender_id === store.me.id ? store.statusOf(lm) : '', conv.kind === 'group' ? store.displayName(lm.sender_id) : ''],
      conv.unread_count, store.typingIn(conv.id), pending, conv.muted_until, store.openConversationId === conv.id,
      formatListTime(lm ? lm.created_at : conv.created_at)]);
  }

  function render() {
    if (!store.me) return;
    const q = search.value.trim().toLowerCase();
    const convs = store.sortedConversations().filter((c) => {
      if (!q) return true;
      const peer = store.peerOf(c);
      return store.titleOf(c).toLowerCase().includes(q) || (peer && peer.username && peer.username.includes(q));
    });
    const hadFocus = list.contains(document.activeElement) ? document.activeElement : null;
    const keep = new Set(convs.map((c) => c.id));
    for (const [id, row] of rows) if (!keep.has(id)) { row.li.remove(); rows.delete(id); }
    let cursor = list.firstChild;
    for (const conv of convs) {
      let row = rows.get(conv.id);
      if (!row) {
        const button = h('button', { type: 'button', class: 'conv-row', onclick: () => ctx.navigate(conv.id) });
        const li = h('li', { class: 'conv-item', 'data-conversation-id': conv.id }, button);
        row = { li, button, sig: '' };
        rows.set(conv.id, row);
      }
      const sig = sigOf(conv);
      if (sig !== row.sig) {
        row.sig = sig;
        row.button.replaceChildren(...rowContent(conv));
        const active = store.openConversationId === conv.id;
        row.li.classList.toggle('active', active);
        if (active) row.button.setAttribute('aria-current', 'true'); else row.button.removeAttribute('aria-current');
      }
      if (cursor === row.li) cursor = cursor.nextSibling;
      else list.insertBefore(row.li, cursor);
    }
    if (hadFocus && !list.contains(document.activeElement) && hadFocus.isConnected) hadFocus.focus();
    empty.hidden = convs.length > 0;
    empty.textContent = q ? 'No chats match your search.' : 'No chats yet. Use “New chat” to start one.';
  }

  renderMe();
  render();
  return {
    el,
    update(dirty) {
      if (dirty.has('users')) renderMe();
      render();
    },
    focusSearch() { search.focus(); },
  };
}
