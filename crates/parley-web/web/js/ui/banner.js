// Connection banner: "Connecting…" / "Offline" while not connected.
import { h } from '../util/dom.js';

export function createBanner() {
  const el = h('div', { class: 'connection-banner', role: 'status', hidden: true });
  return {
    el,
    /** state: connected | connecting | offline */
    update(state) {
      if (state === 'connected') {
        el.hidden = true;
        el.textContent = '';
        el.classList.remove('offline');
      } else {
        el.hidden = false;
        el.textContent = state === 'offline' ? 'Offline' : 'Connecting…';
        el.classList.toggle('offline', state === 'offline');
      }
    },
  };
}
