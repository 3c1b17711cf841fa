// The Files section of conversation info: the documents and other files
// of the messages I can see, newest first (GET /conversations/{id}/files),
// as file cards with a download link, a page at a time.
import { h } from '../../util/dom.js';
import { formatListTime } from '../../util/time.js';
import { newPagedState, loadNextPage, ensureFirstPage } from './paged-list.js';
import { fileCard } from './attachment-view.js';

const PAGE = 20;
const ERROR = 'Could not load files.';

export const newFilesState = newPagedState;

export function filesSection(ctx, cid, state, rerender) {
  const fetchPage = (cursor) => ctx.api.files(cid, cursor, PAGE).then((r) => ({ items: r.files, next_cursor: r.next_cursor }));
  ensureFirstPage(state, fetchPage, ERROR, rerender);
  return h('div', { class: 'info-section', 'data-section': 'files' },
    h('h3', { class: 'section-title' }, 'Files'),
    state.error ? h('p', { class: 'form-error' }, state.error) : null,
    state.loaded && state.items.length === 0 ? h('p', { class: 'info-empty' }, 'No files yet.') : null,
    state.items.length ? h('ul', { class: 'file-list', 'aria-label': 'Files' },
      state.items.map((f) => h('li', null, fileCard(ctx, f, formatListTime(f.created_at))))) : null,
    state.next ? h('button', {
      type: 'button', class: 'btn btn-small', 'data-key': 'more-files',
      onclick: () => loadNextPage(state, fetchPage, ERROR, rerender),
    }, 'More files') : null);
}
