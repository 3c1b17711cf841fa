// The page state of a conversation-info list (links, media, files): the
// items loaded so far and the cursor of the next page. It outlives one
// render of the dialog, so pages already loaded stay when it re-renders.

export function newPagedState() {
  return { items: [], next: null, loaded: false, loading: false, error: '' };
}

/**
 * Loads the next page: `fetchPage(cursor)` resolves with `{items,
 * next_cursor}`; `rerender()` is called when it settled.
 */
export async function loadNextPage(state, fetchPage, errorText, rerender) {
  if (state.loading) return;
  state.loading = true;
  try {
    const res = await fetchPage(state.next);
    state.items = state.items.concat(res.items || []);
    state.next = res.next_cursor || null;
    state.error = '';
  } catch {
    state.error = errorText;
  } finally {
    state.loading = false;
    state.loaded = true;
    rerender();
  }
}

/** Starts the first page when nothing was loaded yet. */
export function ensureFirstPage(state, fetchPage, errorText, rerender) {
  if (!state.loaded && !state.loading) loadNextPage(state, fetchPage, errorText, rerender);
}
