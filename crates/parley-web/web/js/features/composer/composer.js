// The composer: the text box (Enter sends, Shift+Enter a new line, Escape
// cancels a reply or an edit), the send button, replying and editing, the
// "you blocked" note. A new message goes to the outbox (shown at once,
// sent when connected); an edit goes over REST.
import { h, icon, uid } from '../../util/dom.js';
import { createContextBar } from './context-bar.js';
import { createTypingNotifier } from './typing.js';

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
  const form = h('form', { class: 'composer', 'aria-label': 'Message composer' },
    h('label', { for: composerId, class: 'visually-hidden' }, 'Type a message'),
    textarea, sendBtn);
  const typing = createTypingNotifier(ctx, cid);
  const context = createContextBar(ctx, {
    onCancel: (kind) => { if (kind === 'edit') textarea.value = ''; context.set(null); autoGrow(); textarea.focus(); },
  });
  const el = h('footer', { class: 'conv-footer' }, context.el, blockedNote, form);

  function autoGrow() {
    textarea.style.height = 'auto';
    textarea.style.height = `${Math.min(textarea.scrollHeight, 160)}px`;
  }

  function clear() {
    textarea.value = '';
    context.set(null);
    autoGrow();
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
    if (!text.trim()) return;
    const { editing, replyTo } = context.state;
    if (editing) { submitEdit(editing, text); return; }
    clear();
    typing.stop();
    outbox.add(cid, text, replyTo ? replyTo.id : null);
    onSend();
  }

  textarea.addEventListener('input', () => {
    autoGrow();
    if (!context.state.editing) typing.input(textarea.value);
  });
  textarea.addEventListener('blur', () => typing.stop());
  textarea.addEventListener('keydown', (e) => onKey(e, context, {
    submit,
    cancel: () => { if (context.state.editing) textarea.value = ''; context.set(null); autoGrow(); },
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

  return {
    el,
    render,
    focus: (opts) => textarea.focus(opts),
    startReply(m) { context.set('reply', m); textarea.focus(); },
    startEdit(m) {
      context.set('edit', m);
      textarea.value = m.text || '';
      autoGrow();
      textarea.focus();
      textarea.setSelectionRange(textarea.value.length, textarea.value.length);
    },
    destroy() { typing.stop(); },
  };
}
