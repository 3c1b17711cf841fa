// The support bar under a support conversation's header. For the customer:
// the place in line, the inbox's offline message, who they chat with, or
// that it was resolved. For agents and admins: the state and the actions
// (Claim, Resolve, Transfer, Reopen).
import { h } from '../../util/dom.js';
import { openTransfer } from './transfer.js';

const nextOpenFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' });

/** When the inbox opens again, in the browser's own time zone. */
export function formatNextOpen(iso) {
  const d = iso ? new Date(iso) : null;
  return d && !Number.isNaN(d.getTime()) ? nextOpenFmt.format(d) : '';
}

function customerText(ctx, sup, inbox) {
  const { store } = ctx;
  if (sup.state === 'resolved') return 'This conversation was resolved. Write again to reopen.';
  if (sup.state === 'assigned' && sup.assignee_id) {
    ctx.ensureUser(sup.assignee_id);
    return `You are chatting with ${store.displayName(sup.assignee_id)}`;
  }
  const parts = [];
  if (inbox && inbox.open_now === false) {
    const when = formatNextOpen(inbox.next_open_at);
    parts.push(inbox.offline_message || 'We are closed right now.');
    if (when) parts.push(`We open again ${when}.`);
  }
  if (sup.position) parts.push(`You are number ${sup.position} in line`);
  else if (!parts.length) parts.push('Waiting for an agent…');
  return parts.join(' ');
}

function agentText(ctx, sup) {
  const { store } = ctx;
  const customer = store.displayName(sup.customer_id);
  if (sup.state === 'queued') return `${customer} is waiting in the queue`;
  if (sup.state === 'resolved') return `Resolved · ${customer}`;
  if (sup.assignee_id === store.me.id) return `You are chatting with ${customer}`;
  return `Assigned to ${store.displayName(sup.assignee_id)} · ${customer}`;
}

export function createSupportBar(ctx, cid) {
  const { store, api } = ctx;
  const text = h('p', { class: 'support-bar-text', role: 'status', 'aria-live': 'polite' });
  const actions = h('div', { class: 'support-bar-actions' });
  const el = h('div', { class: 'support-bar', hidden: true }, text, actions);
  let inbox = null;
  let inboxFor = null;
  let busy = false;
  let sig = '';

  function loadInbox(conv) {
    const key = `${conv.support.inbox_id}:${conv.support.state}`;
    if (inboxFor === key) return;
    inboxFor = key;
    api.getInbox(conv.support.inbox_id).then((i) => { inbox = i; sig = ''; render(); }).catch(() => {});
  }

  async function act(action, body, done) {
    if (busy) return;
    busy = true;
    try {
      const conv = await api.supportAction(cid, action, body);
      if (conv && conv.id) store.upsertConversation(conv);
      if (done) done(conv);
    } catch (e) {
      ctx.toast(`Could not ${action} this chat: ${e.message}`);
    } finally {
      busy = false;
    }
  }

  const button = (label, onclick, cls = 'btn btn-small') => h('button', { type: 'button', class: cls, onclick }, label);

  function render() {
    const conv = store.conversation(cid);
    const sup = conv && conv.kind === 'support' ? conv.support : null;
    el.hidden = !sup;
    if (!sup) return;
    const isCustomer = sup.customer_id === store.me.id;
    if (isCustomer && sup.state === 'queued') loadInbox(conv);
    const line = isCustomer ? customerText(ctx, sup, inbox) : agentText(ctx, sup);
    const next = JSON.stringify([line, sup.state, sup.assignee_id, isCustomer]);
    if (next === sig) return;
    sig = next;
    if (text.textContent !== line) text.textContent = line;
    el.dataset.state = sup.state;
    const buttons = [];
    if (!isCustomer) {
      if (sup.state === 'queued') buttons.push(button('Claim', () => act('claim'), 'btn btn-small btn-primary'));
      if (sup.state === 'assigned') {
        buttons.push(button('Transfer', () => openTransfer(ctx, cid, (body) => act('transfer', body))));
        buttons.push(button('Resolve', () => act('resolve'), 'btn btn-small btn-primary'));
      }
      if (sup.state === 'resolved') buttons.push(button('Reopen', () => act('reopen')));
    }
    actions.replaceChildren(...buttons);
  }

  return { el, render };
}
