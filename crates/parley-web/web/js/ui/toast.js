// Toast: a transient message (errors that need no answer).
import { h } from '../util/dom.js';

export function createToast() {
  const el = h('div', { class: 'toast', 'aria-live': 'assertive', hidden: true });
  let timer = null;
  return {
    el,
    show(msg) {
      el.textContent = msg;
      el.hidden = false;
      clearTimeout(timer);
      timer = setTimeout(() => { el.hidden = true; el.textContent = ''; }, 4000);
    },
    destroy() { clearTimeout(timer); },
  };
}
