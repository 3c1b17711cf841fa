// Popup menus (role="menu") anchored to a button. Keyboard: arrows move,
// Enter/Space activate, Escape or Tab closes and returns focus.
import { h } from '../util/dom.js';

let current = null;

export function closeMenu(restoreFocus = true) {
  if (!current) return;
  const { el, button, onDoc } = current;
  current = null;
  el.remove();
  document.removeEventListener('pointerdown', onDoc, true);
  window.removeEventListener('resize', closeOnResize);
  button.setAttribute('aria-expanded', 'false');
  if (restoreFocus && button.isConnected) button.focus({ preventScroll: true });
}

function closeOnResize() { closeMenu(false); }

function position(el, button) {
  const r = button.getBoundingClientRect();
  const mw = el.offsetWidth;
  const mh = el.offsetHeight;
  let left = r.right - mw;
  if (left < 8) left = Math.min(r.left, window.innerWidth - mw - 8);
  let top = r.bottom + 4;
  if (top + mh > window.innerHeight - 8) top = Math.max(8, r.top - mh - 4);
  el.style.left = `${Math.max(8, left)}px`;
  el.style.top = `${top}px`;
}

/**
 * @param {HTMLElement} button the menu button (gets aria-expanded)
 * @param {Array<{label: string, ariaLabel?: string, action?: Function, submenu?: Array}>} items
 */
export function openMessageMenu(button, items, label = 'Message actions') {
  const wasOpenHere = current && current.button === button;
  closeMenu(false);
  if (wasOpenHere) { button.focus(); return; }
  const render = (list, menuLabel, isEmoji) => {
    const el = h('div', { class: `menu${isEmoji ? ' menu-emoji' : ''}`, role: 'menu', 'aria-label': menuLabel });
    for (const it of list) {
      const mi = h('button', { type: 'button', role: 'menuitem', class: 'menu-item', tabindex: '-1', 'aria-label': it.ariaLabel }, it.label);
      mi.addEventListener('click', (e) => {
        e.stopPropagation();
        if (it.submenu) {
          const sub = render(it.submenu, it.label, true);
          el.replaceWith(sub);
          current.el = sub;
          position(sub, button);
          sub.querySelector('[role="menuitem"]').focus();
          return;
        }
        closeMenu(true);
        it.action();
      });
      el.appendChild(mi);
    }
    el.addEventListener('keydown', (e) => {
      const all = [...el.querySelectorAll('[role="menuitem"]')];
      const i = all.indexOf(document.activeElement);
      const horizontal = isEmoji;
      if (e.key === (horizontal ? 'ArrowRight' : 'ArrowDown') || (horizontal && e.key === 'ArrowDown')) {
        e.preventDefault(); all[(i + 1) % all.length].focus();
      } else if (e.key === (horizontal ? 'ArrowLeft' : 'ArrowUp') || (horizontal && e.key === 'ArrowUp')) {
        e.preventDefault(); all[(i - 1 + all.length) % all.length].focus();
      } else if (e.key === 'Home') {
        e.preventDefault(); all[0].focus();
      } else if (e.key === 'End') {
        e.preventDefault(); all[all.length - 1].focus();
      } else if (e.key === 'Escape') {
        e.preventDefault(); e.stopPropagation(); closeMenu(true);
      } else if (e.key === 'Tab') {
        e.preventDefault(); closeMenu(true);
      }
    });
    return el;
  };
  const el = render(items, label, false);
  (document.getElementById('app') || document.body).appendChild(el);
  position(el, button);
  const onDoc = (e) => {
    if (current && !current.el.contains(e.target) && e.target !== button && !button.contains(e.target)) closeMenu(false);
  };
  current = { el, button, onDoc };
  document.addEventListener('pointerdown', onDoc, true);
  window.addEventListener('resize', closeOnResize);
  button.setAttribute('aria-expanded', 'true');
  const first = el.querySelector('[role="menuitem"]');
  if (first) first.focus();
}
