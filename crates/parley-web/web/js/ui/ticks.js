// Message status ticks (clock, one grey tick, two grey, two blue, red failed).
import { h, icon } from '../util/dom.js';

const LABELS = { sending: 'Sending', sent: 'Sent', delivered: 'Delivered', read: 'Read', failed: 'Failed' };
const ICON = { sending: 'clock', sent: 'check', delivered: 'checks', read: 'checks', failed: 'alert' };

export function ticks(status) {
  const st = LABELS[status] ? status : 'sent';
  return h('span', { class: `ticks ticks-${st}`, 'data-status': st, 'aria-label': LABELS[st], role: 'img', title: LABELS[st] }, icon(ICON[st]));
}
