// The tab's icon with the unread count drawn on it (beside the "(3)" in
// the title), as an SVG data URL (the CSP allows data: images).

const BASE = '<rect width="32" height="32" rx="8" fill="#00785f"/><path fill="#fff" d="M24 6H8a2.7 2.7 0 0 0-2.7 2.7v18.6L10.7 22H24a2.7 2.7 0 0 0 2.7-2.7V8.7A2.7 2.7 0 0 0 24 6zm-2.7 10.7H10.7V14h10.6zm0-4H10.7V10h10.6z"/>';

let shown = null;

function link() {
  let el = document.querySelector('link[rel="icon"]');
  if (!el) {
    el = document.createElement('link');
    el.rel = 'icon';
    document.head.appendChild(el);
  }
  return el;
}

/** Shows `count` unread on the tab's icon (0: the plain icon). */
export function setFaviconBadge(count) {
  const n = Math.max(0, Math.floor(Number(count) || 0));
  if (n === shown) return;
  shown = n;
  const el = link();
  el.dataset.unread = String(n);
  if (!n) { el.type = 'image/svg+xml'; el.href = '/favicon.svg'; return; }
  const label = n > 99 ? '99+' : String(n);
  const size = label.length > 2 ? 11 : 14;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">${BASE}`
    + '<circle cx="23" cy="9" r="9" fill="#e0245e" stroke="#fff" stroke-width="1.5"/>'
    + `<text x="23" y="9" dy="0.35em" text-anchor="middle" font-family="Arial,sans-serif" font-weight="700" font-size="${size}" fill="#fff">${label}</text></svg>`;
  el.type = 'image/svg+xml';
  el.href = `data:image/svg+xml,${encodeURIComponent(svg)}`;
}
