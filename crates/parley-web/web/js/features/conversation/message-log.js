// The message log: renders the desired items by key (rebuilding only what
// changed, patching ticks in place), keeps the scroll position sensible
// (follow the newest when at the bottom or after my own send, else keep
// the view still), shows "Scroll to latest" with the count of messages
// that arrived meanwhile whenever the view is away from the newest, loads
// history.
import { h, icon } from '../../util/dom.js';
import { ticks } from '../../ui/ticks.js';
import { desiredItems } from './items.js';
import { createScroller } from './scroll.js';
import { createHistory } from './history.js';

/** The elements to show, reusing the nodes whose signature is unchanged. */
function reconcileNodes(nodes, first, items) {
  const active = document.activeElement;
  let refocus = null;
  const desired = [first];
  for (const it of items) {
    let n = nodes.get(it.key);
    if (!n || n.sig !== it.sig) {
      const fresh = it.make();
      fresh._key = it.key;
      if (n && n.el.contains(active) && active !== document.body) refocus = fresh;
      n = { sig: it.sig, el: fresh, own: it.own, status: it.status };
      nodes.set(it.key, n);
    } else if (n.status !== it.status && it.status) {
      // Only the ticks changed: patch them in place (no re-announcement).
      const old = n.el.querySelector('.message-meta .ticks');
      if (old) old.replaceWith(ticks(it.status));
      n.status = it.status;
    }
    desired.push(n.el);
  }
  const keys = new Set(items.map((i) => i.key));
  for (const k of [...nodes.keys()]) if (!keys.has(k)) nodes.delete(k);
  return { desired, refocus };
}

function place(log, desired) {
  const keep = new Set(desired);
  for (const child of [...log.children]) if (!keep.has(child)) child.remove();
  let cursor = log.firstChild;
  for (const d of desired) {
    if (cursor === d) cursor = cursor.nextSibling;
    else log.insertBefore(d, cursor);
  }
}

export function createMessageLog(ctx, cid, { alive, actions }) {
  const nodes = new Map(); // key -> {sig, el, own, status}
  let lastKey = null;
  const historyStatus = h('div', { class: 'history-status' });
  historyStatus._key = 'history';
  const log = h('div', { class: 'messages', role: 'log', 'aria-label': 'Messages', tabindex: '0', 'aria-live': 'polite' });
  let unseen = 0; // messages from others appended while away from the newest
  const unseenBadge = h('span', { class: 'scroll-latest-count', hidden: true });
  const latestBtn = h('button', {
    type: 'button', class: 'scroll-latest', hidden: true, 'aria-label': 'Scroll to latest', title: 'Scroll to latest',
    onclick: () => { scroller.toBottom(true); hidePill(); },
  }, icon('down'), unseenBadge);
  const el = h('div', { class: 'messages-wrap' }, log, latestBtn);
  const scroller = createScroller(log, { alive, skip: (c) => c === historyStatus || c.classList.contains('day-separator') });
  const history = createHistory(ctx, cid, { alive, log, onStatus: renderHistoryStatus });
  const itemActions = { ...actions, jumpTo };

  /** At the newest: no button, nothing unseen. */
  function hidePill() { unseen = 0; showLatest(false); }

  function showLatest(visible) {
    latestBtn.hidden = !visible;
    unseenBadge.hidden = unseen === 0;
    unseenBadge.textContent = unseen ? String(unseen) : '';
    latestBtn.setAttribute('aria-label', unseen ? `Scroll to latest, ${unseen} new message${unseen === 1 ? '' : 's'}` : 'Scroll to latest');
  }
  function renderHistoryStatus() { historyStatus.textContent = history.statusText(); }

  function jumpTo(messageId) {
    const target = log.querySelector(`.message[data-message-id="${CSS.escape(messageId)}"]`);
    if (!target) { ctx.toast('The original message is not loaded.'); return; }
    target.scrollIntoView({ block: 'center', behavior: 'smooth' });
    target.classList.remove('flash');
    void target.offsetWidth;
    target.classList.add('flash');
    const btn = target.querySelector('.msg-actions-btn');
    if (btn) btn.focus({ preventScroll: true });
  }

  /** Scrolls to a message, loading older pages until it is there. */
  async function showMessage(messageId, seq) {
    const wait = (ms) => new Promise((r) => setTimeout(r, ms));
    for (let i = 0; i < 200 && alive(); i += 1) {
      if (log.querySelector(`.message[data-message-id="${CSS.escape(messageId)}"]`)) { jumpTo(messageId); return; }
      const b = ctx.store.bucket(cid);
      const list = ctx.store.messageList(cid);
      if (b && b.loaded && list.length && (list[0].seq <= seq || !b.hasMoreBefore)) {
        // Loaded as far back as it can be: wait for the render, then give up.
        if (i > 20) break;
      } else if (b && b.loaded && list.length) {
        await history.loadOlder();
      }
      await wait(50);
    }
    ctx.toast('That message is no longer available.');
  }

  function render() {
    const wasAtBottom = scroller.atBottom();
    // Anchor: the first element visible at the top, to keep it in place.
    const anchor = wasAtBottom ? null : scroller.anchor();
    const items = desiredItems(ctx, cid, itemActions);
    const { desired, refocus } = reconcileNodes(nodes, historyStatus, items);
    place(log, desired);
    if (refocus) {
      const btn = refocus.querySelector('.msg-actions-btn') || refocus.querySelector('button');
      if (btn) btn.focus({ preventScroll: true });
    }
    renderHistoryStatus();
    const newLast = items.length ? items[items.length - 1] : null;
    const appended = newLast && newLast.key !== lastKey;
    const prevLastKey = lastKey;
    lastKey = newLast ? newLast.key : null;
    if (prevLastKey === null || (appended && (wasAtBottom || newLast.own))) {
      scroller.toBottom(false);
      hidePill();
    } else if (anchor) {
      scroller.restore(anchor);
      if (appended && !newLast.own) { unseen += 1; showLatest(true); }
    } else if (wasAtBottom) {
      scroller.toBottom(false);
    }
  }

  log.addEventListener('scroll', () => {
    if (log.scrollTop < 200) history.loadOlder();
    if (scroller.atBottom()) { hidePill(); ctx.markReadSoon(); } else if (latestBtn.hidden && log.scrollHeight - log.scrollTop - log.clientHeight > log.clientHeight / 2) showLatest(true);
  }, { passive: true });

  return { el, render, hidePill, showMessage, loadNewest: history.loadNewest, atBottom: scroller.atBottom };
}
