// The "Conversation info" dialog: who is in it, and what I can do with it
// (rename, add/remove members, mute, block, leave), and the media, files
// and links sent in it. It re-renders as the
// store changes, except while the user types in one of its fields.
import { h } from '../../util/dom.js';
import { openDialog, focusClose } from '../../ui/dialog.js';
import { membersSection } from './members.js';
import { heroSection, renameSection, actionsSection } from './info-sections.js';
import { linksSection, newLinksState } from '../media/links-section.js';
import { mediaSection, newMediaState } from '../media/media-section.js';
import { filesSection, newFilesState } from '../media/files-section.js';

export function openConversationInfo(ctx, cid) {
  const { store, api } = ctx;
  const d = openDialog({ label: 'Conversation info' });
  const alert = h('p', { class: 'form-error', role: 'alert' });
  const content = h('div', { class: 'info-content' });
  d.body.append(content, alert);
  let addSearch = null;
  const links = newLinksState();
  const media = newMediaState();
  const files = newFilesState();

  const panel = {
    ctx, cid, addOpen: false,
    close: () => d.close(),
    setError: (text) => { alert.textContent = text; },
    fail: (e, fallback) => { alert.textContent = e.message || fallback; },
    setAddSearch: (s) => { if (addSearch) addSearch.cancel(); addSearch = s; },
    render,
    async loadMembers() {
      try {
        const res = await api.members(cid);
        store.setMembers(cid, res.members);
        render();
      } catch (e) { panel.fail(e, 'Could not load members.'); }
    },
  };

  function render() {
    const conv = store.conversation(cid);
    if (!conv) { d.close(); return; }
    const active = document.activeElement;
    const activeKey = active && d.dialog.contains(active) ? (active.dataset.key || null) : null;
    const admin = conv.my_role === 'owner' || conv.my_role === 'admin';
    content.replaceChildren(...[
      heroSection(store, conv),
      conv.kind === 'group' && admin ? renameSection(panel, conv) : null,
      membersSection(panel, conv, admin),
      mediaSection(ctx, cid, media, render),
      filesSection(ctx, cid, files, render),
      linksSection(ctx, cid, links, render),
      actionsSection(panel, conv),
    ].filter(Boolean));
    if (activeKey) {
      const again = content.querySelector(`[data-key="${activeKey}"]`);
      if (again) again.focus();
    } else if (!d.dialog.contains(document.activeElement)) {
      focusClose(d);
    }
  }

  async function loadBlock(peerId) {
    try {
      store.setBlock(peerId, await api.blockStatus(peerId), cid);
      render();
    } catch { /* ignore */ }
  }

  const unsub = store.subscribe((dirty) => {
    if (dirty.has(`conv:${cid}`) || dirty.has('users')) {
      // Don't rebuild while the user types in the dialog.
      const a = document.activeElement;
      if (a && d.dialog.contains(a) && a.tagName === 'INPUT') return;
      render();
    }
  });
  d.onCleanup(() => { unsub(); if (addSearch) addSearch.cancel(); });
  render();
  panel.loadMembers();
  const peer = store.peerOf(store.conversation(cid));
  if (peer) loadBlock(peer.id);
}
