// What can be done with a message: the actions menu (reply, react, copy,
// star, edit, delete for me with an Undo, delete for everyone after a
// confirmation, message info) and reacting.
import { openMessageMenu } from '../../ui/menu.js';
import { confirmDialog } from '../../ui/confirm.js';
import { openMessageInfo } from './message-info.js';
import { openForward } from './forward-dialog.js';
import { openReactions } from './reactions-dialog.js';
import { openEmojiPicker } from '../composer/emoji-picker.js';

export const REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];

export async function toggleReaction(ctx, m, emoji) {
  const mine = (m.reactions || []).some((r) => r.emoji === emoji && r.me);
  try {
    if (mine) await ctx.api.unreact(m.id, emoji); else await ctx.api.react(m.id, emoji);
  } catch (e) { ctx.toast(e.message || 'Could not react.'); }
}

async function deleteForEveryone(ctx, m, actions) {
  const own = m.sender_id === ctx.store.me.id;
  const yes = await confirmDialog({
    title: 'Delete for everyone?',
    text: own ? 'The message is replaced by "This message was deleted" for everyone in the chat.'
      : 'As an admin you delete this message for everyone in the group.',
    action: 'Delete for everyone',
  });
  if (!yes) return;
  try { await ctx.api.deleteMessage(m.id); } catch (e) { ctx.toast(e.message || 'Could not delete the message.'); }
  actions.focusComposer();
}

/** Delete for me: gone from this chat on all my devices, with an Undo. */
async function deleteForMe(ctx, cid, m, actions) {
  const { api, store } = ctx;
  try {
    store.setMark(await api.hideMessage(m.id, true));
  } catch (e) { ctx.toast(e.message || 'Could not delete the message.'); return; }
  actions.focusComposer();
  ctx.toast('Message deleted for you', {
    label: 'Undo',
    run: () => api.hideMessage(m.id, false).then((mark) => store.setMark(mark))
      .catch((e) => ctx.toast(e.message || 'Could not undo.')),
  });
}

async function toggleStar(ctx, cid, m) {
  const starred = ctx.store.isStarred(cid, m.id);
  try {
    ctx.store.setMark(await ctx.api.starMessage(m.id, !starred));
  } catch (e) { ctx.toast(e.message || 'Could not star the message.'); }
}

async function copyText(ctx, m) {
  try {
    await navigator.clipboard.writeText(m.text);
    ctx.toast('Message copied');
  } catch { ctx.toast('Could not copy: the browser refused the clipboard.'); }
}

function menuItems(ctx, cid, m, actions) {
  const conv = ctx.store.conversation(cid);
  const own = m.sender_id === ctx.store.me.id;
  const admin = conv && (conv.my_role === 'admin' || conv.my_role === 'owner') && conv.kind !== 'direct';
  const items = [
    { label: 'Reply', action: () => actions.reply(m) },
    { label: 'React', submenu: [
      ...REACTIONS.map((e) => ({ label: e, action: () => toggleReaction(ctx, m, e) })),
      { label: '+', ariaLabel: 'More emoji', action: () => openEmojiPicker({ label: 'React with', closeOnPick: true, onPick: (e) => toggleReaction(ctx, m, e) }) },
    ] },
  ];
  if ((m.reactions || []).length) items.push({ label: 'Who reacted', action: () => openReactions(ctx, m) });
  if (m.text) items.push({ label: 'Copy', action: () => copyText(ctx, m) });
  if ((m.text || (m.attachments || []).length) && m.kind !== 'system' && !m.deleted) items.push({ label: 'Forward', action: () => openForward(ctx, cid, m) });
  items.push({ label: ctx.store.isStarred(cid, m.id) ? 'Unstar' : 'Star', action: () => toggleStar(ctx, cid, m) });
  if (own && m.kind === 'text') items.push({ label: 'Edit', action: () => actions.edit(m) });
  items.push({ label: 'Delete for me', action: () => deleteForMe(ctx, cid, m, actions) });
  if (own || admin) items.push({ label: 'Delete for everyone', action: () => deleteForEveryone(ctx, m, actions) });
  if (own) items.push({ label: 'Message info', action: () => openMessageInfo(ctx, cid, m) });
  return items;
}

/** Opens the actions menu of a message from its button. */
export function openActions(ctx, cid, m, btn, actions) {
  const items = menuItems(ctx, cid, m, actions);
  items.returnFocus = btn;
  openMessageMenu(btn, items);
}
