// The Links section of conversation info: the links of the messages I can
// see, newest first (GET /conversations/{id}/links), a page at a time.
// The server lists only http(s) URLs, so they are safe as hrefs; they
// open in a new tab without telling the site where they came from.
import { h } from '../../util/dom.js';
import { formatListTime } from '../../util/time.js';
import { newPagedState, loadNextPage, ensureFirstPage } from './paged-list.js';

const PAGE = 20;
const ERROR = 'Could not load links.';

/** A section element that loads itself and keeps its pages across
 * re-renders of the dialog (`state` outlives one render). */
export function linksSection(ctx, cid, state, rerender) {
  const fetchPage = (cursor) => ctx.api.links(cid, cursor, PAGE).then((r) => ({ items: r.links, next_cursor: r.next_cursor }));
  ensureFirstPage(state, fetchPage, ERROR, rerender);
  const list = h('ul', { class: 'link-list', 'aria-label': 'Links' },
    ...state.items.map((l) => linkItem(ctx, l)));
  return h('div', { class: 'info-section', 'data-section': 'links' },
    h('h3', { class: 'section-title' }, 'Links'),
    state.error ? h('p', { class: 'form-error' }, state.error) : null,
    state.loaded && state.items.length === 0 ? h('p', { class: 'info-empty' }, 'No links yet.') : null,
    state.items.length ? list : null,
    state.next ? h('button', {
      type: 'button', class: 'btn btn-small', 'data-key': 'more-links',
      onclick: () => loadNextPage(state, fetchPage, ERROR, rerender),
    }, 'More links') : null);
}

export const newLinksState = newPagedState;

function linkItem(ctx, l) {
  const u = ctx.store.user(l.sender_id);
  const who = u ? (u.display_name || u.username) : '';
  return h('li', { class: 'link-item' },
    h('a', { href: l.url, target: '_blank', rel: 'noopener noreferrer nofollow', class: 'link-url', dir: 'auto' }, l.url),
    h('span', { class: 'link-meta' }, [who, formatListTime(l.created_at)].filter(Boolean).join(' · ')));
}
