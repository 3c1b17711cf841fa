// Loading a conversation's messages: the newest page on open, older pages
// as one scrolls up (until the viewport is filled or nothing is left).

const PAGE = 50;

export function createHistory(ctx, cid, { alive, log, onStatus }) {
  const { store, api } = ctx;
  let loadingOlder = false;

  function statusText() {
    const b = store.bucket(cid);
    if (loadingOlder) return 'Loading older messages…';
    if (b && b.loaded && !b.hasMoreBefore) return store.messageList(cid).length ? '' : 'No messages yet. Say hello!';
    return '';
  }

  function fillViewport() {
    if (!alive()) return;
    if (log.scrollHeight <= log.clientHeight + 40) loadOlder();
  }

  async function loadNewest() {
    try {
      const [page, marks] = await Promise.all([
        api.messages(cid, { limit: PAGE }),
        api.messageMarks(cid).catch(() => null),
      ]);
      if (!alive()) return;
      if (marks) store.setMarks(cid, marks.marks);
      store.addMessages(cid, page.messages, { hasMoreBefore: page.has_more, newestPage: true });
    } catch (e) {
      if (alive()) ctx.toast(e.message || 'Could not load messages.');
    }
    queueMicrotask(() => fillViewport());
  }

  async function loadOlder() {
    const b = store.bucket(cid);
    if (loadingOlder || !b || !b.loaded || !b.hasMoreBefore) return;
    const list = store.messageList(cid);
    if (!list.length) return;
    loadingOlder = true;
    onStatus();
    try {
      const page = await api.messages(cid, { before: list[0].seq, limit: PAGE });
      if (!alive()) return;
      store.addMessages(cid, page.messages, { hasMoreBefore: page.has_more });
    } catch (e) {
      if (alive()) ctx.toast(e.message || 'Could not load older messages.');
    } finally {
      loadingOlder = false;
    }
    setTimeout(() => { if (alive()) { onStatus(); fillViewport(); } }, 0);
  }

  return { loadNewest, loadOlder, statusText };
}
