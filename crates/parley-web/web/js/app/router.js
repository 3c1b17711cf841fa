// A small hash router. Routes:
//   #/            (or no hash) the conversation list
//   #/c/<id>      a conversation
//   #/support     the agents' support dashboard
//   #/support/<inbox id>  contact support (opens my conversation with that inbox)
// Anything else falls back to the list. Opening a route pushes a history
// entry (so back/forward work); a reload keeps the route.

const ROUTES = [
  { name: 'conversation', pattern: /^#\/c\/([^/]+)$/, params: (m) => ({ cid: decodeURIComponent(m[1]) }) },
  { name: 'support', pattern: /^#\/support\/?$/, params: () => ({}) },
  { name: 'contact', pattern: /^#\/support\/([^/]+)$/, params: (m) => ({ inboxId: decodeURIComponent(m[1]) }) },
  { name: 'list', pattern: /^(#\/?)?$/, params: () => ({}) },
];

/** The route of a location hash: {name, ...params}. */
export function parse(hash) {
  for (const r of ROUTES) {
    const m = r.pattern.exec(hash);
    if (m) return { name: r.name, ...r.params(m) };
  }
  return { name: 'list' };
}

/** The hash of a route. */
export function hrefOf(route) {
  if (route.name === 'support') return '#/support';
  if (route.name === 'contact') return `#/support/${encodeURIComponent(route.inboxId)}`;
  return route.name === 'conversation' ? `#/c/${encodeURIComponent(route.cid)}` : '#/';
}

export function createRouter(onRoute) {
  const changed = () => onRoute(parse(location.hash));
  return {
    current: () => parse(location.hash),
    /** Starts listening; resolves once the current route was shown. */
    start() {
      window.addEventListener('hashchange', changed);
      return onRoute(parse(location.hash));
    },
    stop() { window.removeEventListener('hashchange', changed); },
    /** Goes to a route (a new history entry), or shows it again if current. */
    go(route) {
      const target = hrefOf(route);
      if (location.hash !== target) location.hash = target; else changed();
    },
    /** Replaces the current route (no new history entry). */
    replace(route) {
      const target = hrefOf(route);
      if (location.hash === target) { changed(); return; }
      history.replaceState(null, '', target);
      changed();
    },
    /** Forgets the route without a history entry (signed out). */
    clear() { if (location.hash) history.replaceState(null, '', location.pathname); },
  };
}
