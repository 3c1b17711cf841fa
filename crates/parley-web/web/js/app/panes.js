// What the right pane shows for a route: the conversation (loaded first
// if unknown, e.g. after a reload on its route) or the empty pane.
import { closeMenu } from '../ui/menu.js';
import { h } from '../util/dom.js';
import { createConversationView } from '../features/conversation/view.js';
import { emptyPane } from './layout.js';
import { hrefOf } from './router.js';
import { createSupportDashboard } from '../features/support/agent.js';

export function createPanes(s, layout) {
  const { ctx, store, api } = s;
  const { pane, shell, listView } = layout;
  const empty = emptyPane();
  let view = null;

  /** Loads the conversation and related state the view needs. */
  function openConversation(cid) {
    store.openConversationId = cid;
    view = createConversationView(ctx, cid);
    pane.replaceChildren(view.el);
    shell.classList.add('has-conversation');
    view.focusComposer();
    const conv = store.conversation(cid);
    if (conv.kind !== 'direct' && !store.membersOf(cid)) {
      api.members(cid).then((r) => store.setMembers(cid, r.members)).catch(() => {});
    }
    const peer = store.peerOf(conv);
    if (peer) api.blockStatus(peer.id).then((b) => store.setBlock(peer.id, b, cid)).catch(() => {});
    s.receipts.markReadSoon();
  }

  function showEmpty(previous, hadFocus) {
    pane.replaceChildren(empty);
    shell.classList.remove('has-conversation');
    // Back from a conversation: return focus to its row in the list.
    if (previous && hadFocus) listView.focusRow(previous);
  }

  /** Known, or fetched; false if it cannot be shown (any more). */
  async function ensureConversation(route) {
    if (store.conversation(route.cid)) return true;
    try {
      store.upsertConversation(await api.getConversation(route.cid));
    } catch {
      if (s.isActive()) ctx.navigate(null);
      return false;
    }
    return s.isActive() && location.hash === hrefOf(route);
  }

  /** #/support/<inbox>: my conversation with that inbox (opened or created). */
  async function contactSupport(route) {
    pane.replaceChildren(h('div', { class: 'empty-pane' }, h('p', { class: 'empty-pane-text', role: 'status' }, 'Contacting support…')));
    shell.classList.add('has-conversation');
    try {
      const conv = await api.contactSupport(route.inboxId);
      if (!s.isActive() || location.hash !== hrefOf(route)) return;
      store.upsertConversation(conv);
      s.router.replace({ name: 'conversation', cid: conv.id });
    } catch (e) {
      if (!s.isActive()) return;
      ctx.toast(e.status === 404 ? 'This support inbox does not exist.' : `Could not contact support: ${e.message}`);
      s.router.replace({ name: 'list' });
    }
  }

  async function show(route) {
    const cid = route.name === 'conversation' ? route.cid : null;
    if (view && view.cid === cid && (view.route || 'conversation') === route.name) return;
    closeMenu(false);
    const previous = view ? view.cid : null;
    const hadFocus = view && view.el.contains(document.activeElement);
    if (view) { view.destroy(); view = null; }
    store.openConversationId = null;
    if (route.name === 'contact') { await contactSupport(route); return; }
    if (route.name === 'support') {
      view = createSupportDashboard(ctx);
      pane.replaceChildren(view.el);
      shell.classList.add('has-conversation');
      store.touch('list');
      return;
    }
    if (cid && !(await ensureConversation(route))) return;
    if (cid) openConversation(cid); else showEmpty(previous, hadFocus);
    store.touch('list');
  }

  return {
    show,
    current: () => view,
    destroy() { if (view) view.destroy(); view = null; },
  };
}
