// "Search messages": a dialog over all my chats (or the open one), hits
// grouped by conversation with the server's highlighted snippet; a hit
// opens its conversation at the message.
import { h, uid, debounce } from '../../util/dom.js';
import { openDialog } from '../../ui/dialog.js';
import { formatListTime } from '../../util/time.js';

const ENTITIES = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };
const unescape = (s) => s.replace(/&(amp|lt|gt|quot|#39);/g, (e) => ENTITIES[e]);

/**
 * The snippet as nodes: the server escapes the text and wraps hits in
 * <mark>; we rebuild it as text nodes and <mark> elements (never as HTML).
 */
export function snippetNodes(snippet) {
  const out = [];
  let marked = false;
  for (const part of String(snippet || '').split(/(<mark>|<\/mark>)/)) {
    if (part === '<mark>') { marked = true; continue; }
    if (part === '</mark>') { marked = false; continue; }
    if (!part) continue;
    const text = unescape(part);
    out.push(marked ? h('mark', null, text) : document.createTextNode(text));
  }
  return out;
}

export function openMessageSearch(ctx, { conversationId } = {}) {
  const { api, store } = ctx;
  const d = openDialog({ label: 'Search messages' });
  const id = uid('msgq');
  const input = h('input', { id, type: 'search', class: 'search-input', placeholder: 'Words, "a phrase", from:name, has:link', autocomplete: 'off', maxlength: '512' });
  const onlyId = uid('only');
  const only = conversationId ? h('input', { id: onlyId, type: 'checkbox' }) : null;
  const status = h('p', { class: 'search-status', role: 'status' });
  const results = h('div', { class: 'search-results', 'aria-label': 'Results', role: 'region' });
  const more = h('button', { type: 'button', class: 'btn', hidden: true, onclick: () => run(true) }, 'More results');
  d.body.append(
    h('div', { class: 'field' }, h('label', { for: id }, 'Search messages'), input),
    only ? h('div', { class: 'field field-inline' }, only, h('label', { for: onlyId }, `Only in ${store.titleOf(store.conversation(conversationId))}`)) : null,
    status, results, more);

  let seq = 0;
  let cursor = null;
  const groups = new Map(); // conversation id -> list element

  function groupFor(conv) {
    let list = groups.get(conv.id);
    if (!list) {
      list = h('ul', { class: 'search-hits' });
      const title = conv.title || (store.conversation(conv.id) ? store.titleOf(store.conversation(conv.id)) : 'Chat');
      results.append(h('section', { class: 'search-group', 'aria-label': title },
        h('h3', { class: 'search-group-title' }, title), list));
      groups.set(conv.id, list);
    }
    return list;
  }

  function showHit(hit) {
    const m = hit.message;
    ctx.ensureUser(m.sender_id);
    const who = m.sender_id === store.me.id ? 'You' : store.displayName(m.sender_id);
    const button = h('button', { type: 'button', class: 'search-hit', onclick: () => open(hit) },
      h('span', { class: 'search-hit-meta' }, `${who} · ${formatListTime(m.created_at)}`),
      h('span', { class: 'search-hit-snippet' }, ...snippetNodes(hit.snippet)));
    groupFor(hit.conversation).append(h('li', null, button));
  }

  function open(hit) {
    d.close();
    ctx.openMessage(hit.conversation.id, hit.message.id, hit.message.seq);
  }

  async function run(next = false) {
    const q = input.value.trim();
    const mine = ++seq;
    if (!next) { results.replaceChildren(); groups.clear(); cursor = null; more.hidden = true; }
    if (!q) { status.textContent = ''; return; }
    status.textContent = 'Searching…';
    try {
      const page = await api.searchMessages(q, {
        conversationId: only && only.checked ? conversationId : undefined,
        cursor: next ? cursor : undefined,
      });
      if (mine !== seq) return;
      for (const hit of page.hits) showHit(hit);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      const n = results.querySelectorAll('.search-hit').length;
      status.textContent = n ? `${n}${cursor ? '+' : ''} messages found` : 'No messages found.';
    } catch (e) {
      if (mine === seq) status.textContent = e.message || 'Search failed.';
    }
  }

  const deb = debounce(() => run(false), 300);
  input.addEventListener('input', deb);
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { deb.cancel(); run(false); } });
  if (only) only.addEventListener('change', () => run(false));
  d.onCleanup(() => deb.cancel());
  input.focus();
}
