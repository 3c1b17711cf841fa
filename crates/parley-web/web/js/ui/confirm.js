// A confirmation dialog: a question, a (danger) action and Cancel, which
// has the focus so that Enter never destroys anything by accident.
import { h } from '../util/dom.js';
import { openDialog } from './dialog.js';

/** Resolves true when `action` was chosen, false on Cancel or Escape. */
export function confirmDialog({ title, text, action, danger = true }) {
  return new Promise((resolve) => {
    const d = openDialog({ label: title, className: 'confirm-dialog' });
    let answered = false;
    const answer = (yes) => { if (answered) return; answered = true; resolve(yes); d.close(); };
    d.onCleanup(() => { if (!answered) { answered = true; resolve(false); } });
    const cancel = h('button', { type: 'button', class: 'btn', onclick: () => answer(false) }, 'Cancel');
    d.body.append(
      text ? h('p', { class: 'confirm-text' }, text) : null,
      h('div', { class: 'dialog-actions' },
        cancel,
        h('button', { type: 'button', class: danger ? 'btn btn-danger' : 'btn btn-primary', onclick: () => answer(true) }, action)));
    cancel.focus();
  });
}
