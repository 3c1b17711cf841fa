// The other sections of conversation info: the hero (avatar, title,
// presence), renaming a group, and the actions (mute, block, leave).
import { h, avatar, uid } from '../../util/dom.js';
import { presenceLine } from '../conversation/presence.js';

const FOREVER = '9999-12-31T00:00:00.000Z';

export function heroSection(store, conv) {
  const title = store.titleOf(conv);
  const peer = store.peerOf(conv);
  const direct = conv.kind === 'direct' && peer;
  return h('div', { class: 'info-hero' },
    avatar(title, conv.kind === 'direct' ? (peer && peer.avatar_url) : conv.avatar_url, peer ? peer.id : conv.id, 'lg'),
    h('p', { class: 'info-title' }, title),
    direct ? h('p', { class: 'info-sub' }, `@${peer.username}`) : h('p', { class: 'info-sub' }, `Group · ${conv.member_count} members`),
    direct && store.presenceOf(peer) ? h('p', { class: 'info-sub' }, presenceLine(store.presenceOf(peer))) : null,
    direct && peer.about ? h('p', { class: 'info-about' }, peer.about) : null);
}

export function renameSection(panel, conv) {
  const { store, api } = panel.ctx;
  const id = uid('rename');
  const input = h('input', { id, type: 'text', value: conv.title || '', maxlength: 100, autocomplete: 'off' });
  const form = h('form', { class: 'rename-form' },
    h('div', { class: 'field' }, h('label', { for: id }, 'Group name'),
      h('div', { class: 'inline-field' }, input,
        h('button', { type: 'submit', class: 'btn btn-primary btn-small' }, 'Save'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const t = input.value.trim();
    if (!t) { panel.setError('The group name cannot be empty.'); return; }
    try {
      const res = await api.updateConversation(panel.cid, { title: t });
      store.patchConversation(panel.cid, { title: (res && res.title) || t });
      panel.setError('');
      panel.render();
    } catch (err) { panel.fail(err, 'Could not rename the group.'); }
  });
  return h('div', { class: 'info-section' },
    h('div', { class: 'section-row' }, h('h3', { class: 'section-title' }, 'Name'),
      h('button', { type: 'button', class: 'btn btn-small', 'data-key': 'rename', onclick: () => { input.focus(); input.select(); } }, 'Rename')),
    form);
}

function muteButton(panel, conv) {
  const { store, api } = panel.ctx;
  const toggle = async () => {
    const muted = store.isMuted(conv);
    try {
      const res = await api.mute(panel.cid, muted ? null : FOREVER);
      store.patchConversation(panel.cid, { muted_until: res ? res.muted_until : (muted ? null : FOREVER) });
      panel.render();
    } catch (e) { panel.fail(e, 'Could not change mute.'); }
  };
  return h('button', { type: 'button', class: 'btn', 'data-key': 'mute', onclick: toggle }, store.isMuted(conv) ? 'Unmute' : 'Mute');
}

function blockButton(panel, peer) {
  const { store, api } = panel.ctx;
  const b = store.blockOf(peer.id);
  const blocked = b && b.blocked_by_me;
  const toggle = async () => {
    try {
      if (blocked) {
        await api.unblock(peer.id);
        store.setBlock(peer.id, { blocked_by_me: false, blocked_me: !!(b && b.blocked_me) }, panel.cid);
      } else {
        const res = await api.block(peer.id);
        store.setBlock(peer.id, res || { blocked_by_me: true, blocked_me: false }, panel.cid);
      }
      panel.render();
      panel.ctx.refreshUser(peer.id);
    } catch (e) { panel.fail(e, 'Could not change the block.'); }
  };
  return h('button', { type: 'button', class: 'btn btn-danger-outline', 'data-key': 'block', onclick: toggle }, blocked ? 'Unblock' : 'Block');
}

function leaveButton(panel) {
  const { ctx } = panel;
  const leave = async () => {
    try {
      await ctx.api.removeMember(panel.cid, ctx.store.me.id);
      panel.close();
      ctx.store.removeConversation(panel.cid);
      ctx.navigate(null);
    } catch (e) { panel.fail(e, 'Could not leave the group.'); }
  };
  return h('button', { type: 'button', class: 'btn btn-danger', 'data-key': 'leave', onclick: leave }, 'Leave group');
}

/** "Export chat": my view of the chat as a JSON download (protocol.md §13). */
function exportButton(panel) {
  const run = async () => {
    try {
      const data = await panel.ctx.api.exportConversation(panel.cid);
      const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: `parley-${panel.cid}.json`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) { panel.fail(e, 'Could not export the chat.'); }
  };
  return h('button', { type: 'button', class: 'btn', 'data-key': 'export', onclick: run }, 'Export chat');
}

export function actionsSection(panel, conv) {
  const peer = panel.ctx.store.peerOf(conv);
  return h('div', { class: 'info-actions' },
    muteButton(panel, conv),
    exportButton(panel),
    conv.kind === 'direct' && peer ? blockButton(panel, peer) : null,
    conv.kind === 'group' ? leaveButton(panel) : null);
}
