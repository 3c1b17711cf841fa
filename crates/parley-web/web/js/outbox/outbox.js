// Pending sends, persisted in IndexedDB (one record per send, see
// record.js) so that they survive a reload. Each item has a client_id fixed
// at creation; it is resent with the SAME client_id whenever the gateway is
// connected until it is acknowledged (the server makes sends idempotent per
// client_id), one at a time and in order per conversation. An item is
// marked failed only on a definitive error (a 4xx other than rate_limited);
// "Retry" resends it with the same client_id.
//
// An item with attachments not uploaded yet uploads them first (over
// REST, one at a time, each media object written back to the record as it
// arrives, so a reload does not upload it again), then sends.
//
// The items live in memory (what the screens show, at once); every change
// is written through to IndexedDB in order, and then other tabs of the same
// user are told over a BroadcastChannel to reload theirs.

import { Emitter } from '../parley/emitter.js';
import { OutboxDb } from './db.js';
import { newRecord, toStored, bySendOrder } from './record.js';
import { migrateLegacyOutbox, removeLegacyOutbox } from './migrate.js';

export class Outbox extends Emitter {
  /**
   * Opens the outbox of a user: migrates a legacy localStorage outbox,
   * loads the stored items. Emits 'change' whenever the items change, and
   * 'progress' `{clientId, index, loaded, total}` as an attachment uploads
   * (too often for a 'change', which re-renders the screens).
   * @param {object} opts
   * @param {import('../parley/gateway.js').Gateway} opts.gateway
   * @param {import('../parley/api.js').ParleyClient} opts.api uploads attachments
   * @param {(message: object) => void} opts.onSent called with the acked message
   * @param {string} opts.userId the signed-in user (one outbox per user)
   */
  static async open(opts) {
    const outbox = new Outbox(opts);
    await outbox.load();
    return outbox;
  }

  constructor({ gateway, api, onSent, userId }) {
    super();
    this.gateway = gateway;
    this.api = api;
    this.onSent = onSent;
    this.userId = userId;
    this.items = [];
    this.db = null;
    this.channel = null;
    this._writes = Promise.resolve();
    this._inflight = new Set(); // conversation ids with a send in flight
    this._retryTimer = null;
    this._destroyed = false;
    this._loading = null;
  }

  /** Loads the stored items (once); 'change' is emitted when done. */
  load() {
    if (!this._loading) this._loading = this._load();
    return this._loading;
  }

  async _load() {
    try { this.db = await OutboxDb.open(); } catch { this.db = null; /* memory only */ }
    if (this._destroyed) return; // destroy() closes the database
    const migrated = await migrateLegacyOutbox(this.db, this.userId).catch(() => []);
    const stored = this.db ? await this.db.all(this.userId).catch(() => migrated) : migrated;
    this.items = stored.sort(bySendOrder).map((i) => ({ ...i, state: i.state === 'failed' ? 'failed' : 'pending' }));
    if (typeof BroadcastChannel !== 'undefined') {
      this.channel = new BroadcastChannel(`parley.outbox.${this.userId}`);
      this.channel.onmessage = () => this._write(() => this._adoptStored());
    }
    this.emit('change');
  }

  /** Another tab changed the outbox: adopt the stored items (sends are idempotent). */
  async _adoptStored() {
    if (this._destroyed || !this.db) return;
    const theirs = (await this.db.all(this.userId)).sort(bySendOrder);
    const mine = new Map(this.items.map((i) => [i.client_id, i]));
    this.items = theirs.map((i) => mine.get(i.client_id) || { ...i });
    this.emit('change');
    this.pump();
  }

  /** Queues a storage operation after the previous ones. */
  _write(op, announce = false) {
    this._writes = this._writes.then(op).then(() => {
      if (announce && this.channel && !this._destroyed) this.channel.postMessage('changed');
    }).catch(() => { /* storage failed: the item still lives in memory */ });
    return this._writes;
  }

  _store(it) {
    this.emit('change');
    if (this.db) this._write(() => this.db.put(toStored(it)), true);
  }

  _forget(clientId) {
    this.emit('change');
    if (this.db) this._write(() => this.db.delete(clientId), true);
  }

