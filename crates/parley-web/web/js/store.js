// Client-side state, fed by the gateway and REST. Views subscribe with
// store.subscribe(fn); fn receives a Set of dirty topics, batched per
// microtask:
//   "list"            conversation list (order, previews, badges)
//   "conv:<id>"       a conversation's messages, statuses, members, header
//   "typing"          someone started/stopped typing somewhere
//   "users"           presence or profile changes
//   "connection"      connection state
//   "outbox"          pending sends changed

import { Emitter } from './parley/emitter.js';

const TYPING_TTL_MS = 6500;
const STATUS_RANK = { sending: 0, failed: 0, sent: 1, delivered: 2, read: 3 };

function maxStatus(a, b) {
  return (STATUS_RANK[b] || 0) > (STATUS_RANK[a] || 0) ? b : a;
}

function activityOf(conv) {
  const t = conv.last_message ? Date.parse(conv.last_message.created_at) : 0;
  return Math.max(t || 0, Date.parse(conv.created_at) || 0, conv._activity || 0);
}

export class Store extends Emitter {
  constructor() {
    super();
    this.reset();
  }

  reset() {
    this.me = null;
    this.conversations = new Map();
    this.messages = new Map(); // cid -> {bySeq: Map, hasMoreBefore, loaded}
    this.applied = new Map(); // cid -> highest seq applied
    this.users = new Map();
    this.typing = new Map(); // cid -> Map(uid -> expiresAt)
    this.watermarks = new Map(); // cid -> Map(uid -> {delivered_seq, read_seq})
    this.members = new Map(); // cid -> [member]
    this.blocks = new Map(); // uid -> {blocked_by_me, blocked_me}
    this.quoted = new Map(); // message id -> message (fetched for reply quotes)
    this.connection = 'connecting';
    this.openConversationId = null;
    this._dirty = new Set();
    this._scheduled = false;
    clearInterval(this._typingTimer);
    this._typingTimer = null;
  }

  // ---- Notification --------------------------------------------------

  subscribe(fn) { return this.on('change', fn); }

  touch(...topics) {
    for (const t of topics) this._dirty.add(t);
    if (this._scheduled) return;
    this._scheduled = true;
    queueMicrotask(() => {
      this._scheduled = false;
      const dirty = this._dirty;
      this._dirty = new Set();
      this.emit('change', dirty);
    });
  }

  // ---- Users ---------------------------------------------------------

  setMe(user) {
    this.me = user;
    this.putUser(user);
  }

  putUser(user) {
    if (!user || !user.id) return;
    const prev = this.users.get(user.id);
    this.users.set(user.id, { ...(prev || {}), ...user });
    this.touch('users');
  }

  user(id) { return this.users.get(id) || null; }

  displayName(id) {
    if (this.me && id === this.me.id) return 'You';
    const u = this.users.get(id);
    if (u) return u.display_name || u.username;
    // Unknown yet (a group member we have not loaded): fetch, and the
    // 'users' change re-renders whoever asked.
    if (id) queueMicrotask(() => this.emit('need_user', id));
    return 'Someone';
  }

  applyPresence(f) {
    const u = this.users.get(f.user_id);
    if (!u) return;
    u.presence = { state: f.state, last_seen_at: f.last_seen_at };
    this.touch('users', 'list');
    for (const c of this.conversations.values()) {
      if (c.peer && c.peer.id === f.user_id) this.touch(`conv:${c.id}`);
    }
  }

  // ---- Conversations -------------------------------------------------

  setConversations(list) {
    const seen = new Set();
    for (const c of list) {
      seen.add(c.id);
      this.upsertConversation(c);
    }
    for (const id of [...this.conversations.keys()]) if (!seen.has(id)) this.removeConversation(id);
    this.touch('list');
  }

  upsertConversation(conv) {
    const prev = this.conversations.get(conv.id);
    const merged = { ...(prev || {}), ...conv };
    if (prev && prev.last_seq > conv.last_seq) {
      // A live event beat this REST snapshot: keep the newer summary.
      merged.last_seq = prev.last_seq;
      merged.last_message = prev.last_message;
      merged.unread_count = prev.unread_count;
      merged.read_seq = Math.max(prev.read_seq || 0, conv.read_seq || 0);
    }
    if (conv.peer) this.putUser(conv.peer);
    if (conv.last_message) this._rememberMessage(conv.last_message);
    this.conversations.set(conv.id, merged);
    this.applied.set(conv.id, Math.max(this.applied.get(conv.id) || 0, conv.last_seq || 0));
    this.touch('list', `conv:${conv.id}`);
    return merged;
  }

