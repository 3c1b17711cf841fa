// The composer: the text box (Enter sends, Shift+Enter a new line, Escape
// cancels a reply or an edit), the attach button and the attachments tray
// (the text is then the caption), the send button, replying and editing,
// the "you blocked" note. A new message goes to the outbox (shown at once,
// sent when connected, its files uploaded first if they are not yet); an
// edit goes over REST.
import { h, icon, uid } from '../../util/dom.js';
import { createContextBar } from './context-bar.js';
import { createTypingNotifier } from './typing.js';
import { createAttachmentTray } from '../media/chips.js';
import { attachButton, acceptPaste } from '../media/attach.js';
import { createMentionPicker } from './mentions.js';
import { openEmojiPicker } from './emoji-picker.js';

/** Enter sends (not Shift+Enter, not while composing); Escape cancels a reply or an edit. */
function onKey(e, context, { submit, cancel }) {
  const { editing, replyTo } = context.state;
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  } else if (e.key === 'Escape' && (replyTo || editing)) {
    e.preventDefault();
    cancel();
  }
}

export function createComposer(ctx, cid, { onSend }) {
  const { store, api, outbox } = ctx;
  const composerId = uid('composer');
  const textarea = h('textarea', { id: composerId, class: 'composer-input', rows: '1', placeholder: 'Type a message', autocomplete: 'off' });
  const sendBtn = h('button', { type: 'submit', class: 'icon-btn send-btn', 'aria-label': 'Send', title: 'Send' }, icon('send'));
  const blockedNote = h('p', { class: 'blocked-note', hidden: true });
  const tray = createAttachmentTray(ctx, { onChange: updateSend });
  const attach = attachButton((files) => tray.add(files));
  const emojiBtn = h('button', {
    type: 'button', class: 'icon-btn emoji-open-btn', 'aria-label': 'Emoji', title: 'Emoji',
    onclick: () => openEmojiPicker({ onPick: insertAtCaret }),
  }, icon('smile'));
  const form = h('form', { class: 'composer', 'aria-label': 'Message composer' },
    emojiBtn, attach.button, attach.input,
    h('label', { for: composerId, class: 'visually-hidden' }, 'Type a message'),
    textarea, sendBtn);
  // Before the composer's own keys, so that Enter picks a member, not sends.
  const mentions = createMentionPicker(ctx, cid, textarea);
  const typing = createTypingNotifier(ctx, cid);
  const context = createContextBar(ctx, {
    onCancel: (kind) => { if (kind === 'edit') textarea.value = store.draftOf(cid); context.set(null); autoGrow(); updateSend(); textarea.focus(); },
  });
  const el = h('footer', { class: 'conv-footer' }, context.el, tray.el, mentions.el, blockedNote, form);
  acceptPaste(textarea, (files) => tray.add(files));

  /** Send is possible with text, or with at least one attachment (not while editing). */
  function updateSend() {
    const editing = context.state.editing;
    sendBtn.disabled = !textarea.value.trim() && (editing || tray.count() === 0);
    // An edit changes the text only: nothing to attach to it.
    attach.button.hidden = !!editing;
  }

  function autoGrow() {
    textarea.style.height = 'auto';
    textarea.style.height = `${Math.min(textarea.scrollHeight, 160)}px`;
  }

  /** The text box as this conversation's draft (not while editing). */
  function keepDraft() {
    if (!context.state.editing) store.setDraft(cid, textarea.value);
  }

  /** After a send or an edit: an edit gives the draft back, a send clears it. */
  function clear() {
    if (context.state.editing) textarea.value = store.draftOf(cid);
    else { textarea.value = ''; store.setDraft(cid, ''); }
    context.set(null);
    autoGrow();
    updateSend();
  }

  async function submitEdit(m, text) {
    clear();
    if (text === m.text) return;
    try { await api.editMessage(m.id, text); } catch (err) {
      ctx.toast(err.message || 'Could not edit the message.');
    }
  }

  function submit() {
    const text = textarea.value;
    const { editing, replyTo } = context.state;
    if (editing) { if (text.trim()) submitEdit(editing, text); return; }
    if (!text.trim() && tray.count() === 0) return;
    const problem = tray.problem();
    if (problem) { tray.say(problem); return; }
    const attachments = tray.take();
    clear();
    typing.stop();
    // A caption of only white space is no caption.
    outbox.add(cid, attachments.length && !text.trim() ? '' : text, replyTo ? replyTo.id : null, attachments);
    onSend();
  }

  /** An emoji at the caret (replacing a selection), as if typed. */
  function insertAtCaret(text) {
    const { selectionStart: a, selectionEnd: b, value } = textarea;
    textarea.value = value.slice(0, a) + text + value.slice(b);
    textarea.setSelectionRange(a + text.length, a + text.length);
    textarea.dispatchEvent(new Event('input', { bubbles: true }));
  }

  textarea.addEventListener('input', () => {
    autoGrow();
    updateSend();
    keepDraft();
    if (!context.state.editing) typing.input(textarea.value);
  });
  textarea.addEventListener('blur', () => typing.stop());
  textarea.addEventListener('keydown', (e) => onKey(e, context, {
    submit,
    cancel: () => { if (context.state.editing) textarea.value = store.draftOf(cid); context.set(null); autoGrow(); updateSend(); },
  }));
  form.addEventListener('submit', (e) => { e.preventDefault(); submit(); textarea.focus(); });

  /** The note shown when I blocked the peer of a direct chat. */
  function render() {
    const conv = store.conversation(cid);
    if (!conv) return;
    const peer = store.peerOf(conv);
    const block = conv.kind === 'direct' && peer ? store.blockOf(peer.id) : null;
    blockedNote.hidden = !(block && block.blocked_by_me);
    blockedNote.textContent = blockedNote.hidden ? '' : `You blocked ${store.titleOf(conv)}. Open conversation info to unblock.`;
  }

  textarea.value = store.draftOf(cid);
  updateSend();
  // The height needs the element in the document: after the view is placed.
  if (textarea.value) requestAnimationFrame(autoGrow);

  return {
    el,
    render,
    focus: (opts) => textarea.focus(opts),
    /** Files dropped on the conversation. */
    addFiles: (files) => tray.add(files),
    startReply(m) { context.set('reply', m); textarea.focus(); },
    startEdit(m) {
      keepDraft();
      context.set('edit', m);
      textarea.value = m.text || '';
      autoGrow();
      updateSend();
      textarea.focus();
      textarea.setSelectionRange(textarea.value.length, textarea.value.length);
    },
    destroy() { keepDraft(); store.flushDrafts(); typing.stop(); tray.destroy(); },
  };
}
