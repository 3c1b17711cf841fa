// One row of the conversation list: avatar, title, time, preview, badges;
// and its signature (re-rendered only when that changes).
import { h, icon, avatar } from '../../util/dom.js';
import { formatListTime } from '../../util/time.js';
import { ticks } from '../../ui/ticks.js';
import { attachmentSummary } from '../media/summary.js';

function previewOf(store, conv) {
  const typing = store.typingIn(conv.id);
  if (typing.length) {
    const text = conv.kind === 'direct' ? 'typing…' : `${store.displayName(typing[0])} is typing…`;
    return { typing: true, nodes: [text] };
  }
  const draft = store.openConversationId === conv.id ? '' : store.draftOf(conv.id);
  if (draft) return { nodes: [h('span', { class: 'draft-label' }, 'Draft:'), ' ', draft.split('\n')[0]] };
  const pending = store.pendingIn(conv.id);
  if (pending.length) {
    const p = pending[pending.length - 1];
    return { nodes: [ticks(p.state === 'failed' ? 'failed' : 'sending'), p.text || attachmentSummary(p.attachments)] };
  }
  const m = conv.last_message;
  if (!m) return { nodes: [conv.kind === 'group' ? 'Group created' : 'No messages yet'], muted: true };
  if (m.deleted) return { nodes: [m.sender_id === store.me.id ? 'You deleted this message' : 'This message was deleted'], muted: true };
  if (store.isHidden(conv.id, m.id)) return { nodes: ['You deleted this message for yourself'], muted: true };
  const own = m.sender_id === store.me.id;
  const nodes = [];
  if (own && m.kind !== 'system') nodes.push(ticks(store.statusOf(m)));
  else if (conv.kind === 'group' && m.kind !== 'system') nodes.push(`${store.displayName(m.sender_id)}: `);
  nodes.push(m.text || attachmentSummary(m.attachments));
  return { nodes };
}

export function rowContent(store, conv) {
  const title = store.titleOf(conv);
  const peer = store.peerOf(conv);
  const presence = store.presenceOf(peer);
  const online = presence && presence.state === 'online';
  const pv = previewOf(store, conv);
  const time = conv.last_message ? conv.last_message.created_at : conv.created_at;
  const unread = conv.unread_count || 0;
  const muted = store.isMuted(conv);
  const pinned = !!store.pinnedAt(conv.id);
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
        pinned ? h('span', { class: 'pinned-icon', role: 'img', 'aria-label': 'pinned' }, icon('pin')) : null,
        unread ? h('span', { class: `unread-badge${muted ? ' muted' : ''}`, role: 'img', 'aria-label': `${unread} unread message${unread === 1 ? '' : 's'}` }, String(unread)) : null)),
  ];
}

export function rowSignature(store, conv) {
  const peer = store.peerOf(conv);
  const lm = conv.last_message;
  const pending = store.pendingIn(conv.id).map((p) => p.client_id + p.state);
  return JSON.stringify([store.titleOf(conv), conv.avatar_url, peer && peer.avatar_url, (store.presenceOf(peer) || {}).state,
    lm && [lm.id, lm.text, lm.deleted, lm.seq, lm.sender_id === store.me.id ? store.statusOf(lm) : '', conv.kind === 'group' ? store.displayName(lm.sender_id) : ''],
    conv.unread_count, store.typingIn(conv.id), pending, store.openConversationId === conv.id ? '' : store.draftOf(conv.id), conv.muted_until, store.pinnedAt(conv.id), lm && store.isHidden(conv.id, lm.id), store.openConversationId === conv.id,
    formatListTime(lm ? lm.created_at : conv.created_at)]);
}