  removeConversation(id) {
    this.conversations.delete(id);
    this.messages.delete(id);
    this.applied.delete(id);
    this.typing.delete(id);
    this.watermarks.delete(id);
    this.members.delete(id);
    this.touch('list', `conv:${id}`);
    this.emit('removed', id);
  }

  conversation(id) { return this.conversations.get(id) || null; }

  peerOf(conv) {
    if (!conv || conv.kind !== 'direct' || !conv.peer) return null;
    return this.users.get(conv.peer.id) || conv.peer;
  }

  titleOf(conv) {
    if (!conv) return '';
    if (conv.kind === 'direct') {
      const p = this.peerOf(conv);
      return p ? (p.display_name || p.username) : 'Direct chat';
    }
    return conv.title || 'Group';
  }

  sortedConversations() {
    return [...this.conversations.values()].sort((a, b) => activityOf(b) - activityOf(a));
  }

  totalUnread() {
    let n = 0;
    for (const c of this.conversations.values()) n += c.unread_count || 0;
    return n;
  }

  /** {conversation_id: last applied seq} for the gateway `sync`. */
  sinceMap() {
    const out = {};
    for (const [id, seq] of this.applied) out[id] = seq;
    return out;
  }

  isMuted(conv) {
    return !!(conv && conv.muted_until && Date.parse(conv.muted_until) > Date.now());
  }

  // ---- Members -------------------------------------------------------

  setMembers(cid, members) {
    this.members.set(cid, members);
    for (const m of members) if (m.user) this.putUser(m.user);
    const conv = this.conversations.get(cid);
    if (conv) conv.member_count = members.length;
    this.touch(`conv:${cid}`, 'list');
  }

  // ---- Messages ------------------------------------------------------

  _bucket(cid) {
    let b = this.messages.get(cid);
    if (!b) {
      b = { bySeq: new Map(), hasMoreBefore: true, loaded: false };
      this.messages.set(cid, b);
    }
    return b;
  }

  _rememberMessage(m) {
    if (m && m.id) this.quoted.set(m.id, m);
  }

  /** Merge a page of messages from REST (ascending seq). */
  addMessages(cid, messages, { hasMoreBefore, replace = false, newestPage = false } = {}) {
    const b = this._bucket(cid);
    if (replace) b.bySeq.clear();
    for (const m of messages) this._putMessage(b, m);
    if (hasMoreBefore !== undefined && (!newestPage || !b.loaded || replace)) b.hasMoreBefore = hasMoreBefore;
    if (newestPage) b.loaded = true;
    this.touch(`conv:${cid}`);
  }

  _putMessage(b, m) {
    const prev = b.bySeq.get(m.seq);
    // Keep the best known status: REST/acks may carry it, events never do.
    const status = prev ? maxStatus(prev.status, m.status) : m.status;
    const merged = { ...(prev || {}), ...m };
    if (status) merged.status = status;
    if (!m.reactions && prev) merged.reactions = prev.reactions;
    b.bySeq.set(m.seq, merged);
    this._rememberMessage(merged);
    return merged;
  }

  messageList(cid) {
    const b = this.messages.get(cid);
    if (!b) return [];
    return [...b.bySeq.values()].sort((a, b2) => a.seq - b2.seq);
  }

  bucket(cid) { return this.messages.get(cid) || null; }

  findMessage(cid, messageId) {
    const b = this.messages.get(cid);
    if (b) for (const m of b.bySeq.values()) if (m.id === messageId) return m;
    return this.quoted.get(messageId) || null;
  }

  /** A message acknowledged by the server (ack of our own send). */
  applyOwnMessage(m) {
    const conv = this.conversations.get(m.conversation_id);
    const b = this._bucket(m.conversation_id);
    this._putMessage(b, { ...m, status: m.status || 'sent' });
    if (conv) {
      if (!conv.last_message || conv.last_message.seq <= m.seq) conv.last_message = b.bySeq.get(m.seq);
      conv.last_seq = Math.max(conv.last_seq || 0, m.seq);
      conv.read_seq = Math.max(conv.read_seq || 0, m.seq);
      conv.delivered_seq = Math.max(conv.delivered_seq || 0, m.seq);
      conv.unread_count = 0;
    }
    this.touch('list', `conv:${m.conversation_id}`);
  }

  // ---- Events --------------------------------------------------------

