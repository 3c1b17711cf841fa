// Parley gateway (WebSocket) client. No DOM dependency beyond WebSocket and
// (optionally) window online/offline events.
//
// Lifecycle: POST /gateway/ticket -> new WebSocket(/api/v1/gateway?ticket=)
// -> `ready` -> `sync` with the last seen seq per conversation ->
// `sync.done` -> state "connected". Reconnects with jittered exponential
// backoff (0.5 s .. 30 s) and syncs again on every (re)connect.

import { Emitter } from './emitter.js';
import { ParleyError } from './api.js';

const MIN_BACKOFF = 500;
const MAX_BACKOFF = 30000;

/** Close codes (protocol §6). */
export const CloseCode = {
  GOING_AWAY: 1001,
  UNAUTHENTICATED: 4001,
  BANNED: 4003,
  TOO_SLOW: 4008,
  TOO_LARGE: 4009,
  RATE_LIMITED: 4029,
  PROTOCOL: 4400,
};

export class Gateway extends Emitter {
  /**
   * @param {import('./api.js').ParleyClient} client
   * @param {object} [opts]
   * @param {() => Record<string, number>} [opts.getSince] last applied seq per conversation (for `sync`)
   * @param {string} [opts.url] gateway URL without query (default: same origin /api/v1/gateway)
   * @param {number} [opts.requestTimeoutMs=15000]
   *
   * Emits: "state" ({state, previous}) with state in
   *   idle | connecting | syncing | connected | waiting | stopped;
   *   "ready" (the ready frame), "synced" ({resync}), "event", "receipt",
   *   "typing", "presence", "conversation.added", "conversation.removed",
   *   "support.queue", "frame" (every frame), "session_expired".
   */
  constructor(client, opts = {}) {
    super();
    this.client = client;
    this.getSince = opts.getSince || (() => ({}));
    this.url = opts.url || null;
    this.requestTimeoutMs = opts.requestTimeoutMs || 15000;
    this.state = 'idle';
    this.ws = null;
    this.session = null;
    this.attempt = 0;
    this._pending = new Map();
    this._refCounter = 0;
    this._timer = null;
    this._heartbeat = null;
    this._lastFrameAt = 0;
    this._stopped = true;
    this._onOnline = () => { if (this.state === 'waiting') this._connectSoon(0); };
    this._onOffline = () => { if (this.ws) this.ws.close(4000, 'offline'); };
  }

  // The socket must be open too: between close() and its 'close' event the
  // state is still 'connected' but every request would fail at once.
  get connected() { return this.state === 'connected' && !!this.ws && this.ws.readyState === 1; }

  _setState(state) {
    if (state === this.state) return;
    const previous = this.state;
    this.state = state;
    this.emit('state', { state, previous });
  }

  /** Start connecting (and keep reconnecting until stop()). */
  start() {
    if (!this._stopped) return;
    this._stopped = false;
    if (typeof window !== 'undefined') {
      window.addEventListener('online', this._onOnline);
      window.addEventListener('offline', this._onOffline);
    }
    this._connect();
  }

