// The user search used by the dialogs: a labelled search field, a user's
// line (avatar, name, handle) and a debounced search as one types.
import { h, avatar, uid, debounce } from '../util/dom.js';

export function searchField(label, placeholder) {
  const id = uid('q');
  const input = h('input', { id, type: 'search', class: 'search-input', placeholder, autocomplete: 'off' });
  return { input, el: h('div', { class: 'field' }, h('label', { for: id }, label), input) };
}

export function userLine(u) {
  return [
    avatar(u.display_name || u.username, u.avatar_url, u.id, 'sm'),
    h('span', { class: 'user-text' },
      h('span', { class: 'user-name' }, u.display_name || u.username),
      h('span', { class: 'user-handle' }, `@${u.username}`)),
  ];
}

/** Searches on every input (and once at once); `onResults(users, error)`. */
export function useUserSearch(ctx, input, onResults) {
  let seq = 0;
  const run = async () => {
    const q = input.value.trim();
    const mine = ++seq;
    // The server needs 2 characters (protocol.md §3); fewer list nobody.
    if ([...q].length < 2) { onResults([], null); return; }
    try {
      const res = await ctx.api.searchUsers(q, 20);
      if (mine !== seq) return;
      onResults(res.users.filter((u) => u.id !== ctx.store.me.id), null);
    } catch (e) {
      if (mine === seq) onResults([], e);
    }
  };
  const deb = debounce(run, 200);
  input.addEventListener('input', deb);
  run();
  return { cancel: () => deb.cancel() };
}