  /**
   * Apply a conversation event (deduplicated by (conversation_id, seq)).
   * Returns 'applied' | 'duplicate' | 'gap' | 'unknown'.
   */
  applyEvent(ev) {
    const cid = ev.conversation_id;
    const conv = this.conversations.get(cid);
    if (!conv) return 'unknown';
    const applied = this.applied.get(cid) || 0;
    if (ev.seq <= applied) return 'duplicate';
    if (ev.seq > applied + 1) return 'gap';
    this.applied.set(cid, ev.seq);
    conv.last_seq = Math.max(conv.last_seq || 0, ev.seq);
    const t = Date.parse(ev.at);
    const d = ev.data || {};
    const meId = this.me && this.me.id;
    switch (ev.type) {
      case 'message.created': {
        const m = d.message;
        if (!m) break;
        const stored = this._putMessage(this._bucket(cid), m);
        conv.last_message = stored;
        conv._activity = t || Date.now();
        if (m.sender_id === meId) {
          conv.read_seq = Math.max(conv.read_seq || 0, m.seq);
          conv.delivered_seq = Math.max(conv.delivered_seq || 0, m.seq);
          conv.unread_count = 0;
        } else {
          if (m.kind !== 'system' && m.seq > (conv.read_seq || 0)) conv.unread_count = (conv.unread_count || 0) + 1;
          this._stopTyping(cid, m.sender_id);
        }
        this.emit('message', { conversation: conv, message: stored });
        break;
      }
      case 'message.edited': {
        const m = this.findMessage(cid, d.message_id);
        if (m) { m.text = d.text; m.edited_at = d.edited_at; }
        if (conv.last_message && conv.last_message.id === d.message_id) {
          conv.last_message = { ...conv.last_message, text: d.text, edited_at: d.edited_at };
        }
        break;
      }
      case 'message.deleted': {
        const m = this.findMessage(cid, d.message_id);
        if (m) {
          if (!m.deleted && m.sender_id !== meId && m.seq > (conv.read_seq || 0) && conv.unread_count > 0) conv.unread_count -= 1;
          m.deleted = true; m.text = null; m.attachments = []; m.reactions = [];
        }
        if (conv.last_message && conv.last_message.id === d.message_id) {
          conv.last_message = { ...conv.last_message, deleted: true, text: null };
        }
        break;
      }
      case 'reaction.added':
      case 'reaction.removed': {
        const m = this.findMessage(cid, d.message_id);
        if (!m) break;
        const list = (m.reactions || []).map((r) => ({ ...r }));
        let r = list.find((x) => x.emoji === d.emoji);
        const add = ev.type === 'reaction.added';
        if (!r && add) { r = { emoji: d.emoji, count: 0, me: false }; list.push(r); }
        if (r) {
          r.count = Math.max(0, r.count + (add ? 1 : -1));
          if (d.user_id === meId) r.me = add;
        }
        m.reactions = list.filter((x) => x.count > 0);
        break;
      }
      case 'member.joined': {
        const members = this.members.get(cid);
        if (members) {
          if (!members.some((x) => x.user_id === d.user_id)) {
            members.push({ user_id: d.user_id, role: d.role, joined_seq: ev.seq, joined_at: ev.at, user: this.users.get(d.user_id) });
          }
          conv.member_count = members.length;
        } else conv.member_count = (conv.member_count || 0) + 1;
        this.emit('need_user', d.user_id);
        break;
      }
      case 'member.left': {
        const members = this.members.get(cid);
        if (members) {
          const rest = members.filter((x) => x.user_id !== d.user_id);
          this.members.set(cid, rest);
          conv.member_count = rest.length;
        } else conv.member_count = Math.max(0, (conv.member_count || 1) - 1);
        const wm = this.watermarks.get(cid);
        if (wm) wm.delete(d.user_id);
        this._stopTyping(cid, d.user_id);
        break;
      }
      case 'member.role_changed': {
        const members = this.members.get(cid);
        const mem = members && members.find((x) => x.user_id === d.user_id);
        if (mem) mem.role = d.role;
        if (d.user_id === meId) conv.my_role = d.role;
        break;
      }
      case 'conversation.updated': {
        for (const k of ['title', 'avatar_url']) if (k in d) conv[k] = d[k];
        break;
      }
      default:
        break;
    }
    this.touch('list', `conv:${cid}`);
    return 'applied';
  }

  // ---- Receipts and statuses -----------------------------------------

