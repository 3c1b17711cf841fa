// "@" in a group's composer: a list of the members matching what follows
// it (username or name); arrows choose, Enter or Tab inserts "@username ",
// Escape closes. The server finds the mentions in the text itself
// (docs/protocol.md deviation 43), so nothing else is sent.
import { h, uid, avatar } from '../../util/dom.js';

const MAX_SHOWN = 8;
// "@" at the start or after a character that cannot be in a username, then
// what has been typed of one, up to the caret.
const TOKEN = /(^|[^a-z0-9_.@])@([a-z0-9_.]{0,32})$/i;

export function createMentionPicker(ctx, cid, textarea) {
  const { store } = ctx;
  const listId = uid('mentions');
  const list = h('ul', { id: listId, class: 'mention-list', role: 'listbox', 'aria-label': 'Mention a member', hidden: true });
  let options = [];
  let active = 0;
  let token = null; // {start, end}

  function candidates(q) {
    const conv = store.conversation(cid);
    if (!conv || conv.kind === 'direct') return [];
    const members = store.membersOf(cid) || [];
    const needle = q.toLowerCase();
    return members
      .map((m) => m.user || store.user(m.user_id))
      .filter((u) => u && u.id !== store.me.id && u.username)
      .filter((u) => u.username.startsWith(needle) || (u.display_name || '').toLowerCase().split(/\s+/).some((w) => w.startsWith(needle)))
      .slice(0, MAX_SHOWN);
  }

  function close() {
    list.hidden = true;
    list.replaceChildren();
    options = [];
    token = null;
    textarea.removeAttribute('aria-activedescendant');
    textarea.removeAttribute('aria-controls');
  }

  function highlight() {
    options.forEach((o, i) => o.el.setAttribute('aria-selected', i === active ? 'true' : 'false'));
    if (options[active]) textarea.setAttribute('aria-activedescendant', options[active].el.id);
  }

  function pick(u) {
    if (!token) return;
    const v = textarea.value;
    const insert = `@${u.username} `;
    textarea.value = v.slice(0, token.start) + insert + v.slice(token.end);
    const caret = token.start + insert.length;
    textarea.setSelectionRange(caret, caret);
    close();
    textarea.dispatchEvent(new Event('input', { bubbles: true }));
  }

  function update() {
    const caret = textarea.selectionStart;
    if (caret !== textarea.selectionEnd) { close(); return; }
    const match = TOKEN.exec(textarea.value.slice(0, caret));
    if (!match) { close(); return; }
    const found = candidates(match[2]);
    if (!found.length) { close(); return; }
    token = { start: caret - match[2].length - 1, end: caret };
    active = Math.min(active, found.length - 1);
    options = found.map((u) => {
      const el = h('li', { id: uid('mention'), role: 'option', class: 'mention-option', 'aria-selected': 'false' },
        avatar(u.display_name || u.username, u.avatar_url, u.id, 'sm'),
        h('span', { class: 'user-text' },
          h('span', { class: 'user-name' }, u.display_name || u.username),
          h('span', { class: 'user-handle' }, `@${u.username}`)));
      // pointerdown, not click: the text box keeps the focus and the caret.
      el.addEventListener('pointerdown', (e) => { e.preventDefault(); pick(u); });
      return { el, user: u };
    });
    list.replaceChildren(...options.map((o) => o.el));
    list.hidden = false;
    textarea.setAttribute('aria-controls', listId);
    highlight();
  }

  /** Runs before the composer's own keys: true when the key was the picker's. */
  function onKeydown(e) {
    if (list.hidden || !options.length) return false;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      active = (active + (e.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length;
      highlight();
    } else if ((e.key === 'Enter' && !e.shiftKey && !e.isComposing) || e.key === 'Tab') {
      pick(options[active].user);
    } else if (e.key === 'Escape') {
      close();
    } else {
      return false;
    }
    e.preventDefault();
    e.stopImmediatePropagation();
    return true;
  }

  textarea.addEventListener('keydown', onKeydown);
  textarea.addEventListener('input', () => { active = 0; update(); });
  textarea.addEventListener('click', update);
  textarea.addEventListener('blur', close);
  return { el: list, close };
}
