// The "New group" dialog: a name and at least two people (kept selected
// across searches).
import { h, uid } from '../../util/dom.js';
import { openDialog } from '../../ui/dialog.js';
import { searchField, userLine, useUserSearch } from '../../ui/user-search.js';

function checkList(selected, onToggle) {
  const results = h('ul', { class: 'user-list check-list', 'aria-label': 'Users' });
  function render(lastResults) {
    const shown = new Map();
    for (const u of selected.values()) shown.set(u.id, u);
    for (const u of lastResults) shown.set(u.id, u);
    results.replaceChildren(...[...shown.values()].map((u) => {
      const cb = h('input', { type: 'checkbox', 'aria-label': u.display_name || u.username, checked: selected.has(u.id) });
      cb.addEventListener('change', () => {
        if (cb.checked) selected.set(u.id, u); else selected.delete(u.id);
        onToggle();
      });
      return h('li', null, h('label', { class: 'user-check' }, cb, userLine(u)));
    }));
    if (!shown.size) results.replaceChildren(h('li', { class: 'list-empty' }, 'No users found.'));
  }
  return { el: results, render };
}

export function openNewGroup(ctx) {
  const d = openDialog({ label: 'New group' });
  const nameId = uid('gname');
  const nameInput = h('input', { id: nameId, type: 'text', maxlength: 100, autocomplete: 'off', placeholder: 'Group subject' });
  const search = searchField('Search users', 'Add people');
  const selected = new Map();
  const chips = h('div', { class: 'chips', 'aria-live': 'polite' });
  const renderChips = () => {
    chips.replaceChildren(...[...selected.values()].map((u) => h('span', { class: 'chip' }, u.display_name || u.username)));
    chips.hidden = selected.size === 0;
  };
  const results = checkList(selected, renderChips);
  const alert = h('p', { class: 'form-error', role: 'alert' });
  const createBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create group');
  const form = h('form', { class: 'dialog-form' },
    h('div', { class: 'field' }, h('label', { for: nameId }, 'Group name'), nameInput),
    search.el, chips, results.el, alert,
    h('div', { class: 'dialog-actions' }, createBtn));
  d.body.append(form);

  const s = useUserSearch(ctx, search.input, (users, err) => {
    alert.textContent = err ? (err.message || 'Search failed.') : '';
    results.render(users);
  });
  d.onCleanup(() => s.cancel());
  renderChips();

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const title = nameInput.value.trim();
    if (!title) { alert.textContent = 'Give the group a name.'; nameInput.focus(); return; }
    if (selected.size < 2) { alert.textContent = 'Choose at least two people.'; search.input.focus(); return; }
    createBtn.disabled = true;
    try {
      const conv = await ctx.api.createGroup(title, [...selected.keys()]);
      ctx.store.upsertConversation(conv);
      d.close();
      ctx.navigate(conv.id);
    } catch (err) {
      alert.textContent = err.message || 'Could not create the group.';
      createBtn.disabled = false;
    }
  });
  nameInput.focus();
}
