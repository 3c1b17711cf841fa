// Toast: a transient message (errors that need no answer).
import { h } from '../util/dom.js';

export function createToast() {
  const el = h('div', { class: 'toast', 'aria-live': 'assertive', hidden: true });
  let timer = null;
  return {
    el,
    /** `action`: {label, run}, a button in the toast (e.g. Undo) for a few seconds more. */
    show(msg, action) {
      const hide = () => { el.hidden = true; el.replaceChildren(); };
      el.replaceChildren(h('span', null, msg));
      if (action) {
        el.appendChild(h('button', {
          type: 'button', class: 'toast-action',
          onclick: () => { clearTimeout(timer); hide(); action.run(); },
        }, action.label));
      }
      el.hidden = false;
      clearTimeout(timer);
      timer = setTimeout(hide, action ? 6000 : 4000);
    },
    destroy() { clearTimeout(timer); },
  };
}
