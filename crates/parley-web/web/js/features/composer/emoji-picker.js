// The emoji picker: a dialog with a search box ("Search emoji", by name)
// and the emoji by group, shipped with the client (data/emoji.js, no CDN),
// drawn by the system's emoji font. Used by the composer's Emoji button
// (inserts at the caret, stays open for more) and by a message's React menu
// (reacts, then closes).
import { h, uid } from '../../util/dom.js';
import { openDialog } from '../../ui/dialog.js';
import { EMOJI } from '../../data/emoji.js';

const MAX_RESULTS = 120;

/** `onPick(emoji)`; `closeOnPick`: one choice (a reaction) or several (typing). */
export function openEmojiPicker({ onPick, closeOnPick = false, label = 'Emoji' }) {
  const d = openDialog({ label, className: 'emoji-dialog' });
  const searchId = uid('emoji-q');
  const input = h('input', { id: searchId, type: 'search', class: 'search-input', placeholder: 'Search emoji', autocomplete: 'off', maxlength: '64' });
  const results = h('div', { class: 'emoji-groups' });
  const status = h('p', { class: 'search-status', role: 'status' });
  d.body.append(h('div', { class: 'field' }, h('label', { for: searchId, class: 'visually-hidden' }, 'Search emoji'), input), status, results);

  const button = ([emoji, name]) => h('button', {
    type: 'button', class: 'emoji-btn', 'aria-label': name, title: name,
    onclick: () => { onPick(emoji); if (closeOnPick) d.close(); },
  }, emoji);

  function render() {
    const q = input.value.trim().toLowerCase();
    if (!q) {
      status.textContent = '';
      results.replaceChildren(...EMOJI.map(([group, items]) => h('section', { class: 'emoji-group', 'aria-label': group },
        h('h3', { class: 'emoji-group-title' }, group),
        h('div', { class: 'emoji-grid' }, items.map(button)))));
      return;
    }
    const words = q.split(/\s+/);
    const found = [];
    for (const [, items] of EMOJI) {
      for (const it of items) if (words.every((w) => it[1].includes(w))) found.push(it);
    }
    status.textContent = found.length ? `${found.length} emoji` : 'No emoji found.';
    results.replaceChildren(h('div', { class: 'emoji-grid' }, found.slice(0, MAX_RESULTS).map(button)));
  }

  input.addEventListener('input', render);
  render();
  input.focus();
  return d;
}
