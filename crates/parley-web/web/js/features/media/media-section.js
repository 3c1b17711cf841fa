// The Media section of conversation info: the images and videos of the
// messages I can see, newest first (GET /conversations/{id}/media), as a
// grid of thumbnails a page at a time; a tile opens the viewer on the
// loaded items.
import { h } from '../../util/dom.js';
import { newPagedState, loadNextPage, ensureFirstPage } from './paged-list.js';
import { gridTile } from './attachment-view.js';
import { openLightbox } from './lightbox.js';

const PAGE = 24;
const ERROR = 'Could not load media.';

export const newMediaState = newPagedState;

export function mediaSection(ctx, cid, state, rerender) {
  const fetchPage = (cursor) => ctx.api.media(cid, cursor, undefined, PAGE).then((r) => ({ items: r.media, next_cursor: r.next_cursor }));
  ensureFirstPage(state, fetchPage, ERROR, rerender);
  // The viewer goes oldest to newest, as in the conversation.
  const open = (media) => {
    const chrono = [...state.items].reverse();
    openLightbox(ctx, chrono, chrono.findIndex((m) => m === media));
  };
  return h('div', { class: 'info-section', 'data-section': 'media' },
    h('h3', { class: 'section-title' }, 'Media'),
    state.error ? h('p', { class: 'form-error' }, state.error) : null,
    state.loaded && state.items.length === 0 ? h('p', { class: 'info-empty' }, 'No media yet.') : null,
    state.items.length ? h('ul', { class: 'media-grid', 'aria-label': 'Media' },
      state.items.map((m) => h('li', null, gridTile(ctx, m, open)))) : null,
    state.next ? h('button', {
      type: 'button', class: 'btn btn-small', 'data-key': 'more-media',
      onclick: () => loadNextPage(state, fetchPage, ERROR, rerender),
    }, 'More media') : null);
}
