// A small promise wrapper over IndexedDB for the outbox: database
// "parley", object store "outbox" keyed by client_id, index "by_user".
// Records are structured-cloned, so a later record can hold a Blob.

const DB_NAME = 'parley';
const STORE = 'outbox';

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function upgrade(db) {
  if (db.objectStoreNames.contains(STORE)) return;
  const os = db.createObjectStore(STORE, { keyPath: 'client_id' });
  os.createIndex('by_user', 'user_id');
}

export class OutboxDb {
  /** Opens (creating or upgrading) the database; rejects without IndexedDB. */
  static async open() {
    if (!globalThis.indexedDB) throw new Error('IndexedDB is not available');
    let db = await OutboxDb._open(); // the current version (1 when new)
    if (!db.objectStoreNames.contains(STORE)) {
      // The database exists without the store (made by something else):
      // one version up creates it.
      const version = db.version + 1;
      db.close();
      db = await OutboxDb._open(version);
    }
    // A newer version in another tab: let it upgrade (this tab keeps its
    // items in memory until it reloads).
    db.onversionchange = () => db.close();
    return new OutboxDb(db);
  }

  static _open(version) {
    const r = version ? indexedDB.open(DB_NAME, version) : indexedDB.open(DB_NAME);
    r.onupgradeneeded = () => upgrade(r.result);
    return request(r);
  }

  constructor(db) { this.db = db; }

  close() { this.db.close(); }

  /** Runs `fn(objectStore)` in one transaction; resolves once it committed. */
  _tx(mode, fn) {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction(STORE, mode);
      let result;
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
      result = fn(tx.objectStore(STORE));
    });
  }

  /** Every record of a user. */
  async all(userId) {
    let out = [];
    await this._tx('readonly', (os) => {
      const r = os.index('by_user').getAll(userId);
      r.onsuccess = () => { out = r.result; };
    });
    return out;
  }

  put(record) { return this._tx('readwrite', (os) => { os.put(record); }); }

  delete(clientId) { return this._tx('readwrite', (os) => { os.delete(clientId); }); }

  /** Adds the records not stored yet (by client_id), in one transaction. */
  putMissing(records) {
    return this._tx('readwrite', (os) => {
      for (const rec of records) {
        const r = os.get(rec.client_id);
        r.onsuccess = () => { if (!r.result) os.put(rec); };
      }
    });
  }

  /** Removes every record of a user. */
  deleteUser(userId) {
    return this._tx('readwrite', (os) => {
      const r = os.index('by_user').openKeyCursor(IDBKeyRange.only(userId));
      r.onsuccess = () => {
        const cursor = r.result;
        if (!cursor) return;
        os.delete(cursor.primaryKey);
        cursor.continue();
      };
    });
  }
}
