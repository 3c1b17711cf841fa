// The Links section of conversation info: the links of the messages I can
// see, newest first (GET /conversations/{id}/links), a page at a time.
// The server lists only http(s) URLs, so they are safe as hrefs; they
// open in a new tab without telling the site where they came from.
import { h } from '../../util/dom.js';
import { formatListTime } from '../../util/time.js';

const PAGE = 20;

/** A section element that loads itself and keeps its pages across
 * re-renders of the dialog (`state` outlives one render). */
export function linksSection(ctx, cid, state, rerender) {
  if (!state.loaded && !state.loading) load(ctx, cid, state, rerender);
  const list = h('ul', { class: 'link-list', 'aria-label': 'Links' },
    ...state.items.map((l) => linkItem(ctx, l)));
  return h('div', { class: 'info-section', 'data-section': 'links' },
    h('h3', { class: 'section-title' }, 'Links'),
    state.error ? h('p', { class: 'form-error' }, state.error) : null,
    state.loaded && state.items.length === 0 ? h('p', { class: 'info-empty' }, 'No links yet.') : null,
    state.items.length ? list : null,
    state.next ? h('button', {
      type: 'button', class: 'btn btn-small', 'data-key': 'more-links',
      onclick: () => load(ctx, cid, state, rerender),
    }, 'More links') : null);
}

export function newLinksState() {
  return { items: [], next: null, loaded: false, loading: false, error: '' };
}

async function load(ctx, cid, state, rerender) {
  if (state.loading) return;
  state.loading = true;
  try {
    const res = await ctx.api.links(cid, state.next, PAGE);
    state.items = state.items.concat(res.links || []);
    state.next = res.next_cursor || null;
    state.error = '';
  } catch (e) {
    state.error = 'Could not load links.';
  } finally {
    state.loading = false;
    state.loaded = true;
    rerender();
  }
}

function linkItem(ctx, l) {
  const u = ctx.store.user(l.sender_id);
  const who = u ? (u.display_name || u.username) : '';
  return h('li', { class: 'link-item' },
    h('a', { href: l.url, target: '_blank', rel: 'noopener noreferrer nofollow', class: 'link-url', dir: 'auto' }, l.url),
    h('span', { class: 'link-meta' }, [who, formatListTime(l.created_at)].filter(Boolean).join(' · ')));
}
