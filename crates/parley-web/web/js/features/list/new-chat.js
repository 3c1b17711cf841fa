// The "New chat" dialog: find a user, open (or create) the direct chat.
import { h } from '../../util/dom.js';
import { openDialog } from '../../ui/dialog.js';
import { searchField, userLine, useUserSearch } from '../../ui/user-search.js';

export function openNewChat(ctx) {
  const d = openDialog({ label: 'New chat' });
  const search = searchField('Search users', 'Name or username');
  const results = h('ul', { class: 'user-list', 'aria-label': 'Users' });
  const alert = h('p', { class: 'form-error', role: 'alert' });
  d.body.append(search.el, alert, results);
  const s = useUserSearch(ctx, search.input, (users, err) => {
    alert.textContent = err ? (err.message || 'Search failed.') : '';
    results.replaceChildren(...users.map((u) => h('li', null,
      h('button', { type: 'button', class: 'user-result', onclick: () => start(u) }, userLine(u)))));
    if (!users.length && !err) results.replaceChildren(h('li', { class: 'list-empty' }, 'No users found.'));
  });
  d.onCleanup(() => s.cancel());
  async function start(u) {
    try {
      const conv = await ctx.api.openDirect(u.id);
      ctx.store.upsertConversation(conv);
      d.close();
      ctx.navigate(conv.id);
    } catch (e) {
      alert.textContent = e.code === 'blocked' ? 'You cannot chat with this user (blocked).' : (e.message || 'Could not open the chat.');
    }
  }
  search.input.focus();
}
