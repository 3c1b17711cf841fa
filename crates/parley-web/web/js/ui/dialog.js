// Modal dialogs: native <dialog> + showModal(): focus moves in, the page
// behind is inert, Escape closes. Closed dialogs are removed from the DOM.
import { h, icon } from '../util/dom.js';

let openCount = 0;

export function anyDialogOpen() { return openCount > 0; }

/** Closes (removes) every dialog, e.g. when the session ends. */
export function removeAllDialogs() {
  document.querySelectorAll('dialog').forEach((d) => d.remove());
}

/** Opens a dialog; returns {dialog, body, close, onCleanup}. */
export function openDialog({ label, title, className = '' }) {
  const body = h('div', { class: 'dialog-body' });
  const dialog = h('dialog', { class: `modal ${className}`.trim(), 'aria-label': label },
    h('header', { class: 'dialog-header' },
      h('h2', { class: 'dialog-title' }, title || label),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', title: 'Close', onclick: () => close() }, icon('close'))),
    body);
  const returnTo = document.activeElement;
  const cleanups = [];
  let closed = false;
  function close() {
    if (closed) return;
    closed = true;
    openCount -= 1;
    for (const fn of cleanups) fn();
    if (dialog.open) dialog.close();
    dialog.remove();
    if (returnTo && returnTo.isConnected && typeof returnTo.focus === 'function') returnTo.focus();
  }
  dialog.addEventListener('close', () => close());
  dialog.addEventListener('cancel', (e) => { e.preventDefault(); close(); });
  dialog.addEventListener('click', (e) => { if (e.target === dialog) close(); }); // backdrop
  document.body.appendChild(dialog);
  openCount += 1;
  dialog.showModal();
  return { dialog, body, close, onCleanup: (fn) => cleanups.push(fn) };
}

/** Focuses a dialog's Close button (the first control). */
export function focusClose(d) {
  d.dialog.querySelector('.dialog-header .icon-btn').focus();
}