  /** Stops timers and the channel; with `clear`, deletes the user's outbox. */
  async destroy({ clear = false } = {}) {
    this._destroyed = true;
    clearTimeout(this._retryTimer);
    if (this._loading) await this._loading;
    if (clear) {
      this.items = [];
      removeLegacyOutbox(this.userId);
      if (this.db) await this._write(() => this.db.deleteUser(this.userId));
      if (this.channel) this.channel.postMessage('changed');
    }
    if (this.channel) this.channel.close();
    await this._writes;
    if (this.db) this.db.close();
  }

  /** Pending or failed items of a conversation, in creation order. */
  forConversation(cid) {
    return this.items.filter((i) => i.conversation_id === cid);
  }

  get(clientId) { return this.items.find((i) => i.client_id === clientId) || null; }

  /**
   * Queue a new message; returns the item (shown optimistically at once).
   * `attachments`: see record.js (the composer's tray hands them over).
   */
  add(conversationId, text, replyTo, attachments = []) {
    const item = newRecord(this.userId, conversationId, text, replyTo, attachments);
    this.items.push(item);
    this._store(item);
    this.pump();
    return item;
  }

  retry(clientId) {
    const it = this.get(clientId);
    if (!it) return;
    it.state = 'pending';
    it.error = null;
    this._store(it);
    this.pump();
  }

  discard(clientId) {
    this.items = this.items.filter((i) => i.client_id !== clientId);
    this._forget(clientId);
  }

  /** The server has the message (ack or our own echo): forget the item. */
  settle(clientId) {
    const before = this.items.length;
    this.items = this.items.filter((i) => i.client_id !== clientId);
    if (this.items.length !== before) this._forget(clientId);
  }

  /** Send what can be sent now: the first pending item per conversation. */
  pump() {
    if (this._destroyed || !this.gateway.connected) return;
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
      const attachments = await this._uploaded(it);
      if (attachments) {
        const msg = await this.gateway.sendMessage(cid, {
          clientId: it.client_id, text: it.text || undefined, replyTo: it.reply_to, attachments,
        });
        this.settle(it.client_id);
        this.onSent(msg);
      }
    } catch (e) {
      progressed = this._failed(it, e);
    } finally {
      this._inflight.delete(cid);
    }
    this.emit('change');
    if (progressed && this.gateway.connected) this.pump();
  }

  /**
   * The media ids of an item's attachments, uploading what is not yet
   * (waiting first for an upload the composer started). Null when the
   * item was discarded meanwhile. Rejects with the upload's ParleyError.
   */
  async _uploaded(it) {
    const list = it.attachments || [];
    for (const [index, a] of list.entries()) {
      if (a.media) continue;
      const onProgress = (loaded, total) => this.emit('progress', { clientId: it.client_id, index, loaded, total });
      if (a.follow) a.follow(onProgress);
      let media = a.upload ? await a.upload : null;
      a.upload = null;
      a.follow = null;
      if (!media) {
        try { media = await this.api.uploadMedia(a.file, { onProgress }); } catch (e) { e.upload = true; throw e; }
      }
      if (!this.get(it.client_id)) return null;
      a.media = media;
      a.file = null;
      this._store(it);
    }
    return list.map((a) => a.media.id);
  }

  /** A send failed: keep it pending (transient) or mark it failed. Returns whether to go on. */
  _failed(it, e) {
    if (!this.get(it.client_id)) return true; // settled meanwhile by the echo
    if (e.code === 'rate_limited') {
      it.state = 'pending';
      this._scheduleRetry((e.details && e.details.retry_after_ms) || 2000);
      return false;
    }
    if (e.transient === false) {
      it.state = 'failed';
      it.error = e.message || e.code;
      this._store(it);
      return true;
    }
    it.state = 'pending'; // disconnected / timeout: resent on reconnect
    if (e.code === 'timeout') this._scheduleRetry(1000);
    // An upload can fail while the gateway stays connected (no reconnect
    // would pump again): try again in a while.
    else if (e.upload) this._scheduleRetry(3000);
    return false;
  }

  _scheduleRetry(ms) {
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => this.pump(), ms);
  }
}
