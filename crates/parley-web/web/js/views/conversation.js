// Conversation view (right pane): header, message log, composer.
import { h, icon, avatar, uid, colorIndex } from '../util/dom.js';
import { formatTime, formatDay, dayKey, formatLastSeen, formatFull } from '../util/time.js';
import { ticks } from './ticks.js';
import { openMessageMenu } from './menu.js';

export const REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];
const PAGE = 50;
const TYPING_EVERY_MS = 2500;

export function createConversationView(ctx, cid) {
  const { store, api, outbox } = ctx;
  const nodes = new Map(); // key -> {sig, el}
  let replyTo = null; // message being replied to
  let editing = null; // message being edited
  let loadingOlder = false;
  let lastKey = null;
  let typingSentAt = 0;
  let typingActive = false;
  let destroyed = false;

  // ---- Header ----------------------------------------------------------
  const headerAvatar = h('span', { class: 'conv-header-avatar' });
  const title = h('h2', { class: 'conv-header-title' });
  const status = h('p', { class: 'conv-header-status' });
  const header = h('header', { class: 'conv-header' },
    h('button', { type: 'button', class: 'icon-btn back-btn', 'aria-label': 'Back', title: 'Back', onclick: () => ctx.navigate(null) }, icon('back')),
    headerAvatar,
    h('div', { class: 'conv-header-text' }, title, status),
    h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Conversation info', title: 'Conversation info', onclick: () => ctx.openConversationInfo(cid) }, icon('info')));

  // ---- Messages --------------------------------------------------------
  const historyStatus = h('div', { class: 'history-status' });
  historyStatus._key = 'history';
  const log = h('div', { class: 'messages', role: 'log', 'aria-label': 'Messages', tabindex: '0', 'aria-live': 'polite' });
  const pill = h('button', { type: 'button', class: 'new-messages-pill', hidden: true, onclick: () => { scrollToBottom(true); hidePill(); } }, 'New messages');
  const typingEl = h('div', { class: 'typing-indicator', 'aria-live': 'polite', hidden: true });
  const messagesWrap = h('div', { class: 'messages-wrap' }, log, pill);

  // ---- Composer --------------------------------------------------------
  const composerId = uid('composer');
  const textarea = h('textarea', { id: composerId, class: 'composer-input', rows: '1', placeholder: 'Type a message', autocomplete: 'off' });
  const sendBtn = h('button', { type: 'submit', class: 'icon-btn send-btn', 'aria-label': 'Send', title: 'Send' }, icon('send'));
  const contextBar = h('div', { class: 'composer-context', hidden: true });
  const blockedNote = h('p', { class: 'blocked-note', hidden: true });
  const form = h('form', { class: 'composer', 'aria-label': 'Message composer' },
    h('label', { for: composerId, class: 'visually-hidden' }, 'Type a message'),
    textarea, sendBtn);
  const footer = h('footer', { class: 'conv-footer' }, contextBar, blockedNote, form);

  const el = h('section', { class: 'conversation', 'aria-label': 'Conversation', 'data-conversation-id': cid },
    header, messagesWrap, typingEl, footer);

  // ---- Helpers ---------------------------------------------------------
  function atBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  }

  let settleTimer = null;
  function scrollToBottom(smooth) {
    clearTimeout(settleTimer);
    if (smooth && typeof log.scrollTo === 'function') {
      log.scrollTo({ top: log.scrollHeight, behavior: 'smooth' });
      // Make sure we end at the newest even if the smooth scroll was cut
      // short (content changing meanwhile).
      settleTimer = setTimeout(() => { if (!destroyed && !atBottom()) log.scrollTop = log.scrollHeight; }, 450);
    } else log.scrollTop = log.scrollHeight;
  }

  function hidePill() { pill.hidden = true; }

  function senderName(id) { return store.displayName(id); }

  function quoteOf(m) {
    if (!m.reply_to) return null;
    const q = store.findMessage(cid, m.reply_to);
    if (!q) ctx.fetchQuoted(cid, m.reply_to);
    const who = q ? senderName(q.sender_id) : '';
    const text = !q ? 'Original message' : (q.deleted ? 'This message was deleted' : (q.text || 'Attachment'));
    return h('button', {
      type: 'button', class: `reply-quote qc-${colorIndex(q ? q.sender_id : '')}`,
      title: 'Go to the original message',
      onclick: () => jumpTo(m.reply_to),
    }, h('span', { class: 'reply-quote-author' }, who), h('span', { class: 'reply-quote-text' }, text));
  }

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

  // ---- Message element ------------------------------------------------
  function messageEl(m, pending, first = true) {
    const conv = store.conversation(cid);
    const own = pending || m.sender_id === store.me.id;
    if (!pending && m.kind === 'system') {
      return h('div', { class: 'message system', 'data-seq': m.seq, 'data-message-id': m.id },
        h('span', { class: 'message-text' }, m.text || ''));
    }
    const status = pending ? (m.state === 'failed' ? 'failed' : 'sending') : (own ? store.statusOf(m) : null);
    const deleted = !pending && m.deleted;
    const attrs = { class: ['message', own ? 'own' : 'other', deleted ? 'deleted' : '', pending && m.state === 'failed' ? 'failed' : ''].filter(Boolean).join(' ') };
    if (!pending) { attrs['data-seq'] = m.seq; attrs['data-message-id'] = m.id; }
    if (m.client_id) attrs['data-client-id'] = m.client_id;
    const showSender = !own && conv && conv.kind !== 'direct' && first;
    const time = pending ? m.created_at : m.created_at;
    const bubble = h('div', { class: 'bubble' },
      showSender ? h('span', { class: `message-sender sc-${colorIndex(m.sender_id)}` }, senderName(m.sender_id)) : null,
      !deleted ? quoteOf(pending ? { reply_to: m.reply_to } : m) : null,
      h('div', { class: 'message-text' }, deleted ? 'This message was deleted' : (m.text || '')),
      h('span', { class: 'message-meta' },
        !deleted && m.edited_at ? h('span', { class: 'edited' }, 'edited') : null,
        h('time', { datetime: time, title: formatFull(time) }, formatTime(time)),
        own && !deleted ? ticks(status) : null));
    const row = h('div', attrs, bubble);
    if (pending && m.state === 'failed') {
      row.appendChild(h('div', { class: 'failed-bar' },
        h('span', { class: 'failed-text' }, m.error ? `Not sent: ${m.error}` : 'Not sent'),
        h('button', { type: 'button', class: 'btn-link retry-btn', onclick: () => outbox.retry(m.client_id) }, 'Retry'),
        h('button', { type: 'button', class: 'btn-link', 'aria-label': 'Discard message', onclick: () => outbox.discard(m.client_id) }, 'Discard')));
    }
    if (!pending && !deleted) {
      const btn = h('button', {
        type: 'button', class: 'msg-actions-btn', 'aria-label': 'Message actions', 'aria-haspopup': 'menu', 'aria-expanded': 'false',
        onclick: () => openMessageMenu(btn, menuItems(m, btn)),
      }, icon('chevron'));
      bubble.appendChild(btn);
      const reactions = m.reactions || [];
      if (reactions.length) {
        row.appendChild(h('div', { class: 'reactions' }, reactions.map((r) => h('button', {
          type: 'button', class: `reaction${r.me ? ' mine' : ''}`, 'aria-pressed': r.me ? 'true' : 'false',
          title: r.me ? 'Remove your reaction' : 'React', onclick: () => toggleReaction(m, r.emoji),
        }, h('span', { class: 'reaction-emoji' }, r.emoji), h('span', { class: 'reaction-count' }, String(r.count))))));
      }
    }
    return row;
  }

  function menuItems(m, btn) {
    const conv = store.conversation(cid);
    const own = m.sender_id === store.me.id;
    const admin = conv && (conv.my_role === 'admin' || conv.my_role === 'owner') && conv.kind !== 'direct';
    const items = [
      { label: 'Reply', action: () => startReply(m) },
      { label: 'React', submenu: REACTIONS.map((e) => ({ label: e, action: () => toggleReaction(m, e) })) },
    ];
    if (own && m.kind === 'text') items.push({ label: 'Edit', action: () => startEdit(m) });
    if (own || admin) items.push({ label: 'Delete', action: () => deleteMessage(m) });
    if (own) items.push({ label: 'Message info', action: () => ctx.openMessageInfo(cid, m) });
    items.returnFocus = btn;
    return items;
  }

  async function toggleReaction(m, emoji) {
    const mine = (m.reactions || []).some((r) => r.emoji === emoji && r.me);
    try {
      if (mine) await api.unreact(m.id, emoji); else await api.react(m.id, emoji);
    } catch (e) { ctx.toast(e.message || 'Could not react.'); }
  }

  async function deleteMessage(m) {
    try { await api.deleteMessage(m.id); } catch (e) { ctx.toast(e.message || 'Could not delete the message.'); }
    textarea.focus();
  }

  function setContext(kind, m) {
    replyTo = kind === 'reply' ? m : null;
    editing = kind === 'edit' ? m : null;
    if (!kind) {
      contextBar.hidden = true;
      contextBar.replaceChildren();
      return;
    }
    const label = kind === 'reply' ? `Replying to ${senderName(m.sender_id)}` : 'Editing message';
    contextBar.hidden = false;
    contextBar.replaceChildren(
      h('div', { class: `composer-context-body ${kind === 'reply' ? `qc-${colorIndex(m.sender_id)}` : 'qc-edit'}` },
        h('span', { class: 'composer-context-label' }, label),
        h('span', { class: 'composer-context-text' }, m.text || '')),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': kind === 'reply' ? 'Cancel reply' : 'Cancel edit', onclick: () => { if (kind === 'edit') textarea.value = ''; setContext(null); autoGrow(); textarea.focus(); } }, icon('close')));
  }

  function startReply(m) { setContext('reply', m); textarea.focus(); }

  function startEdit(m) {
    setContext('edit', m);
    textarea.value = m.text || '';
    autoGrow();
    textarea.focus();
    textarea.setSelectionRange(textarea.value.length, textarea.value.length);
  }

  // ---- Rendering --------------------------------------------------------
  function sigOf(m, pending) {
    if (pending) return JSON.stringify(['p', m.state, m.text, m.error, m.reply_to && store.findMessage(cid, m.reply_to)?.text]);
    const q = m.reply_to ? store.findMessage(cid, m.reply_to) : null;
    return JSON.stringify([m.seq, m.text, m.deleted, m.edited_at, m.reactions,
      q && [q.text, q.deleted], senderName(m.sender_id)]);
  }

  function desiredItems() {
    const msgs = store.messageList(cid);
    const known = new Set(msgs.map((m) => m.client_id).filter(Boolean));
    const pend = outbox.forConversation(cid).filter((p) => !known.has(p.client_id));
    const out = [];
    let day = null;
    let prevSender = null;
    const push = (m, pending) => {
      const dk = dayKey(m.created_at);
      const sender = pending ? store.me.id : (m.kind === 'system' ? null : m.sender_id);
      const first = sender !== prevSender || dk !== day;
      prevSender = sender;
      if (dk !== day) {
        day = dk;
        out.push({ key: `day:${dk}`, sig: formatDay(m.created_at), make: () => h('div', { class: 'day-separator', role: 'separator', 'aria-label': formatDay(m.created_at) }, h('span', null, formatDay(m.created_at))) });
      }
      const key = m.client_id && (pending || m.sender_id === store.me.id) ? `c:${m.client_id}` : `m:${m.seq}`;
      const own = pending || m.sender_id === store.me.id;
      out.push({
        key, sig: `${first ? 1 : 0}${sigOf(m, pending)}`, own,
        status: !pending && own && m.kind !== 'system' && !m.deleted ? store.statusOf(m) : null,
        make: () => { const e = messageEl(m, pending, first); if (first) e.classList.add('first-in-group'); return e; },
      });
    };
    for (const m of msgs) push(m, false);
    for (const p of pend) push(p, true);
    return out;
  }

  function renderHistoryStatus() {
    const b = store.bucket(cid);
    if (loadingOlder) historyStatus.textContent = 'Loading older messages…';
    else if (b && b.loaded && !b.hasMoreBefore) historyStatus.textContent = store.messageList(cid).length ? '' : 'No messages yet. Say hello!';
    else historyStatus.textContent = '';
  }

  function renderMessages() {
    const wasAtBottom = atBottom();
    // Anchor: the first element visible at the top, to keep it in place.
    let anchorKey = null;
    let anchorOffset = 0;
    if (!wasAtBottom) {
      for (const child of log.children) {
        if (child === historyStatus || child.classList.contains('day-separator')) continue;
        if (child.offsetTop + child.offsetHeight > log.scrollTop) {
          anchorKey = child._key; anchorOffset = child.offsetTop - log.scrollTop; break;
        }
      }
    }
    const items = desiredItems();
    const active = document.activeElement;
    let refocus = null;
    const desired = [historyStatus];
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
    const keep = new Set(desired);
    for (const child of [...log.children]) if (!keep.has(child)) child.remove();
    const keys = new Set(items.map((i) => i.key));
    for (const k of [...nodes.keys()]) if (!keys.has(k)) nodes.delete(k);
    let cursor = log.firstChild;
    for (const d of desired) {
      if (cursor === d) cursor = cursor.nextSibling;
      else log.insertBefore(d, cursor);
    }
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
      scrollToBottom(false);
      hidePill();
    } else if (anchorKey) {
      const a = [...log.children].find((c) => c._key === anchorKey);
      if (a) {
        const target = a.offsetTop - anchorOffset;
        // Only move when the content above actually shifted (so as not to
        // interrupt a smooth scroll in progress).
        if (Math.abs(target - log.scrollTop) > 1) log.scrollTop = target;
      }
      if (appended && !newLast.own) pill.hidden = false;
    } else if (wasAtBottom) {
      scrollToBottom(false);
    }
  }

  function renderHeader() {
    const conv = store.conversation(cid);
    if (!conv) return;
    const name = store.titleOf(conv);
    const peer = store.peerOf(conv);
    title.textContent = name;
    headerAvatar.replaceChildren(avatar(name, conv.kind === 'direct' ? (peer && peer.avatar_url) : conv.avatar_url, conv.kind === 'direct' && peer ? peer.id : conv.id));
    const typing = store.typingIn(cid);
    let text = '';
    if (conv.kind === 'direct') {
      if (typing.length) text = 'typing…';
      else if (peer && peer.presence && peer.presence.state === 'online') text = 'online';
      else if (peer && peer.presence && peer.presence.last_seen_at) text = `last seen ${formatLastSeen(peer.presence.last_seen_at)}`;
      else if (peer && peer.presence && peer.presence.state === 'away') text = 'away';
    } else {
      const n = conv.member_count || 0;
      text = `${n} member${n === 1 ? '' : 's'}`;
    }
    status.textContent = text;
    status.classList.toggle('is-typing', typing.length > 0 && conv.kind === 'direct');

    // Typing indicator in the view.
    if (typing.length) {
      const names = typing.map((u) => senderName(u));
      typingEl.textContent = names.length === 1 ? `${names[0]} is typing…`
        : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : 'Several people are typing…';
      typingEl.hidden = false;
    } else {
      typingEl.textContent = '';
      typingEl.hidden = true;
    }

    const block = conv.kind === 'direct' && peer ? store.blocks.get(peer.id) : null;
    if (block && block.blocked_by_me) {
      blockedNote.hidden = false;
      blockedNote.textContent = `You blocked ${name}. Open conversation info to unblock.`;
    } else {
      blockedNote.hidden = true;
      blockedNote.textContent = '';
    }
  }

  // ---- Loading ----------------------------------------------------------
  async function loadNewest() {
    try {
      const page = await api.messages(cid, { limit: PAGE });
      if (destroyed) return;
      store.addMessages(cid, page.messages, { hasMoreBefore: page.has_more, newestPage: true });
    } catch (e) {
      if (!destroyed) ctx.toast(e.message || 'Could not load messages.');
    }
    queueMicrotask(() => fillViewport());
  }

  async function loadOlder() {
    const b = store.bucket(cid);
    if (loadingOlder || !b || !b.loaded || !b.hasMoreBefore) return;
    const list = store.messageList(cid);
    if (!list.length) return;
    loadingOlder = true;
    renderHistoryStatus();
    try {
      const page = await api.messages(cid, { before: list[0].seq, limit: PAGE });
      if (destroyed) return;
      store.addMessages(cid, page.messages, { hasMoreBefore: page.has_more });
    } catch (e) {
      if (!destroyed) ctx.toast(e.message || 'Could not load older messages.');
    } finally {
      loadingOlder = false;
    }
    setTimeout(() => { if (!destroyed) { renderHistoryStatus(); fillViewport(); } }, 0);
  }

  function fillViewport() {
    if (destroyed) return;
    if (log.scrollHeight <= log.clientHeight + 40) loadOlder();
  }

  log.addEventListener('scroll', () => {
    if (log.scrollTop < 200) loadOlder();
    if (atBottom()) { hidePill(); ctx.markReadSoon(); }
  }, { passive: true });

  // ---- Composer behaviour ------------------------------------------------
  function autoGrow() {
    textarea.style.height = 'auto';
    textarea.style.height = `${Math.min(textarea.scrollHeight, 160)}px`;
  }

  function typingStop() {
    if (!typingActive) return;
    typingActive = false;
    typingSentAt = 0;
    ctx.gateway.typingStop(cid).catch(() => {});
  }

  textarea.addEventListener('input', () => {
    autoGrow();
    if (editing) return;
    if (textarea.value.trim()) {
      const now = Date.now();
      if (now - typingSentAt > TYPING_EVERY_MS && ctx.gateway.connected) {
        typingSentAt = now;
        typingActive = true;
        ctx.gateway.typingStart(cid).catch(() => {});
      }
    } else {
      typingStop();
    }
  });
  textarea.addEventListener('blur', () => typingStop());
  textarea.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === 'Escape' && (replyTo || editing)) {
      e.preventDefault();
      if (editing) textarea.value = '';
      setContext(null);
      autoGrow();
    }
  });
  form.addEventListener('submit', (e) => { e.preventDefault(); submit(); textarea.focus(); });

  async function submit() {
    const text = textarea.value;
    if (!text.trim()) return;
    if (editing) {
      const m = editing;
      if (text === m.text) { setContext(null); textarea.value = ''; autoGrow(); return; }
      textarea.value = '';
      setContext(null);
      autoGrow();
      try { await api.editMessage(m.id, text); } catch (err) {
        ctx.toast(err.message || 'Could not edit the message.');
      }
      return;
    }
    const reply = replyTo ? replyTo.id : null;
    textarea.value = '';
    autoGrow();
    setContext(null);
    typingStop();
    outbox.add(cid, text, reply);
    hidePill();
  }

  // ---- Lifecycle --------------------------------------------------------
  renderHeader();
  renderMessages();
  loadNewest();

  return {
    el,
    cid,
    update(dirty) {
      if (destroyed) return;
      if (dirty.has(`conv:${cid}`) || dirty.has('outbox') || dirty.has('users') || dirty.has('typing')) {
        renderHeader();
        renderMessages();
      }
    },
    refresh() { loadNewest(); },
    focusComposer() { textarea.focus({ preventScroll: true }); },
    isAtBottom: atBottom,
    destroy() {
      destroyed = true;
      typingStop();
    },
  };
}