  /** Close and stop reconnecting. */
  stop() {
    this._stopped = true;
    clearTimeout(this._timer);
    this._stopHeartbeat();
    if (typeof window !== 'undefined') {
      window.removeEventListener('online', this._onOnline);
      window.removeEventListener('offline', this._onOffline);
    }
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = null;
      try { ws.close(1000, 'client stop'); } catch { /* ignore */ }
    }
    this._failPending('disconnected');
    this._setState('stopped');
  }

  /** Drop the current connection and reconnect now (e.g. after network change). */
  reconnectNow() {
    this.attempt = 0;
    if (this.ws) this.ws.close(4000, 'reconnect');
    else this._connectSoon(0);
  }

  _gatewayUrl(ticket) {
    let base = this.url;
    if (!base) {
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      base = `${proto}//${location.host}${this.client.baseUrl}/gateway`;
    }
    return `${base}?ticket=${encodeURIComponent(ticket)}`;
  }

  async _connect() {
    if (this._stopped) return;
    this._setState('connecting');
    let ticket;
    try {
      ({ ticket } = await this.client.gatewayTicket());
    } catch (e) {
      if (this._stopped) return;
      if (e instanceof ParleyError && e.status === 401) {
        this.emit('session_expired', e);
        this.stop();
        return;
      }
      this._scheduleReconnect();
      return;
    }
    if (this._stopped) return;
    let ws;
    try {
      ws = new WebSocket(this._gatewayUrl(ticket));
    } catch {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onmessage = (m) => this._onFrame(m.data);
    ws.onclose = (ev) => this._onClose(ws, ev);
    ws.onerror = () => { /* onclose follows */ };
  }

  _onClose(ws, ev) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.session = null;
    this._stopHeartbeat();
    this._failPending('disconnected');
    if (this._stopped) return;
    this.emit('closed', { code: ev.code, reason: ev.reason });
    if (ev.code === CloseCode.BANNED) {
      // Banned: reconnecting cannot help (protocol §6); the session is over.
      this.emit('session_expired', { code: 'banned' });
      this.stop();
      return;
    }
    if (ev.code === CloseCode.UNAUTHENTICATED) {
      this.client.refresh().then(() => this._connectSoon(0), (e) => {
        if (e && e.status === 401) { this.emit('session_expired', e); this.stop(); } else this._scheduleReconnect();
      });
      this._setState('waiting');
      return;
    }
    if (ev.code === CloseCode.TOO_SLOW || ev.code === CloseCode.GOING_AWAY) {
      // Reconnect promptly (jittered, so a restarting cluster is not stampeded).
      this._setState('waiting');
      this._connectSoon(Math.random() * MIN_BACKOFF);
      return;
    }
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    const base = Math.min(MAX_BACKOFF, MIN_BACKOFF * 2 ** this.attempt);
    this.attempt += 1;
    const delay = Math.max(MIN_BACKOFF, base / 2 + Math.random() * (base / 2));
    this._setState('waiting');
    this._connectSoon(delay);
  }

  _connectSoon(delay) {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._connect(), delay);
  }

  _onFrame(data) {
    let f;
    try { f = JSON.parse(data); } catch { return; }
    this._lastFrameAt = Date.now();
    this.emit('frame', f);
    if (f.ref && this._pending.has(f.ref) && (f.type === 'ack' || f.type === 'error' || f.type === 'pong' || f.type === 'sync.done')) {
      const p = this._pending.get(f.ref);
      this._pending.delete(f.ref);
      clearTimeout(p.timer);
      if (f.type === 'error') {
        const err = f.error || {};
        p.reject(new ParleyError(err.code === 'rate_limited' ? 429 : 400, err.code || 'invalid_request', err.message, err.details));
      } else p.resolve(f);
    }
    switch (f.type) {
      case 'ready':
        this.session = f;
        this._setState('syncing');
        this._startHeartbeat(f.heartbeat_ms || 25000);
        this.emit('ready', f);
        this._sync();
        break;
      case 'sync.done':
        break; // handled by the sync request
      case 'ack': case 'error': case 'pong':
        if (f.type === 'error' && !f.ref) this.emit('server_error', f.error);
        break;
      default:
        this.emit(f.type, f);
    }
  }

  async _sync() {
    const ws = this.ws;
    try {
      const done = await this.request('sync', { since: this.getSince() }, { timeoutMs: 60000, allowSyncing: true });
      if (ws !== this.ws) return;
      this.attempt = 0;
      this._setState('connected');
      this.emit('synced', { resync: done.resync || [] });
    } catch (e) {
      if (ws === this.ws && ws) ws.close(4000, 'sync failed');
    }
  }

  _startHeartbeat(serverMs) {
    this._stopHeartbeat();
    const every = Math.max(5000, Math.min(serverMs, 25000));
    this._heartbeat = setInterval(() => {
      if (!this.ws) return;
      if (Date.now() - this._lastFrameAt > every * 2 + 5000) {
        this.ws.close(4000, 'heartbeat timeout');
        return;
      }
      this.request('ping', {}, { timeoutMs: every, allowSyncing: true }).catch(() => {});
    }, every);
  }

  _stopHeartbeat() {
    clearInterval(this._heartbeat);
    this._heartbeat = null;
  }

  _failPending(code) {
    for (const [, p] of this._pending) {
      clearTimeout(p.timer);
      p.reject(new ParleyError(0, code, 'The connection was lost'));
    }
    this._pending.clear();
  }

  /**
   * Send a request with a `ref` and wait for its reply (`ack`, `pong`,
   * `sync.done`); rejects with ParleyError on `error`, timeout, or when not
   * connected.
   */
  request(type, fields = {}, opts = {}) {
    const ready = this.state === 'connected' || (opts.allowSyncing && this.state === 'syncing');
    if (!this.ws || !ready || this.ws.readyState !== 1) {
      return Promise.reject(new ParleyError(0, 'disconnected', 'Not connected'));
    }
    this._refCounter += 1;
    const ref = `r${this._refCounter}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(ref);
        reject(new ParleyError(0, 'timeout', `No reply to ${type}`));
      }, opts.timeoutMs || this.requestTimeoutMs);
      this._pending.set(ref, { resolve, reject, timer });
      try {
        this.ws.send(JSON.stringify({ type, ref, ...fields }));
      } catch (e) {
        clearTimeout(timer);
        this._pending.delete(ref);
        reject(new ParleyError(0, 'disconnected', String(e)));
      }
    });
  }

  /** Fire-and-forget frame (no ref, no reply). Returns false when not connected. */
  send(type, fields = {}) {
    if (!this.ws || this.ws.readyState !== 1 || (this.state !== 'connected' && this.state !== 'syncing')) return false;
    this.ws.send(JSON.stringify({ type, ...fields }));
    return true;
  }

  // ---- Convenience wrappers ------------------------------------------

  sendMessage(conversationId, { clientId, text, replyTo, attachments }) {
    const f = { conversation_id: conversationId, client_id: clientId };
    if (text !== undefined) f.text = text;
    if (replyTo) f.reply_to = replyTo;
    if (attachments && attachments.length) f.attachments = attachments;
    return this.request('message.send', f).then((ack) => ack.message);
  }

  markDelivered(conversationId, seq) { return this.request('message.delivered', { conversation_id: conversationId, seq }); }
  markRead(conversationId, seq) { return this.request('message.read', { conversation_id: conversationId, seq }); }
  typingStart(conversationId) { return this.request('typing.start', { conversation_id: conversationId }); }
  typingStop(conversationId) { return this.request('typing.stop', { conversation_id: conversationId }); }
  setPresence(state) { return this.request('presence.set', { state }); }
}
