// Signed media URLs (GET /media/{id}/signed) for <img>, <video>, <audio>
// and download links, which cannot send the Authorization header. They
// expire (10 minutes), so one is fetched when an element first needs it,
// shared by every element showing the same media while it is fresh, and
// fetched again when an element fails to load with it (the URL may have
// expired while the page sat open).

/** How long before its expiry a URL is no longer handed out. */
const MARGIN_MS = 30000;

export function createSignedUrls(api) {
  const cache = new Map(); // media id -> {promise, expiresAt (0 while in flight)}

  function fetchNew(id) {
    const entry = { expiresAt: 0, promise: null };
    entry.promise = api.signedMedia(id).then((signed) => {
      entry.expiresAt = Date.parse(signed.expires_at) || Date.now() + 60000;
      return signed;
    }, (e) => {
      if (cache.get(id) === entry) cache.delete(id);
      throw e;
    });
    cache.set(id, entry);
    return entry.promise;
  }

  /** Whether a URL fetched for `id` can still be used as it is. */
  function isFresh(id) {
    const c = cache.get(id);
    return !!c && c.expiresAt - MARGIN_MS > Date.now();
  }

  return {
    isFresh,
    /** {url, thumbnail_url, expires_at}: a cached one while fresh (or in flight). */
    get(id) {
      const c = cache.get(id);
      if (c && (c.expiresAt === 0 || isFresh(id))) return c.promise;
      return fetchNew(id);
    },
    /** A new one, whatever the cache holds (after a load error). */
    refresh: fetchNew,
  };
}
