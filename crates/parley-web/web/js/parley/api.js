// Parley REST client. No DOM: usable by any browser app (or Node 18+ with a
// storage shim) as Parley's JavaScript client.
//
// Tokens:
// - The access token (short-lived JWT) lives in memory only.
// - The refresh token is kept in localStorage (or the storage passed in).
//   The protocol takes it in a JSON body (`POST /auth/refresh
//   {refresh_token}`), not in an HttpOnly cookie, so script must be able to
//   read it to keep a session across reloads; it is never put in a URL.
//   Refresh tokens rotate: every refresh stores the new one, and presenting
//   an old one revokes the whole family (protocol deviation 9), so refreshes
//   are single-flight within a tab and serialised across tabs with the Web
//   Locks API (each tab re-reads the newest token under the lock).

export class ParleyError extends Error {
  /**
   * @param {number} status HTTP status (0 = network failure / no HTTP answer)
   * @param {string} code   stable machine code (protocol §1), e.g. "not_found"
   * @param {string} message human readable
   * @param {object} details extra fields (e.g. {field}, {retry_after_ms})
   */
  constructor(status, code, message, details = {}) {
    super(message || code);
    this.name = 'ParleyError';
    this.status = status;
    this.code = code;
    this.details = details || {};
  }

  /** True when retrying the same request later can succeed. */
  get transient() {
    return this.status === 0 || this.status >= 500 || this.code === 'rate_limited'
      || this.code === 'network' || this.code === 'timeout' || this.code === 'disconnected'
      || this.code === 'internal' || this.code === 'unavailable';
  }
}

const memoryStorage = () => {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
};

function defaultStorage() {
  try {
    if (typeof localStorage !== 'undefined') return localStorage;
  } catch { /* access denied */ }
  return memoryStorage();
}

export class ParleyClient {
  /**
   * @param {object} [opts]
   * @param {string} [opts.baseUrl='/api/v1']
   * @param {Storage} [opts.storage=localStorage] where the refresh token is kept
   * @param {string} [opts.storageKey='parley.refresh_token']
   * @param {() => void} [opts.onSessionExpired] called once a refresh definitively failed
   * @param {typeof fetch} [opts.fetch]
   */
  constructor(opts = {}) {
    this.baseUrl = (opts.baseUrl || '/api/v1').replace(/\/$/, '');
    this.storage = opts.storage || defaultStorage();
    this.storageKey = opts.storageKey || 'parley.refresh_token';
    this.onSessionExpired = opts.onSessionExpired || null;
    this._fetch = opts.fetch || ((...a) => fetch(...a));
    this.accessToken = null;
    this.accessExpiresAt = 0;
    this.user = null;
    this._refreshing = null;
  }

  get refreshToken() {
    try { return this.storage.getItem(this.storageKey); } catch { return null; }
  }

  set refreshToken(v) {
    try {
      if (v) this.storage.setItem(this.storageKey, v);
      else this.storage.removeItem(this.storageKey);
    } catch { /* storage full or denied: session will not survive a reload */ }
  }

  /** Whether a session can be resumed (a refresh token is stored). */
  hasSession() {
    return !!(this.accessToken || this.refreshToken);
  }

  _setSession(body) {
    this.accessToken = body.access_token;
    this.accessExpiresAt = Date.now() + (body.expires_in || 900) * 1000;
    if (body.refresh_token) this.refreshToken = body.refresh_token;
    if (body.user) this.user = body.user;
  }

  clearSession() {
    this.accessToken = null;
    this.accessExpiresAt = 0;
    this.refreshToken = null;
    this.user = null;
  }