  applyReceipt(f) {
    const cid = f.conversation_id;
    let wm = this.watermarks.get(cid);
    if (!wm) { wm = new Map(); this.watermarks.set(cid, wm); }
    const prev = wm.get(f.user_id) || { delivered_seq: 0, read_seq: 0 };
    wm.set(f.user_id, {
      delivered_seq: Math.max(prev.delivered_seq, f.delivered_seq || 0, f.read_seq || 0),
      read_seq: Math.max(prev.read_seq, f.read_seq || 0),
    });
    this.touch(`conv:${cid}`, 'list');
  }

  /** My own watermark moved (ack of message.read / delivered). */
  applyOwnRead(cid, readSeq, unreadCount) {
    const conv = this.conversations.get(cid);
    if (!conv) return;
    if (readSeq !== undefined) conv.read_seq = Math.max(conv.read_seq || 0, readSeq);
    if (unreadCount !== undefined) conv.unread_count = unreadCount;
    this.touch('list', `conv:${cid}`);
  }

  /**
   * Status of one of my messages: the server's status (REST/ack) upgraded
   * by the receipts pushed since: delivered/read once every other member's
   * watermark reached the message's seq.
   */
  statusOf(msg) {
    const base = msg.status || 'sent';
    if (base === 'read') return base;
    const cid = msg.conversation_id;
    const conv = this.conversations.get(cid);
    if (!conv) return base;
    const b = this.messages.get(cid);
    // Floors: a later own message already delivered/read implies this one too.
    let floorDelivered = 0;
    let floorRead = 0;
    if (b) {
      for (const m of b.bySeq.values()) {
        if (m.sender_id !== (this.me && this.me.id)) continue;
        if (m.status === 'read') floorRead = Math.max(floorRead, m.seq);
        if (m.status === 'read' || m.status === 'delivered') floorDelivered = Math.max(floorDelivered, m.seq);
      }
    }
    if (floorRead >= msg.seq) return 'read';
    const wm = this.watermarks.get(cid);
    let others;
    const members = this.members.get(cid);
    if (conv.kind === 'direct' && conv.peer) others = [conv.peer.id];
    else if (members) others = members.filter((m) => m.user_id !== this.me.id && (m.joined_seq || 0) <= msg.seq).map((m) => m.user_id);
    let computed = floorDelivered >= msg.seq ? 'delivered' : 'sent';
    if (wm) {
      if (others) {
        if (others.length > 0) {
          const all = (k) => others.every((u) => { const w = wm.get(u); return w && w[k] >= msg.seq; });
          if (all('read_seq')) computed = 'read';
          else if (all('delivered_seq')) computed = 'delivered';
        }
      } else {
        const need = Math.max(1, (conv.member_count || 2) - 1);
        let nd = 0; let nr = 0;
        for (const w of wm.values()) {
          if (w.delivered_seq >= msg.seq) nd += 1;
          if (w.read_seq >= msg.seq) nr += 1;
        }
        if (nr >= need) computed = 'read';
        else if (nd >= need) computed = 'delivered';
      }
    }
    return maxStatus(base, computed);
  }

  // ---- Typing --------------------------------------------------------

  applyTyping(f) {
    if (f.typing) {
      let m = this.typing.get(f.conversation_id);
      if (!m) { m = new Map(); this.typing.set(f.conversation_id, m); }
      m.set(f.user_id, Date.now() + TYPING_TTL_MS);
      this._ensureTypingTimer();
    } else {
      this._stopTyping(f.conversation_id, f.user_id);
    }
    this.touch('typing', 'list', `conv:${f.conversation_id}`);
  }

  _stopTyping(cid, uid) {
    const m = this.typing.get(cid);
    if (m && m.delete(uid)) this.touch('typing', 'list', `conv:${cid}`);
  }

  _ensureTypingTimer() {
    if (this._typingTimer) return;
    this._typingTimer = setInterval(() => {
      const now = Date.now();
      let any = false;
      for (const [cid, m] of this.typing) {
        for (const [uid, exp] of m) {
          if (exp <= now) { m.delete(uid); this.touch('typing', 'list', `conv:${cid}`); }
        }
        if (m.size) any = true;
      }
      if (!any) { clearInterval(this._typingTimer); this._typingTimer = null; }
    }, 500);
  }

  /** User ids typing in a conversation (excluding me). */
  typingIn(cid) {
    const m = this.typing.get(cid);
    if (!m) return [];
    const now = Date.now();
    return [...m.entries()].filter(([uid, exp]) => exp > now && uid !== (this.me && this.me.id)).map(([uid]) => uid);
  }

  // ---- Connection ----------------------------------------------------

  setConnection(state) {
    if (this.connection === state) return;
    this.connection = state;
    this.touch('connection');
  }
}
