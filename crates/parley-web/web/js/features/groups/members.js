// The members section of conversation info: the list with roles, Remove
// for those I may remove, and the "Add members" panel for admins.
import { h, avatar } from '../../util/dom.js';
import { searchField, userLine, useUserSearch } from '../../ui/user-search.js';

function canRemove(store, conv, m) {
  if (conv.kind !== 'group' || m.user_id === store.me.id) return false;
  if (conv.my_role === 'owner') return true;
  return conv.my_role === 'admin' && m.role === 'member';
}

function roleLabel(role) { return role === 'owner' ? 'Owner' : role === 'admin' ? 'Admin' : ''; }

function memberItem(panel, conv, m) {
  const { store, api } = panel.ctx;
  const u = store.user(m.user_id) || m.user || { id: m.user_id, username: '?', display_name: 'Unknown' };
  const me = m.user_id === store.me.id;
  const remove = async () => {
    try {
      await api.removeMember(panel.cid, m.user_id);
      store.setMembers(panel.cid, (store.membersOf(panel.cid) || []).filter((x) => x.user_id !== m.user_id));
      panel.render();
    } catch (e) { panel.fail(e, 'Could not remove the member.'); }
  };
  return h('li', { class: 'member', 'data-user-id': m.user_id },
    avatar(u.display_name || u.username, u.avatar_url, u.id, 'sm'),
    h('span', { class: 'user-text' },
      h('span', { class: 'user-name' }, me ? `${u.display_name || u.username} (You)` : (u.display_name || u.username)),
      h('span', { class: 'user-handle' }, `@${u.username}`)),
    roleLabel(m.role) ? h('span', { class: 'role-badge' }, roleLabel(m.role)) : null,
    canRemove(store, conv, m) ? h('button', { type: 'button', class: 'btn btn-small btn-danger-outline', onclick: remove }, 'Remove') : null);
}

/** The "Add members" panel: a search; a click adds the user. */
function addPanel(panel) {
  const { store, api } = panel.ctx;
  const s = searchField('Search users', 'Name or username');
  const results = h('ul', { class: 'user-list', 'aria-label': 'Users to add' });
  const add = async (u) => {
    try {
      const res = await api.addMembers(panel.cid, [u.id]);
      if (res && res.members) store.setMembers(panel.cid, res.members); else await panel.loadMembers();
      s.input.value = '';
      panel.addOpen = false;
      panel.render();
    } catch (e) { panel.fail(e, 'Could not add the member.'); }
  };
  panel.setAddSearch(useUserSearch(panel.ctx, s.input, (users) => {
    const memberIds = new Set((store.membersOf(panel.cid) || []).map((m) => m.user_id));
    const cands = users.filter((u) => !memberIds.has(u.id));
    results.replaceChildren(...cands.map((u) => h('li', null,
      h('button', { type: 'button', class: 'user-result', onclick: () => add(u) }, userLine(u)))));
    if (!cands.length) results.replaceChildren(h('li', { class: 'list-empty' }, 'No users to add.'));
  }));
  queueMicrotask(() => s.input.focus());
  return h('div', { class: 'add-panel' }, s.el, results);
}

export function membersSection(panel, conv, admin) {
  const members = panel.ctx.store.membersOf(panel.cid);
  const canAdd = conv.kind === 'group' && admin;
  const memberList = h('ul', { class: 'member-list', 'aria-label': 'Members' },
    members ? members.map((m) => memberItem(panel, conv, m)) : h('li', { class: 'list-empty' }, 'Loading members…'));
  return h('div', { class: 'info-section' },
    h('div', { class: 'section-row' },
      h('h3', { class: 'section-title' }, members ? `${members.length} members` : 'Members'),
      canAdd ? h('button', {
        type: 'button', class: 'btn btn-small', 'data-key': 'add', 'aria-expanded': panel.addOpen ? 'true' : 'false',
        onclick: () => { panel.addOpen = !panel.addOpen; panel.render(); },
      }, 'Add members') : null),
    canAdd && panel.addOpen ? addPanel(panel) : null,
    memberList);
}
