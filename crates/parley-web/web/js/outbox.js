// Pending sends, persisted in localStorage so that they survive a reload.
// Each item has a client_id fixed at creation (crypto.randomUUID()); it is
// resent with the SAME client_id whenever the gateway is connected until it
// is acknowledged (the server makes sends idempotent per client_id), one at
// a time and in order per conversation. An item is marked failed only on a
// definitive error (a 4xx other than rate_limited); "Retry" resends it with
// the same client_id.

import { Emitter } from './parley/emitter.js';

const KEY_PREFIX = 'parley.outbox.';

function newClientId() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export class Outbox extends Emitter {
  /**
   * @param {object} opts
   * @param {import('./parley/gateway.js').Gateway} opts.gateway
   * @param {(message: object) => void} opts.onSent called with the acked message
   * @param {string} opts.userId the signed-in user (one outbox per user)
   */
  constructor({ gateway, onSent, userId }) {
    super();
    this.gateway = gateway;
    this.onSent = onSent;
    this.key = KEY_PREFIX + userId;
    this.items = this._load();
    this._inflight = new Set(); // conversation ids with a send in flight
    this._retryTimer = null;
    for (const it of this.items) if (it.state === 'sending') it.state = 'pending';
    this._onStorage = (e) => {
      if (e.key !== this.key) return;
      // Another tab changed the outbox: adopt its view (sends are idempotent).
      const theirs = this._load();
      const mine = new Map(this.items.map((i) => [i.client_id, i]));
      this.items = theirs.map((i) => mine.get(i.client_id) || i);
      this.emit('change');
      this.pump();
    };
    if (typeof window !== 'undefined') window.addEventListener('storage', this._onStorage);
  }

  destroy() {
    clearTimeout(this._retryTimer);
    if (typeof window !== 'undefined') window.removeEventListener('storage', this._onStorage);
  }

  _load() {
    try {
      const raw = localStorage.getItem(this.key);
      const v = raw ? JSON.parse(raw) : [];
      return Array.isArray(v) ? v : [];
    } catch { return []; }
  }

  _save() {
    try {
      localStorage.setItem(this.key, JSON.stringify(this.items.map((i) => ({
        client_id: i.client_id, conversation_id: i.conversation_id, text: i.text, reply_to: i.reply_to || null,
        created_at: i.created_at, state: i.state === 'failed' ? 'failed' : 'pending', error: i.error || null,
      }))));
    } catch { /* storage full: items still live in memory */ }
    this.emit('change');
  }

  /** Pending or failed items of a conversation, in creation order. */
  forConversation(cid) {
    return this.items.filter((i) => i.conversation_id === cid);
  }

  get(clientId) { return this.items.find((i) => i.client_id === clientId) || null; }

  /** Queue a new message; returns the item (shown optimistically at once). */
  add(conversationId, text, replyTo) {
    const item = {
      client_id: newClientId(),
      conversation_id: conversationId,
      text,
      reply_to: replyTo || null,
      created_at: new Date().toISOString(),
      state: 'pending',
      error: null,
    };
    this.items.push(item);
    this._save();
    this.pump();
    return item;
  }

  retry(clientId) {
    const it = this.get(clientId);
    if (!it) return;
    it.state = 'pending';
    it.error = null;
    this._save();
    this.pump();
  }

  discard(clientId) {
    this.items = this.items.filter((i) => i.client_id !== clientId);
    this._save();
  }

  /** The server has the message (ack or our own echo): forget the item. */
  settle(clientId) {
    const before = this.items.length;
    this.items = this.items.filter((i) => i.client_id !== clientId);
    if (this.items.length !== before) this._save();
  }

  /** Send what can be sent now: the first pending item per conversation. */
  pump() {
    if (!this.gateway.connected) return;
    const firstPerConv = new Map();
    for (const it of this.items) {
      if (it.state === 'failed') continue;
      if (!firstPerConv.has(it.conversation_id)) firstPerConv.set(it.conversation_id, it);
    }
    for (const [cid, it] of firstPerConv) {
      if (this._inflight.has(cid)) continue;
      this._send(it);
    }
  }

  async _send(it) {
    const cid = it.conversation_id;
    this._inflight.add(cid);
    it.state = 'sending';
    // Whether to go on with the next item now. Not after a transient
    // failure: pumping again at once would spin (the socket is going away);
    // the next 'connected' state or the retry timer pumps instead.
    let progressed = true;
    try {
      const msg = await this.gateway.sendMessage(cid, { clientId: it.client_id, text: it.text, replyTo: it.reply_to });
      this.settle(it.client_id);
      this.onSent(msg);
    } catch (e) {
      if (!this.get(it.client_id)) { /* settled meanwhile by the echo */ } else if (e.code === 'rate_limited') {
        progressed = false;
        it.state = 'pending';
        this._scheduleRetry((e.details && e.details.retry_after_ms) || 2000);
      } else if (e.transient === false) {
        it.state = 'failed';
        it.error = e.message || e.code;
        this._save();
      } else {
        progressed = false;
        it.state = 'pending'; // disconnected / timeout: resent on reconnect
        if (e.code === 'timeout') this._scheduleRetry(1000);
      }
    } finally {
      this._inflight.delete(cid);
    }
    this.emit('change');
    if (progressed && this.gateway.connected) this.pump();
  }

  _scheduleRetry(ms) {
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => this.pump(), ms);
  }
}
