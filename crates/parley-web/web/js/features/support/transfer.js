// The Transfer dialog: another agent of this inbox, or another inbox.
import { h, uid } from '../../util/dom.js';
import { openDialog } from '../../ui/dialog.js';

export function openTransfer(ctx, cid, onTransfer) {
  const { api, store } = ctx;
  const conv = store.conversation(cid);
  if (!conv || !conv.support) return;
  const d = openDialog({ label: 'Transfer chat', className: 'support-transfer' });
  const selectId = uid('transfer');
  const select = h('select', { id: selectId, class: 'select-input', required: true },
    h('option', { value: '' }, 'Loading…'));
  const status = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Transfer');
  const form = h('form', { class: 'dialog-form', 'aria-label': 'Transfer chat' },
    h('div', { class: 'field' }, h('label', { for: selectId }, 'Transfer to'), select), status,
    h('div', { class: 'dialog-actions' }, submit));
  d.body.appendChild(form);

  Promise.all([
    api.inboxAgents(conv.support.inbox_id).then((r) => r.agents).catch(() => []),
    api.listInboxes().then((r) => r.inboxes).catch(() => []),
  ]).then(async ([agents, inboxes]) => {
    const others = agents.filter((a) => a.user_id !== store.me.id);
    await Promise.all(others.map((a) => (store.user(a.user_id) ? null : api.getUser(a.user_id).then((u) => store.putUser(u)).catch(() => {}))));
    const opts = [h('option', { value: '' }, 'Choose an agent or an inbox')];
    for (const a of others) {
      const label = `${store.displayName(a.user_id)}${a.status ? ` (${a.status})` : ''}`;
      opts.push(h('option', { value: `agent:${a.user_id}` }, label));
    }
    for (const i of inboxes.filter((x) => x.id !== conv.support.inbox_id)) {
      opts.push(h('option', { value: `inbox:${i.id}` }, `Inbox: ${i.name}`));
    }
    select.replaceChildren(...opts);
  });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = select.value;
    if (!v) { status.textContent = 'Choose where to transfer the chat.'; return; }
    const [kind, id] = [v.slice(0, v.indexOf(':')), v.slice(v.indexOf(':') + 1)];
    onTransfer(kind === 'agent' ? { agent_id: id } : { inbox_id: id });
    d.close();
  });
  select.focus();
}
