// Modal dialogs: new chat, new group, message info, conversation info.
// Native <dialog> + showModal(): focus moves in, the page behind is inert,
// Escape closes. Closed dialogs are removed from the DOM.
import { h, icon, avatar, uid, debounce } from '../util/dom.js';
import { formatFull, formatLastSeen } from '../util/time.js';

const FOREVER = '9999-12-31T00:00:00.000Z';
let openCount = 0;

export function anyDialogOpen() { return openCount > 0; }

function openDialog({ label, title, className = '' }) {
  const body = h('div', { class: 'dialog-body' });
  const dialog = h('dialog', { class: `modal ${className}`.trim(), 'aria-label': label },
    h('header', { class: 'dialog-header' },
      h('h2', { class: 'dialog-title' }, title || label),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', title: 'Close', onclick: () => close() }, icon('close'))),
    body);
  const returnTo = document.activeElement;
  const cleanups = [];
  let closed = false;
  function close() {
    if (closed) return;
    closed = true;
    openCount -= 1;
    for (const fn of cleanups) fn();
    if (dialog.open) dialog.close();
    dialog.remove();
    if (returnTo && returnTo.isConnected && typeof returnTo.focus === 'function') returnTo.focus();
  }
  dialog.addEventListener('close', () => close());
  dialog.addEventListener('cancel', (e) => { e.preventDefault(); close(); });
  dialog.addEventListener('click', (e) => { if (e.target === dialog) close(); }); // backdrop
  document.body.appendChild(dialog);
  openCount += 1;
  dialog.showModal();
  return { dialog, body, close, onCleanup: (fn) => cleanups.push(fn) };
}

function searchField(label, placeholder) {
  const id = uid('q');
  const input = h('input', { id, type: 'search', class: 'search-input', placeholder, autocomplete: 'off' });
  return { input, el: h('div', { class: 'field' }, h('label', { for: id }, label), input) };
}

function userLine(u) {
  return [
    avatar(u.display_name || u.username, u.avatar_url, u.id, 'sm'),
    h('span', { class: 'user-text' },
      h('span', { class: 'user-name' }, u.display_name || u.username),
      h('span', { class: 'user-handle' }, `@${u.username}`)),
  ];
}

function useUserSearch(ctx, input, onResults) {
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

// ---- New chat ---------------------------------------------------------------

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

// ---- New group --------------------------------------------------------------

export function openNewGroup(ctx) {
  const d = openDialog({ label: 'New group' });
  const nameId = uid('gname');
  const nameInput = h('input', { id: nameId, type: 'text', maxlength: 100, autocomplete: 'off', placeholder: 'Group subject' });
  const search = searchField('Search users', 'Add people');
  const selected = new Map();
  let lastResults = [];
  const chips = h('div', { class: 'chips', 'aria-live': 'polite' });
  const results = h('ul', { class: 'user-list check-list', 'aria-label': 'Users' });
  const alert = h('p', { class: 'form-error', role: 'alert' });
  const createBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create group');
  const form = h('form', { class: 'dialog-form' },
    h('div', { class: 'field' }, h('label', { for: nameId }, 'Group name'), nameInput),
    search.el, chips, results, alert,
    h('div', { class: 'dialog-actions' }, createBtn));
  d.body.append(form);

  function renderChips() {
    chips.replaceChildren(...[...selected.values()].map((u) => h('span', { class: 'chip' }, u.display_name || u.username)));
    chips.hidden = selected.size === 0;
  }

  function renderResults() {
    const shown = new Map();
    for (const u of selected.values()) shown.set(u.id, u);
    for (const u of lastResults) shown.set(u.id, u);
    results.replaceChildren(...[...shown.values()].map((u) => {
      const cb = h('input', { type: 'checkbox', 'aria-label': u.display_name || u.username, checked: selected.has(u.id) });
      cb.addEventListener('change', () => {
        if (cb.checked) selected.set(u.id, u); else selected.delete(u.id);
        renderChips();
      });
      return h('li', null, h('label', { class: 'user-check' }, cb, userLine(u)));
    }));
    if (!shown.size) results.replaceChildren(h('li', { class: 'list-empty' }, 'No users found.'));
  }

  const s = useUserSearch(ctx, search.input, (users, err) => {
    alert.textContent = err ? (err.message || 'Search failed.') : '';
    lastResults = users;
    renderResults();
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

// ---- Message info -----------------------------------------------------------

export function openMessageInfo(ctx, cid, msg) {
  const d = openDialog({ label: 'Message info' });
  const list = h('ul', { class: 'receipt-list' }, h('li', { class: 'list-empty' }, 'Loading…'));
  d.body.append(
    h('div', { class: 'info-message' },
      h('div', { class: 'bubble own-preview' }, h('div', { class: 'message-text' }, msg.text || ''),
        h('span', { class: 'message-meta' }, formatFull(msg.created_at)))),
    h('h3', { class: 'section-title' }, 'Receipts'),
    list);
  d.dialog.querySelector('.dialog-header .icon-btn').focus();
  ctx.api.receipts(msg.id).then((res) => {
    const rows = res.receipts.map((r) => {
      const name = ctx.store.displayName(r.user_id);
      if (!ctx.store.user(r.user_id)) ctx.ensureUser(r.user_id);
      return h('li', { class: 'member receipt', 'data-user-id': r.user_id },
        avatar(name, ctx.store.user(r.user_id)?.avatar_url, r.user_id, 'sm'),
        h('span', { class: 'user-text' },
          h('span', { class: 'user-name' }, name),
          r.read_at ? h('span', { class: 'receipt-line receipt-read' }, `Read ${formatFull(r.read_at)}`) : null,
          r.delivered_at ? h('span', { class: 'receipt-line' }, `Delivered ${formatFull(r.delivered_at)}`) : null,
          !r.delivered_at && !r.read_at ? h('span', { class: 'receipt-line' }, 'Not delivered yet') : null));
    });
    list.replaceChildren(...(rows.length ? rows : [h('li', { class: 'list-empty' }, 'No receipts.')]));
  }).catch((e) => {
    list.replaceChildren(h('li', { class: 'form-error', role: 'alert' }, e.message || 'Could not load receipts.'));
  });
}

// ---- Conversation info --------------------------------------------------------

export function openConversationInfo(ctx, cid) {
  const { store, api } = ctx;
  const d = openDialog({ label: 'Conversation info' });
  const alert = h('p', { class: 'form-error', role: 'alert' });
  let addOpen = false;
  let addSearch = null;
  const content = h('div', { class: 'info-content' });
  d.body.append(content, alert);

  const fail = (e, fallback) => { alert.textContent = e.message || fallback; };

  async function loadMembers() {
    try {
      const res = await api.members(cid);
      store.setMembers(cid, res.members);
      render();
    } catch (e) { fail(e, 'Could not load members.'); }
  }

  async function loadBlock(peerId) {
    try {
      const b = await api.blockStatus(peerId);
      store.blocks.set(peerId, b);
      store.touch(`conv:${cid}`);
      render();
    } catch { /* ignore */ }
  }

  function canRemove(conv, m) {
    if (conv.kind !== 'group' || m.user_id === store.me.id) return false;
    if (conv.my_role === 'owner') return true;
    return conv.my_role === 'admin' && m.role === 'member';
  }

  function roleLabel(role) { return role === 'owner' ? 'Owner' : role === 'admin' ? 'Admin' : ''; }

  function memberItem(conv, m) {
    const u = store.user(m.user_id) || m.user || { id: m.user_id, username: '?', display_name: 'Unknown' };
    const me = m.user_id === store.me.id;
    return h('li', { class: 'member', 'data-user-id': m.user_id },
      avatar(u.display_name || u.username, u.avatar_url, u.id, 'sm'),
      h('span', { class: 'user-text' },
        h('span', { class: 'user-name' }, me ? `${u.display_name || u.username} (You)` : (u.display_name || u.username)),
        h('span', { class: 'user-handle' }, `@${u.username}`)),
      roleLabel(m.role) ? h('span', { class: 'role-badge' }, roleLabel(m.role)) : null,
      canRemove(conv, m) ? h('button', {
        type: 'button', class: 'btn btn-small btn-danger-outline',
        onclick: async () => {
          try {
            await api.removeMember(cid, m.user_id);
            const list = (store.members.get(cid) || []).filter((x) => x.user_id !== m.user_id);
            store.setMembers(cid, list);
            render();
          } catch (e) { fail(e, 'Could not remove the member.'); }
        },
      }, 'Remove') : null);
  }

  async function toggleMute(conv) {
    const muted = store.isMuted(conv);
    try {
      const res = await api.mute(cid, muted ? null : FOREVER);
      conv.muted_until = res ? res.muted_until : (muted ? null : FOREVER);
      store.touch('list', `conv:${cid}`);
      render();
    } catch (e) { fail(e, 'Could not change mute.'); }
  }

  function renderAddPanel(conv) {
    const s = searchField('Search users', 'Name or username');
    const results = h('ul', { class: 'user-list', 'aria-label': 'Users to add' });
    const panel = h('div', { class: 'add-panel' }, s.el, results);
    if (addSearch) addSearch.cancel();
    addSearch = useUserSearch(ctx, s.input, (users) => {
      const memberIds = new Set((store.members.get(cid) || []).map((m) => m.user_id));
      const cands = users.filter((u) => !memberIds.has(u.id));
      results.replaceChildren(...cands.map((u) => h('li', null, h('button', {
        type: 'button', class: 'user-result',
        onclick: async () => {
          try {
            const res = await api.addMembers(cid, [u.id]);
            if (res && res.members) store.setMembers(cid, res.members); else await loadMembers();
            s.input.value = '';
            addOpen = false;
            render();
          } catch (e) { fail(e, 'Could not add the member.'); }
        },
      }, userLine(u)))));
      if (!cands.length) results.replaceChildren(h('li', { class: 'list-empty' }, 'No users to add.'));
    });
    queueMicrotask(() => s.input.focus());
    return panel;
  }

  function render() {
    const conv = store.conversation(cid);
    if (!conv) { d.close(); return; }
    const active = document.activeElement;
    const activeKey = active && d.dialog.contains(active) ? (active.dataset.key || null) : null;
    const title = store.titleOf(conv);
    const peer = store.peerOf(conv);
    const admin = conv.my_role === 'owner' || conv.my_role === 'admin';
    const parts = [];
    parts.push(h('div', { class: 'info-hero' },
      avatar(title, conv.kind === 'direct' ? (peer && peer.avatar_url) : conv.avatar_url, peer ? peer.id : conv.id, 'lg'),
      h('p', { class: 'info-title' }, title),
      conv.kind === 'direct' && peer ? h('p', { class: 'info-sub' }, `@${peer.username}`) : h('p', { class: 'info-sub' }, `Group · ${conv.member_count} members`),
      conv.kind === 'direct' && peer && peer.presence ? h('p', { class: 'info-sub' },
        peer.presence.state === 'online' ? 'online' : (peer.presence.last_seen_at ? `last seen ${formatLastSeen(peer.presence.last_seen_at)}` : '')) : null,
      conv.kind === 'direct' && peer && peer.about ? h('p', { class: 'info-about' }, peer.about) : null));

    if (conv.kind === 'group' && admin) {
      const id = uid('rename');
      const input = h('input', { id, type: 'text', value: conv.title || '', maxlength: 100, autocomplete: 'off' });
      const form = h('form', { class: 'rename-form' },
        h('div', { class: 'field' }, h('label', { for: id }, 'Group name'),
          h('div', { class: 'inline-field' }, input,
            h('button', { type: 'submit', class: 'btn btn-primary btn-small' }, 'Save'))));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const t = input.value.trim();
        if (!t) { alert.textContent = 'The group name cannot be empty.'; return; }
        try {
          const res = await api.updateConversation(cid, { title: t });
          conv.title = (res && res.title) || t;
          store.touch('list', `conv:${cid}`);
          alert.textContent = '';
          render();
        } catch (err) { fail(err, 'Could not rename the group.'); }
      });
      parts.push(h('div', { class: 'info-section' },
        h('div', { class: 'section-row' }, h('h3', { class: 'section-title' }, 'Name'),
          h('button', { type: 'button', class: 'btn btn-small', 'data-key': 'rename', onclick: () => { input.focus(); input.select(); } }, 'Rename')),
        form));
    }

    const members = store.members.get(cid);
    const memberList = h('ul', { class: 'member-list', 'aria-label': 'Members' },
      members ? members.map((m) => memberItem(conv, m)) : h('li', { class: 'list-empty' }, 'Loading members…'));
    const membersSection = h('div', { class: 'info-section' },
      h('div', { class: 'section-row' },
        h('h3', { class: 'section-title' }, members ? `${members.length} members` : 'Members'),
        conv.kind === 'group' && admin ? h('button', { type: 'button', class: 'btn btn-small', 'data-key': 'add', 'aria-expanded': addOpen ? 'true' : 'false', onclick: () => { addOpen = !addOpen; render(); } }, 'Add members') : null),
      conv.kind === 'group' && admin && addOpen ? renderAddPanel(conv) : null,
      memberList);
    parts.push(membersSection);

    const actions = h('div', { class: 'info-actions' });
    actions.append(h('button', { type: 'button', class: 'btn', 'data-key': 'mute', onclick: () => toggleMute(conv) }, store.isMuted(conv) ? 'Unmute' : 'Mute'));
    if (conv.kind === 'direct' && peer) {
      const b = store.blocks.get(peer.id);
      const blocked = b && b.blocked_by_me;
      actions.append(h('button', {
        type: 'button', class: 'btn btn-danger-outline', 'data-key': 'block',
        onclick: async () => {
          try {
            if (blocked) {
              await api.unblock(peer.id);
              store.blocks.set(peer.id, { blocked_by_me: false, blocked_me: !!(b && b.blocked_me) });
            } else {
              const res = await api.block(peer.id);
              store.blocks.set(peer.id, res || { blocked_by_me: true, blocked_me: false });
            }
            store.touch(`conv:${cid}`);
            render();
            ctx.refreshUser(peer.id);
          } catch (e) { fail(e, 'Could not change the block.'); }
        },
      }, blocked ? 'Unblock' : 'Block'));
    }
    if (conv.kind === 'group') {
      actions.append(h('button', {
        type: 'button', class: 'btn btn-danger', 'data-key': 'leave',
        onclick: async () => {
          try {
            await api.removeMember(cid, store.me.id);
            d.close();
            store.removeConversation(cid);
            ctx.navigate(null);
          } catch (e) { fail(e, 'Could not leave the group.'); }
        },
      }, 'Leave group'));
    }
    parts.push(actions);
    content.replaceChildren(...parts);
    if (activeKey) {
      const again = content.querySelector(`[data-key="${activeKey}"]`);
      if (again) again.focus();
    } else if (!d.dialog.contains(document.activeElement)) {
      d.dialog.querySelector('.dialog-header .icon-btn').focus();
    }
  }

  const unsub = store.subscribe((dirty) => {
    if (dirty.has(`conv:${cid}`) || dirty.has('users')) {
      // Don't rebuild while the user types in the dialog.
      const a = document.activeElement;
      if (a && d.dialog.contains(a) && a.tagName === 'INPUT') return;
      render();
    }
  });
  d.onCleanup(() => { unsub(); if (addSearch) addSearch.cancel(); });
  render();
  loadMembers();
  const conv = store.conversation(cid);
  const peer = store.peerOf(conv);
  if (conv && conv.kind === 'direct' && peer) loadBlock(peer.id);
}
