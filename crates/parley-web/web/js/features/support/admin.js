// Admins: an inbox's settings (create and edit: name, time zone, routing,
// capacity, opening hours as day/open/close rows, holidays, the offline
// message) and adding agents by user id.
import { h, uid } from '../../util/dom.js';
import { openDialog } from '../../ui/dialog.js';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const ROUTING = [['least_busy', 'Least busy'], ['round_robin', 'Round robin'], ['manual', 'Manual (agents claim)']];

function field(label, control, hint) {
  const id = control.id || uid('f');
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('p', { class: 'field-hint' }, hint) : null);
}

function hoursRow(item, onRemove) {
  const day = h('select', { class: 'select-input', 'aria-label': 'Day' }, DAYS.map((d) => h('option', { value: d }, d)));
  day.value = item.day || 'mon';
  const open = h('input', { type: 'time', class: 'select-input', 'aria-label': 'Opens', value: item.open || '09:00' });
  const close = h('input', { type: 'text', class: 'select-input', 'aria-label': 'Closes', value: item.close || '17:00', pattern: '([01][0-9]|2[0-3]):[0-5][0-9]|24:00', size: 5 });
  const row = h('li', { class: 'hours-row' }, day, open, close,
    h('button', { type: 'button', class: 'btn btn-small', 'aria-label': 'Remove these hours', onclick: () => { row.remove(); onRemove(); } }, 'Remove'));
  row.read = () => ({ day: day.value, open: open.value, close: close.value });
  return row;
}

/** The create/edit dialog; `inbox` null creates one. Resolves via onSaved. */
export function openInboxForm(ctx, inbox, onSaved) {
  const { api } = ctx;
  const d = openDialog({ label: inbox ? `Edit inbox ${inbox.name}` : 'New inbox', className: 'support-inbox-form' });
  const name = h('input', { type: 'text', required: true, value: inbox ? inbox.name : '' });
  const tz = h('input', { type: 'text', required: true, value: inbox ? inbox.timezone : Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC' });
  const routing = h('select', { class: 'select-input' }, ROUTING.map(([v, l]) => h('option', { value: v }, l)));
  routing.value = inbox ? inbox.routing : 'least_busy';
  const cap = h('input', { type: 'number', min: '1', value: inbox && inbox.max_chats_per_agent ? String(inbox.max_chats_per_agent) : '' });
  const offline = h('input', { type: 'text', value: inbox && inbox.offline_message ? inbox.offline_message : '' });
  const holidays = h('input', { type: 'text', value: inbox && inbox.holidays ? inbox.holidays.join(', ') : '', placeholder: '2026-12-25, 2027-01-01' });
  const always = h('input', { type: 'checkbox', id: uid('always') });
  always.checked = !inbox || inbox.hours === null;
  const rows = h('ul', { class: 'hours-rows', 'aria-label': 'Opening hours' });
  const addRow = (item) => rows.appendChild(hoursRow(item, () => {}));
  for (const item of (inbox && inbox.hours) || []) addRow(item);
  const hoursBox = h('fieldset', { class: 'hours-box' }, h('legend', null, 'Opening hours'),
    h('label', { class: 'check' }, always, ' Always open'),
    rows,
    h('button', { type: 'button', class: 'btn btn-small', onclick: () => { always.checked = false; addRow({}); } }, 'Add hours'));
  const error = h('p', { class: 'form-error', role: 'alert' });
  const form = h('form', { class: 'dialog-form', 'aria-label': inbox ? 'Edit inbox' : 'New inbox' },
    field('Name', name), field('Time zone', tz, 'An IANA zone, e.g. Europe/Paris'), field('Routing', routing),
    field('Chats per agent', cap), field('Offline message', offline), hoursBox,
    field('Holidays', holidays, 'Dates, separated by commas'), error,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, inbox ? 'Save' : 'Create inbox')));
  d.body.appendChild(form);
  name.focus();

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {
      name: name.value.trim(),
      timezone: tz.value.trim(),
      routing: routing.value,
      offline_message: offline.value.trim() || null,
      holidays: holidays.value.split(/[\s,]+/).filter(Boolean),
      hours: always.checked ? null : [...rows.children].map((r) => r.read()),
    };
    if (cap.value) body.max_chats_per_agent = Number(cap.value);
    try {
      const saved = inbox ? await api.updateInbox(inbox.id, body) : await api.createInbox(body);
      d.close();
      ctx.toast(inbox ? 'Inbox saved.' : `Inbox ${saved.name} created.`);
      onSaved(saved);
    } catch (err) {
      error.textContent = err.message;
    }
  });
}

/** The admin section of the dashboard: New inbox, Edit, Add agent. */
export function adminSection(ctx, inboxes, refresh) {
  const { api } = ctx;
  const hid = uid('admin');
  const items = inboxes.map((inbox) => {
    const idInput = h('input', { type: 'text', class: 'select-input', 'aria-label': `User id to add as an agent of ${inbox.name}`, placeholder: 'User id' });
    const form = h('form', { class: 'add-agent-form', 'aria-label': `Add an agent to ${inbox.name}` }, idInput,
      h('button', { type: 'submit', class: 'btn btn-small' }, 'Add agent'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const id = idInput.value.trim();
      if (!id) return;
      try {
        await api.addInboxAgent(inbox.id, id);
        ctx.toast('Agent added.');
        idInput.value = '';
        refresh();
      } catch (err) { ctx.toast(`Could not add the agent: ${err.message}`); }
    });
    return h('li', { class: 'support-item' },
      h('span', { class: 'support-open' }, h('span', { class: 'support-item-name' }, inbox.name),
        h('span', { class: 'support-item-preview' }, `${inbox.timezone} · ${inbox.routing}${inbox.open_now ? ' · open' : ' · closed'}`)),
      form,
      h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Edit inbox ${inbox.name}`, onclick: () => openInboxForm(ctx, inbox, refresh) }, 'Edit'));
  });
  return h('section', { class: 'support-section', 'aria-labelledby': hid },
    h('h3', { id: hid }, 'Inboxes'),
    items.length ? h('ul', { class: 'support-list', 'aria-label': 'Inboxes' }, items) : h('p', { class: 'support-empty' }, 'No inboxes yet.'),
    h('p', null, h('button', { type: 'button', class: 'btn btn-small btn-primary', onclick: () => openInboxForm(ctx, null, refresh) }, 'New inbox')));
}
