// My profile as the sidebar shows it: avatar and name.
import { h, avatar } from '../../util/dom.js';

export function createProfileBox(ctx) {
  const el = h('div', { class: 'me-box' });
  function render() {
    const me = ctx.store.me;
    if (!me) return;
    el.replaceChildren(
      avatar(me.display_name || me.username, me.avatar_url, me.id, 'sm'),
      h('span', { class: 'me-name' }, me.display_name || me.username));
  }
  render();
  return { el, render };
}
