// Message text with its links made clickable. A link is what protocol.md
// §10 calls one (the server lists the same in GET .../links): a run of
// non-white-space characters from `http://` or `https://`, minus trailing
// .,:;!?'" and a trailing `)` without a matching `(`. Everything else stays
// a text node; only http(s) URLs ever become an href.
import { h } from './dom.js';

const TRAILING = new Set(['.', ',', ':', ';', '!', '?', "'", '"']);

function count(s, c) { let n = 0; for (const x of s) if (x === c) n++; return n; }

function trimLink(url) {
  for (;;) {
    const before = url.length;
    while (url.length && TRAILING.has(url[url.length - 1])) url = url.slice(0, -1);
    if (url.endsWith(')') && count(url, ')') > count(url, '(')) url = url.slice(0, -1);
    if (url.length === before) return url;
  }
}

function linkStart(word) {
  const a = word.indexOf('http://');
  const b = word.indexOf('https://');
  if (a < 0) return b;
  if (b < 0) return a;
  return Math.min(a, b);
}

/** The children of a message's text: strings and <a> elements. */
export function linkify(text) {
  const out = [];
  let plain = '';
  for (const part of String(text).split(/(\s+)/)) {
    const start = linkStart(part);
    const url = start < 0 ? '' : trimLink(part.slice(start));
    if (!url || url === 'http://' || url === 'https://') { plain += part; continue; }
    plain += part.slice(0, start);
    if (plain) out.push(plain);
    plain = part.slice(start + url.length);
    out.push(h('a', { href: url, target: '_blank', rel: 'noopener noreferrer nofollow', class: 'message-link' }, url));
  }
  if (plain) out.push(plain);
  return out;
}
