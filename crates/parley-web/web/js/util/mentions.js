// The mentions in a message's text as highlighted spans: only the
// `@username`s the server listed in the message's `mentions` (members it
// found), never anything else that starts with "@".

import { h } from './dom.js';

const HANDLE = /(^|[^a-z0-9_.@])@([a-z0-9_.]{3,32})/gi;

/** `nodes` (strings and elements, as linkify makes them) with the mentions of `usernames` wrapped. */
export function withMentions(nodes, usernames) {
  if (!usernames.size) return nodes;
  const out = [];
  for (const node of nodes) {
    if (typeof node !== 'string') { out.push(node); continue; }
    let last = 0;
    for (const m of node.matchAll(HANDLE)) {
      let name = m[2].toLowerCase();
      if (!usernames.has(name)) name = name.replace(/\.+$/, '');
      if (!usernames.has(name)) continue;
      const at = m.index + m[1].length;
      if (at > last) out.push(node.slice(last, at));
      out.push(h('span', { class: 'mention' }, node.slice(at, at + 1 + name.length)));
      last = at + 1 + name.length;
    }
    if (last < node.length) out.push(node.slice(last));
  }
  return out;
}
