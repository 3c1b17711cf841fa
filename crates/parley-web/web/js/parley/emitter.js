// Minimal event emitter (no DOM dependency).
export class Emitter {
  constructor() { this._handlers = new Map(); }

  /** Subscribe; returns an unsubscribe function. */
  on(type, fn) {
    if (!this._handlers.has(type)) this._handlers.set(type, new Set());
    this._handlers.get(type).add(fn);
    return () => this.off(type, fn);
  }

  off(type, fn) {
    const set = this._handlers.get(type);
    if (set) set.delete(fn);
  }

  emit(type, payload) {
    for (const key of [type, '*']) {
      const set = this._handlers.get(key);
      if (!set) continue;
      for (const fn of [...set]) {
        try { fn(payload, type); } catch (e) { console.error(`handler for ${type} failed`, e); }
      }
    }
  }
}
