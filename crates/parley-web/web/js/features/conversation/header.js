// The conversation header: back, avatar, title, and the status line
// (typing…, online, last seen, or the member count of a group).
import { h, icon, avatar } from '../../util/dom.js';
import { presenceLine } from './presence.js';
import { openConversationInfo } from '../groups/conversation-info.js';

function statusText(store, conv, peer, typing) {
  if (conv.kind !== 'direct') {
    const n = conv.member_count || 0;
    return `${n} member${n === 1 ? '' : 's'}`;
  }
  if (typing.length) return 'typing…';
  return presenceLine(store.presenceOf(peer));
}

export function createHeader(ctx, cid) {
  const { store } = ctx;
  const headerAvatar = h('span', { class: 'conv-header-avatar' });
  const title = h('h2', { class: 'conv-header-title' });
  const status = h('p', { class: 'conv-header-status' });
  const el = h('header', { class: 'conv-header' },
    h('button', { type: 'button', class: 'icon-btn back-btn', 'aria-label': 'Back', title: 'Back', onclick: () => ctx.navigate(null) }, icon('back')),
    headerAvatar,
    h('div', { class: 'conv-header-text' }, title, status),
    h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Conversation info', title: 'Conversation info', onclick: () => openConversationInfo(ctx, cid) }, icon('info')));

  function render() {
    const conv = store.conversation(cid);
    if (!conv) return;
    const name = store.titleOf(conv);
    const peer = store.peerOf(conv);
    title.textContent = name;
    headerAvatar.replaceChildren(avatar(name, conv.kind === 'direct' ? (peer && peer.avatar_url) : conv.avatar_url, conv.kind === 'direct' && peer ? peer.id : conv.id));
    const typing = store.typingIn(cid);
    status.textContent = statusText(store, conv, peer, typing);
    status.classList.toggle('is-typing', typing.length > 0 && conv.kind === 'direct');
  }

  return { el, render };
}
