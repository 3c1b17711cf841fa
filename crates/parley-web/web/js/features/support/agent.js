// The agents' support dashboard (#/support): my Available/Away status, the
// queue of each of my inboxes (oldest first, with the waiting time and a
// Claim button) and my open chats. Refreshed every few seconds while open
// and on support events; the waiting times tick every second.
import { h, uid } from '../../util/dom.js';
import { formatDuration } from '../../util/time.js';
import { adminSection } from './admin.js';

const POLL_MS = 3000;

export function createSupportDashboard(ctx) {
  const { api, store } = ctx;
  const statusText = h('span', { class: 'support-status-text', 'aria-live': 'polite' });
  const statusSwitch = h('button', { type: 'button', class: 'support-switch', role: 'switch', 'aria-checked': 'false', onclick: () => toggleStatus() },
    h('span', { class: 'support-switch-track', 'aria-hidden': 'true' }, h('span', { class: 'support-switch-thumb' })),
    h('span', { class: 'support-switch-label' }, 'Available'));
  const queues = h('div', { class: 'support-queues' });
  const admin = h('div', { class: 'support-admin' });
  const isAdmin = store.me && store.me.role === 'admin';
  let listSig = '';
  let adminSig = '';
  const mine = h('ul', { class: 'support-list', 'aria-label': 'My chats' });
  const mineEmpty = h('p', { class: 'support-empty' }, 'No open chats.');
  const myId = uid('mychats');
  const el = h('section', { class: 'support-dashboard', 'aria-label': 'Support dashboard' },
    h('header', { class: 'support-dash-header' },
      h('button', { type: 'button', class: 'btn btn-small back-btn', onclick: () => ctx.navigate(null) }, 'Back'),
      h('h2', { class: 'support-dash-title' }, 'Support'),
      h('div', { class: 'support-status' }, statusSwitch, statusText)),
    h('div', { class: 'support-dash-body' },
      h('section', { class: 'support-section', 'aria-labelledby': myId },
        h('h3', { id: myId }, 'My chats'), mine, mineEmpty),
      queues, admin));

  let destroyed = false;
  let status = null;
  let inboxes = [];
  const queueOf = new Map(); // inbox id -> conversations
  let myChats = [];
  let seenQueued = null;

  function renderStatus() {
    const available = status && status.status === 'available';
    statusSwitch.setAttribute('aria-checked', available ? 'true' : 'false');
    statusText.textContent = status ? `${available ? 'Available' : 'Away'} · ${status.open_chats || 0} open chat${status.open_chats === 1 ? '' : 's'}` : '';
  }

  async function toggleStatus() {
    const next = status && status.status === 'available' ? 'away' : 'available';
    try {
      status = await api.setAgentStatus(next);
      renderStatus();
    } catch (e) { ctx.toast(`Could not change your status: ${e.message}`); }
  }

  const waitEl = (c) => h('span', { class: 'support-wait', 'data-since': c.support.queued_at || c.created_at });

  function customerName(c) {
    ctx.ensureUser(c.support.customer_id);
    return store.displayName(c.support.customer_id);
  }

  async function claim(c) {
    try {
      const conv = await api.supportAction(c.id, 'claim');
      store.upsertConversation(conv);
      ctx.navigate(conv.id);
    } catch (e) {
      ctx.toast(`Could not claim this chat: ${e.message}`);
      refresh();
    }
  }

  function chatRow(c, withClaim) {
    const name = customerName(c);
    const preview = c.last_message && c.last_message.kind !== 'system' ? c.last_message.text || '' : '';
    return h('li', { class: 'support-item', 'data-conversation-id': c.id },
      h('button', { type: 'button', class: 'support-open', onclick: () => ctx.navigate(c.id) },
        h('span', { class: 'support-item-name' }, name),
        preview ? h('span', { class: 'support-item-preview', dir: 'auto' }, preview) : null),
      withClaim ? waitEl(c) : null,
      withClaim ? h('button', { type: 'button', class: 'btn btn-small btn-primary', 'aria-label': `Claim chat with ${name}`, onclick: () => claim(c) }, 'Claim') : null);
  }

  function tick() {
    const now = Date.now();
    for (const w of el.querySelectorAll('.support-wait')) {
      const since = Date.parse(w.dataset.since);
      const t = formatDuration(now - since);
      if (w.textContent !== t) { w.textContent = t; w.setAttribute('aria-label', `waiting ${t}`); }
    }
  }

  function render() {
    if (destroyed) return;
    renderStatus();
    if (isAdmin) {
      const sig = JSON.stringify(inboxes);
      if (sig !== adminSig) { adminSig = sig; admin.replaceChildren(adminSection(ctx, inboxes, () => refresh())); }
    }
    const names = (l) => l.map((c) => [c.id, c.support && c.support.queued_at, store.displayName(c.support && c.support.customer_id), c.last_message && c.last_message.text]);
    const sig = JSON.stringify([names(myChats), inboxes.map((i) => [i.id, i.name, i.open_now, names(queueOf.get(i.id) || [])])]);
    if (sig !== listSig) { listSig = sig; renderLists(); }
    tick();
    afterRender();
  }

  function renderLists() {
    mine.replaceChildren(...myChats.map((c) => chatRow(c, false)));
    mineEmpty.hidden = myChats.length > 0;
    queues.replaceChildren(...inboxes.map((inbox) => {
      const list = queueOf.get(inbox.id) || [];
      const hid = uid('queue');
      return h('section', { class: 'support-section', 'aria-labelledby': hid, 'data-inbox-id': inbox.id },
        h('h3', { id: hid }, `${inbox.name} queue`,
          h('span', { class: 'support-count' }, ` (${list.length} waiting${inbox.open_now === false ? ', closed' : ''})`)),
        list.length
          ? h('ul', { class: 'support-list', 'aria-label': `${inbox.name} queue` }, list.map((c) => chatRow(c, true)))
          : h('p', { class: 'support-empty' }, 'Nobody is waiting.'));
    }));
  }

  function afterRender() {
    let total = 0;
    for (const l of queueOf.values()) total += l.length;
    ctx.setSupportQueued(total);
    if (seenQueued !== null && total > seenQueued) announce.textContent = `${total - seenQueued} new chat${total - seenQueued === 1 ? '' : 's'} in the queue`;
    seenQueued = total;
  }
  const announce = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  el.appendChild(announce);

  let loading = false;
  async function refresh() {
    if (destroyed || loading) return;
    loading = true;
    try {
      const [st, ib, my] = await Promise.all([
        api.agentStatus().catch(() => status),
        api.listInboxes().then((r) => r.inboxes).catch(() => inboxes),
        api.myAgentConversations('assigned').then((r) => r.conversations).catch(() => myChats),
      ]);
      status = st; inboxes = ib; myChats = my;
      const qs = await Promise.all(inboxes.map((i) => api.supportQueue(i.id).then((r) => r.conversations).catch(() => queueOf.get(i.id) || [])));
      queueOf.clear();
      inboxes.forEach((i, n) => queueOf.set(i.id, qs[n]));
      render();
    } finally {
      loading = false;
    }
  }

  refresh();
  const poll = setInterval(refresh, POLL_MS);
  const ticker = setInterval(tick, 1000);

  return {
    el,
    cid: null,
    route: 'support',
    update(dirty) {
      if (destroyed) return;
      if (dirty.has('support')) refresh();
      else if (dirty.has('users')) render();
    },
    refresh,
    focusComposer() { statusSwitch.focus({ preventScroll: true }); },
    destroy() {
      destroyed = true;
      clearInterval(poll);
      clearInterval(ticker);
      ctx.setSupportQueued(0);
    },
  };
}