  async _raw(method, path, body, token) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    let res;
    try {
      res = await this._fetch(this.baseUrl + path, {
        method,
        headers,
        body: body !== undefined ? JSON.stringify(body) : undefined,
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch (e) {
      throw new ParleyError(0, 'network', 'Network error: the server cannot be reached', { cause: String(e) });
    }
    if (res.status === 204) return null;
    let data = null;
    const text = await res.text().catch(() => '');
    if (text) {
      try { data = JSON.parse(text); } catch { data = null; }
    }
    if (!res.ok) {
      const err = data && data.error;
      const details = (err && err.details) || {};
      if (res.status === 429 && details.retry_after_ms === undefined) {
        const ra = Number(res.headers.get('Retry-After'));
        if (ra) details.retry_after_ms = ra * 1000;
      }
      throw new ParleyError(res.status, (err && err.code) || `http_${res.status}`,
        (err && err.message) || res.statusText || `HTTP ${res.status}`, details);
    }
    return data;
  }

  /** Refreshes the access token first when it is missing or about to expire. */
  async _freshToken() {
    if (!this.accessToken || Date.now() > this.accessExpiresAt - 15000) {
      if (this.refreshToken) await this.refresh();
    }
  }

  /**
   * Make a REST call under /api/v1. On 401 refreshes once (single-flight)
   * and retries; if the refresh fails the session is cleared and
   * onSessionExpired fires.
   * @param {string} method
   * @param {string} path e.g. "/conversations"
   * @param {object} [body]
   * @param {{auth?: boolean, query?: object}} [opts]
   */
  async request(method, path, body, opts = {}) {
    const auth = opts.auth !== false;
    if (opts.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(opts.query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
      const qs = q.toString();
      if (qs) path += (path.includes('?') ? '&' : '?') + qs;
    }
    if (!auth) return this._raw(method, path, body, null);
    await this._freshToken();
    try {
      return await this._raw(method, path, body, this.accessToken);
    } catch (e) {
      if (e instanceof ParleyError && e.status === 401 && this.refreshToken) {
        await this.refresh();
        return this._raw(method, path, body, this.accessToken);
      }
      throw e;
    }
  }

  /** Refresh the access token (single-flight). Rejects with ParleyError. */
  refresh() {
    if (!this._refreshing) {
      this._refreshing = this._doRefresh().finally(() => { this._refreshing = null; });
    }
    return this._refreshing;
  }

  async _doRefresh() {
    const run = async () => {
      const token = this.refreshToken; // newest, possibly rotated by another tab
      if (!token) throw new ParleyError(401, 'unauthenticated', 'Not signed in');
      try {
        const body = await this._raw('POST', '/auth/refresh', { refresh_token: token }, null);
        this._setSession(body);
        return body;
      } catch (e) {
        if (e.status === 401 || e.status === 400 || e.status === 403) {
          // Another tab may have rotated the token meanwhile: try its token once.
          const newer = this.refreshToken;
          if (newer && newer !== token) {
            const body = await this._raw('POST', '/auth/refresh', { refresh_token: newer }, null).catch(() => null);
            if (body) { this._setSession(body); return body; }
          }
          this.clearSession();
          if (this.onSessionExpired) this.onSessionExpired(e);
        }
        throw e;
      }
    };
    if (typeof navigator !== 'undefined' && navigator.locks && navigator.locks.request) {
      return navigator.locks.request(`${this.storageKey}.lock`, run);
    }
    return run();
  }

  // ---- Auth ----------------------------------------------------------

  async register(username, password, displayName) {
    const body = { username, password };
    if (displayName) body.display_name = displayName;
    const res = await this._raw('POST', '/auth/register', body, null);
    this._setSession(res);
    return res.user;
  }

  async login(username, password) {
    const res = await this._raw('POST', '/auth/login', { username, password }, null);
    this._setSession(res);
    return res.user;
  }

  async logout() {
    const token = this.refreshToken;
    this.clearSession();
    if (token) await this._raw('POST', '/auth/logout', { refresh_token: token }, null).catch(() => {});
  }

  // ---- Users ---------------------------------------------------------

  me() { return this.request('GET', '/users/me'); }
  updateMe(fields) { return this.request('PATCH', '/users/me', fields); }
  notificationPrefs() { return this.request('GET', '/users/me/notifications'); }
  updateNotificationPrefs(fields) { return this.request('PATCH', '/users/me/notifications', fields); }
  vapidPublicKey() { return this.request('GET', '/push/vapid-public-key'); }
  pushSubscriptions() { return this.request('GET', '/push/subscriptions'); }
  subscribePush(subscription) { return this.request('POST', '/push/subscriptions', subscription); }
  unsubscribePush(endpoint) { return this.request('DELETE', '/push/subscriptions', { endpoint }); }
  getUser(id) { return this.request('GET', `/users/${encodeURIComponent(id)}`); }
  searchUsers(query, limit = 20) { return this.request('GET', '/users', undefined, { query: { query, limit } }); }

  // ---- Conversations -------------------------------------------------

  listConversations(cursor, limit = 100) {
    return this.request('GET', '/conversations', undefined, { query: { cursor, limit } });
  }

  /** All conversations, following next_cursor (up to maxPages pages). */
  async allConversations(maxPages = 20) {
    const out = [];
    let cursor;
    for (let i = 0; i < maxPages; i += 1) {
      const page = await this.listConversations(cursor, 200);
      out.push(...page.conversations);
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
    return out;
  }

  unread() { return this.request('GET', '/conversations/unread'); }
  getConversation(id) { return this.request('GET', `/conversations/${encodeURIComponent(id)}`); }
  openDirect(userId) { return this.request('POST', '/conversations', { kind: 'direct', user_id: userId }); }
  createGroup(title, memberIds) { return this.request('POST', '/conversations', { kind: 'group', title, member_ids: memberIds }); }
  updateConversation(id, fields) { return this.request('PATCH', `/conversations/${encodeURIComponent(id)}`, fields); }
  members(id) { return this.request('GET', `/conversations/${encodeURIComponent(id)}/members`, undefined, { query: { limit: 200 } }); }
  addMembers(id, userIds) { return this.request('POST', `/conversations/${encodeURIComponent(id)}/members`, { user_ids: userIds }); }
  removeMember(id, userId) { return this.request('DELETE', `/conversations/${encodeURIComponent(id)}/members/${encodeURIComponent(userId)}`); }
  setRole(id, userId, role) { return this.request('PATCH', `/conversations/${encodeURIComponent(id)}/members/${encodeURIComponent(userId)}`, { role }); }
  markRead(id, seq) { return this.request('POST', `/conversations/${encodeURIComponent(id)}/read`, { seq }); }
  /** until: ISO time, or null to unmute. */
  mute(id, until) { return this.request('PUT', `/conversations/${encodeURIComponent(id)}/mute`, { until }); }
  /** Pinned and archived chats: {conversation_id, pinned_at, archived}. */
  pinChat(id, pinned) { return this.request('PUT', `/conversations/${encodeURIComponent(id)}/pin`, { pinned }); }
  archiveChat(id, archived) { return this.request('PUT', `/conversations/${encodeURIComponent(id)}/archive`, { archived }); }
  /** {chats: [...]}: my pinned and archived chats. */
  chatStates() { return this.request('GET', '/users/me/chats'); }

  // ---- Messages ------------------------------------------------------

  /** {conversation, exported_at, messages}: my view of a chat (protocol.md §13). */
  exportConversation(id) {
    return this.request('GET', `/conversations/${encodeURIComponent(id)}/export`, undefined, { query: { format: 'json' } });
  }

  /** {hits: [{message, conversation, snippet}], next_cursor} (protocol.md §13). */
  searchMessages(q, { conversationId, cursor, limit = 20 } = {}) {
    return this.request('GET', '/search/messages', undefined, { query: { q, conversation_id: conversationId, cursor, limit } });
  }

  /** {messages, has_more}, ascending seq. opts: {before, after, limit} */
  messages(id, opts = {}) {
    return this.request('GET', `/conversations/${encodeURIComponent(id)}/messages`, undefined, { query: opts });
  }

  events(id, after, limit) {
    return this.request('GET', `/conversations/${encodeURIComponent(id)}/events`, undefined, { query: { after, limit } });
  }

  sendMessage(id, { clientId, text, replyTo, attachments }) {
    const body = { client_id: clientId };
    if (text !== undefined) body.text = text;
    if (replyTo) body.reply_to = replyTo;
    if (attachments && attachments.length) body.attachments = attachments;
    return this.request('POST', `/conversations/${encodeURIComponent(id)}/messages`, body);
  }

  /** Images and videos (or one kind: image, video, audio, file), newest first. */
  media(id, cursor, kind, limit = 20) {
    return this.request('GET', `/conversations/${encodeURIComponent(id)}/media`, undefined, { query: { limit, kind, cursor: cursor || undefined } });
  }

  files(id, cursor, limit = 20) {
    return this.request('GET', `/conversations/${encodeURIComponent(id)}/files`, undefined, { query: { limit, cursor: cursor || undefined } });
  }

  /** A short-lived signed URL for <img>/<video> (no Authorization header). */
  signedMedia(id) { return this.request('GET', `/media/${encodeURIComponent(id)}/signed`); }

  /**
   * The bytes of a media object the caller may read (GET /media/{id}), as a
   * File named like the upload: what Forward re-uploads when the media is
   * someone else's (an attachment must be the sender's own upload).
   */
  async mediaFile(media) {
    await this._freshToken();
    const res = await this._fetch(`${this.baseUrl}/media/${encodeURIComponent(media.id)}`, {
      headers: { Authorization: `Bearer ${this.accessToken}` },
    });
    if (!res.ok) throw new ParleyError(res.status, res.status === 404 ? 'not_found' : 'unavailable', 'Could not fetch the attachment.');
    const blob = await res.blob();
    return new File([blob], media.name || 'file', { type: media.mime || blob.type });
  }

  /**
   * Upload one file (POST /media, multipart field "file") with XHR so that
   * upload progress is reported. Resolves with the media object.
   * @param {Blob} file
   * @param {{onProgress?: (loaded: number, total: number) => void, signal?: AbortSignal}} [opts]
   */
  async uploadMedia(file, opts = {}) {
    await this._freshToken();
    const form = new FormData();
    form.append('file', file, file.name || 'file');
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', `${this.baseUrl}/media`);
      if (this.accessToken) xhr.setRequestHeader('Authorization', `Bearer ${this.accessToken}`);
      xhr.setRequestHeader('Accept', 'application/json');
      if (opts.onProgress) {
        xhr.upload.onprogress = (e) => opts.onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
      }
      const abort = () => xhr.abort();
      if (opts.signal) {
        if (opts.signal.aborted) { reject(new ParleyError(0, 'aborted', 'Upload cancelled')); return; }
        opts.signal.addEventListener('abort', abort, { once: true });
      }
      const done = () => { if (opts.signal) opts.signal.removeEventListener('abort', abort); };
      xhr.onload = () => {
        done();
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch { data = null; }
        if (xhr.status >= 200 && xhr.status < 300) { resolve(data); return; }
        const err = data && data.error;
        reject(new ParleyError(xhr.status, (err && err.code) || `http_${xhr.status}`,
          (err && err.message) || `HTTP ${xhr.status}`, (err && err.details) || {}));
      };
      xhr.onerror = () => { done(); reject(new ParleyError(0, 'network', 'Network error: the server cannot be reached')); };
      xhr.onabort = () => { done(); reject(new ParleyError(0, 'aborted', 'Upload cancelled')); };
      xhr.send(form);
    });
  }

  links(id, cursor, limit = 20) {
    return this.request('GET', `/conversations/${encodeURIComponent(id)}/links`, undefined, { query: { limit, cursor: cursor || undefined } });
  }
  getMessage(id) { return this.request('GET', `/messages/${encodeURIComponent(id)}`); }
  editMessage(id, text) { return this.request('PATCH', `/messages/${encodeURIComponent(id)}`, { text }); }
  deleteMessage(id) { return this.request('DELETE', `/messages/${encodeURIComponent(id)}`); }
  react(id, emoji) { return this.request('PUT', `/messages/${encodeURIComponent(id)}/reactions/${encodeURIComponent(emoji)}`); }
  unreact(id, emoji) { return this.request('DELETE', `/messages/${encodeURIComponent(id)}/reactions/${encodeURIComponent(emoji)}`); }
  receipts(id) { return this.request('GET', `/messages/${encodeURIComponent(id)}/receipts`); }
  /** {message_id, reactions: [{emoji, count, me, user_ids}]}: who reacted. */
  reactors(id) { return this.request('GET', `/messages/${encodeURIComponent(id)}/reactions`); }
  /** Marks, mine only: {message_id, conversation_id, seq, starred, hidden}. */
  starMessage(id, starred) { return this.request('PUT', `/messages/${encodeURIComponent(id)}/star`, { starred }); }
  /** Delete for me (hidden: true), or undo it. */
  hideMessage(id, hidden) { return this.request('PUT', `/messages/${encodeURIComponent(id)}/hidden`, { hidden }); }
  /** {marks: [...]}: my starred and deleted-for-me messages in a chat. */
  messageMarks(cid) { return this.request('GET', `/conversations/${encodeURIComponent(cid)}/marks`); }
  /** {starred: [{message, starred_at}], next_cursor}: newest star first. */
  starred(cursor, limit = 50) { return this.request('GET', '/users/me/starred', undefined, { query: { cursor: cursor || undefined, limit } }); }

  // ---- Blocks --------------------------------------------------------

  block(userId) { return this.request('POST', '/blocks', { user_id: userId }); }
  unblock(userId) { return this.request('DELETE', `/blocks/${encodeURIComponent(userId)}`); }
  blockStatus(userId) { return this.request('GET', `/blocks/${encodeURIComponent(userId)}`); }
  listBlocks() { return this.request('GET', '/blocks'); }

  // ---- Support (protocol §9) -----------------------------------------

  listInboxes() { return this.request('GET', '/inboxes'); }
  getInbox(id) { return this.request('GET', `/inboxes/${encodeURIComponent(id)}`); }
  createInbox(fields) { return this.request('POST', '/inboxes', fields); }
  updateInbox(id, fields) { return this.request('PATCH', `/inboxes/${encodeURIComponent(id)}`, fields); }
  inboxAgents(id) { return this.request('GET', `/inboxes/${encodeURIComponent(id)}/agents`); }
  addInboxAgent(id, userId, maxChats) {
    return this.request('PUT', `/inboxes/${encodeURIComponent(id)}/agents/${encodeURIComponent(userId)}`, maxChats ? { max_chats: maxChats } : {});
  }
  removeInboxAgent(id, userId) { return this.request('DELETE', `/inboxes/${encodeURIComponent(id)}/agents/${encodeURIComponent(userId)}`); }
  /** 201 a new support conversation, or 200 my open one in that inbox. */
  contactSupport(inboxId, text) {
    return this.request('POST', `/inboxes/${encodeURIComponent(inboxId)}/conversations`, text ? { text } : {});
  }
  supportQueue(inboxId, cursor) {
    return this.request('GET', `/inboxes/${encodeURIComponent(inboxId)}/queue`, undefined, { query: { cursor } });
  }
  myAgentConversations(state = 'assigned', cursor) {
    return this.request('GET', '/agents/me/conversations', undefined, { query: { state, cursor } });
  }
  agentStatus() { return this.request('GET', '/agents/me/status'); }
  setAgentStatus(status) { return this.request('PUT', '/agents/me/status', { status }); }
  /** action: claim | transfer | resolve | reopen; body for transfer: {agent_id} or {inbox_id}. */
  supportAction(cid, action, body) {
    return this.request('POST', `/conversations/${encodeURIComponent(cid)}/support/${action}`, body || {});
  }

  // ---- Gateway -------------------------------------------------------

  /** {ticket, expires_in}: single-use, the only credential that goes in a URL. */
  gatewayTicket() { return this.request('POST', '/gateway/ticket'); }
}
