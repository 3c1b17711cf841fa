// One message as the log shows it: a bubble with the sender (in groups),
// the quoted original, the text, the time and my ticks; a failed send's
// Retry / Discard; the actions button (a long press on touch screens) and the reactions.
import { linkify } from '../../util/linkify.js';
import { h, icon, colorIndex } from '../../util/dom.js';
import { formatTime, formatFull } from '../../util/time.js';
import { ticks } from '../../ui/ticks.js';
import { openActions, toggleReaction } from './message-actions.js';
import { attachmentsEl, pendingAttachmentView } from '../media/attachment-view.js';
import { openConversationLightbox } from '../media/lightbox.js';
import { attachmentSummary } from '../media/summary.js';
import { onLongPress } from '../../ui/long-press.js';
import { withMentions } from '../../util/mentions.js';
import { whoText } from './reactions-dialog.js';

function quoteOf(ctx, cid, m, actions) {
  if (!m.reply_to) return null;
  const q = ctx.store.findMessage(cid, m.reply_to);
  if (!q) ctx.fetchQuoted(cid, m.reply_to);
  const who = q ? ctx.store.displayName(q.sender_id) : '';
  const text = !q ? 'Original message' : (q.deleted ? 'This message was deleted' : (q.text || attachmentSummary(q.attachments) || 'Attachment'));
  return h('button', {
    type: 'button', class: `reply-quote qc-${colorIndex(q ? q.sender_id : '')}`,
    title: 'Go to the original message',
    onclick: () => actions.jumpTo(m.reply_to),
  }, h('span', { class: 'reply-quote-author' }, who), h('span', { class: 'reply-quote-text', dir: 'auto' }, text));
}

function failedBar(ctx, m) {
  return h('div', { class: 'failed-bar' },
    h('span', { class: 'failed-text' }, m.error ? `Not sent: ${m.error}` : 'Not sent'),
    h('button', { type: 'button', class: 'btn-link retry-btn', onclick: () => ctx.outbox.retry(m.client_id) }, 'Retry'),
    h('button', { type: 'button', class: 'btn-link', 'aria-label': 'Discard message', onclick: () => ctx.outbox.discard(m.client_id) }, 'Discard'));
}

function reactionsBar(ctx, m) {
  const chips = m.reactions.map((r) => h('button', {
    type: 'button', class: `reaction${r.me ? ' mine' : ''}`, 'aria-pressed': r.me ? 'true' : 'false',
    title: r.me ? 'Remove your reaction' : 'React', 'data-emoji': r.emoji, onclick: () => toggleReaction(ctx, m, r.emoji),
  }, h('span', { class: 'reaction-emoji' }, r.emoji), h('span', { class: 'reaction-count' }, String(r.count))));
  // Who reacted, as each chip's tooltip: asked once, when first pointed at.
  let asked = false;
  const explain = () => {
    if (asked) return;
    asked = true;
    ctx.api.reactors(m.id).then((list) => {
      for (const chip of chips) {
        const r = list.reactions.find((x) => x.emoji === chip.dataset.emoji);
        if (r) chip.title = `${whoText(ctx, r)} reacted with ${r.emoji}`;
      }
    }).catch(() => { asked = false; });
  };
  for (const chip of chips) { chip.addEventListener('pointerenter', explain); chip.addEventListener('focus', explain); }
  return h('div', { class: 'reactions' }, chips);
}

function classesOf(own, deleted, failed) {
  return ['message', own ? 'own' : 'other', deleted ? 'deleted' : '', failed ? 'failed' : ''].filter(Boolean).join(' ');
}

/** The attachments above the caption (an outbox item's as they stand). */
function mediaOf(ctx, cid, m, pending) {
  const list = m.attachments || [];
  if (!list.length) return null;
  const open = (media) => openConversationLightbox(ctx, cid, media);
  if (pending) return h('div', { class: 'attachments' }, list.map((a) => pendingAttachmentView(ctx, a, open, m.state === 'sending')));
  return attachmentsEl(ctx, list, open);
}

/** The text, or the caption of attachments (none when empty), mentions highlighted. */
function textOf(store, m, deleted, hasMedia) {
  if (deleted) return h('div', { class: 'message-text', dir: 'auto' }, 'This message was deleted');
  if (hasMedia && !m.text) return null;
  const names = new Set((m.mentions || []).map((id) => store.user(id)?.username).filter(Boolean));
  return h('div', { class: 'message-text', dir: 'auto' }, withMentions(linkify(m.text || ''), names));
}

/**
 * A message element. `pending`: an outbox item, not on the server yet.
 * `first`: the first of a run by the same sender (shows the name).
 */
export function messageEl(ctx, cid, m, { pending, first = true, actions }) {
  const { store } = ctx;
  const conv = store.conversation(cid);
  const own = pending || m.sender_id === store.me.id;
  if (!pending && m.kind === 'system') {
    return h('div', { class: 'message system', 'data-seq': m.seq, 'data-message-id': m.id },
      h('span', { class: 'message-text', dir: 'auto' }, m.text || ''));
  }
  const failed = pending && m.state === 'failed';
  const status = pending ? (failed ? 'failed' : 'sending') : (own ? store.statusOf(m) : null);
  const deleted = !pending && m.deleted;
  const attrs = { class: classesOf(own, deleted, failed) };
  if (!pending) { attrs['data-seq'] = m.seq; attrs['data-message-id'] = m.id; }
  if (m.client_id) attrs['data-client-id'] = m.client_id;
  const showSender = !own && conv && conv.kind !== 'direct' && first;
  const time = m.created_at;
  const media = deleted ? null : mediaOf(ctx, cid, m, pending);
  const bubble = h('div', { class: media ? 'bubble has-media' : 'bubble' },
    showSender ? h('span', { class: `message-sender sc-${colorIndex(m.sender_id)}` }, store.displayName(m.sender_id)) : null,
    !deleted ? quoteOf(ctx, cid, pending ? { reply_to: m.reply_to } : m, actions) : null,
    media,
    textOf(store, m, deleted, !!media),
    h('span', { class: 'message-meta' },
      !pending && !deleted && store.isStarred(cid, m.id) ? h('span', { class: 'starred-icon', role: 'img', 'aria-label': 'starred' }, icon('star')) : null,
      !deleted && m.edited_at ? h('span', { class: 'edited' }, 'edited') : null,
      h('time', { datetime: time, title: formatFull(time) }, formatTime(time)),
      own && !deleted ? ticks(status) : null));
  const row = h('div', attrs, bubble);
  if (failed) row.appendChild(failedBar(ctx, m));
  if (!pending && !deleted) {
    const btn = h('button', {
      type: 'button', class: 'msg-actions-btn', 'aria-label': 'Message actions', 'aria-haspopup': 'menu', 'aria-expanded': 'false',
      onclick: () => openActions(ctx, cid, m, btn, actions),
    }, icon('chevron'));
    bubble.appendChild(btn);
    onLongPress(bubble, () => openActions(ctx, cid, m, btn, actions));
    if ((m.reactions || []).length) row.appendChild(reactionsBar(ctx, m));
  }
  return row;
}
