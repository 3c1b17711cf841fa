// The signed-in screen: the connection banner, the list (left) and the
// pane (right: a conversation or the empty pane), and the toast.
import { h, icon } from '../util/dom.js';
import { createBanner } from '../ui/banner.js';
import { createListView } from '../features/list/list-view.js';

export function emptyPane() {
  return h('div', { class: 'empty-pane' },
    h('div', { class: 'empty-pane-inner' },
      h('span', { class: 'brand-mark big' }, icon('chat')),
      h('p', { class: 'empty-pane-title' }, 'Parley'),
      h('p', { class: 'empty-pane-text' }, 'Select a chat to start messaging, or start a new one.')));
}

export function createLayout(root, ctx, toast) {
  const banner = createBanner();
  const listView = createListView(ctx);
  const pane = h('div', { class: 'pane' });
  const shell = h('div', { class: 'app-shell' }, listView.el, pane);
  root.replaceChildren(h('h1', { class: 'visually-hidden' }, 'Parley'), banner.el, shell, toast.el);
  return { banner, listView, pane, shell };
}
