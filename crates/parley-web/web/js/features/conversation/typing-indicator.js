// "Ann is typing…" under the message log.
import { h } from '../../util/dom.js';

export function createTypingIndicator(ctx, cid) {
  const el = h('div', { class: 'typing-indicator', 'aria-live': 'polite', hidden: true });
  function render() {
    if (!ctx.store.conversation(cid)) return;
    const typing = ctx.store.typingIn(cid);
    if (!typing.length) { el.textContent = ''; el.hidden = true; return; }
    const names = typing.map((u) => ctx.store.displayName(u));
    el.textContent = names.length === 1 ? `${names[0]} is typing…`
      : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : 'Several people are typing…';
    el.hidden = false;
  }
  return { el, render };
}
