// Above the text box: "Replying to …" or "Editing message", with a cancel
// button. Holds which message is being replied to or edited.
import { h, icon, colorIndex } from '../../util/dom.js';
import { attachmentSummary } from '../media/summary.js';

export function createContextBar(ctx, { onCancel }) {
  const el = h('div', { class: 'composer-context', hidden: true });
  const state = { replyTo: null, editing: null };

  function set(kind, m) {
    state.replyTo = kind === 'reply' ? m : null;
    state.editing = kind === 'edit' ? m : null;
    if (!kind) {
      el.hidden = true;
      el.replaceChildren();
      return;
    }
    const label = kind === 'reply' ? `Replying to ${ctx.store.displayName(m.sender_id)}` : 'Editing message';
    el.hidden = false;
    el.replaceChildren(
      h('div', { class: `composer-context-body ${kind === 'reply' ? `qc-${colorIndex(m.sender_id)}` : 'qc-edit'}` },
        h('span', { class: 'composer-context-label' }, label),
        h('span', { class: 'composer-context-text' }, m.text || attachmentSummary(m.attachments))),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': kind === 'reply' ? 'Cancel reply' : 'Cancel edit', onclick: () => onCancel(kind) }, icon('close')));
  }

  return { el, state, set };
}
