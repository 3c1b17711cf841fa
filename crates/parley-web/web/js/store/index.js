// The client-side state: one slice per feature, combined here. Views
// subscribe with store.subscribe(fn); fn receives a Set of dirty keys,
// batched per microtask:
//   "list"            conversation list (order, previews, badges)
//   "conv:<id>"       a conversation's messages, statuses, members, header
//   "typing"          someone started/stopped typing somewhere
//   "users"           presence or profile changes
//   "connection"      connection state
//   "outbox"          pending sends changed
//   "chats"           a chat was pinned, unpinned, archived or unarchived
//   "starred"         a message was starred or unstarred
// Each slice keeps its own state and adds its readers and appliers to the
// store (so `store.conversation(id)`, `store.statusOf(m)`, ...); a slice's
// `events` are the appliers of the conversation events it owns.

import { Emitter } from '../parley/emitter.js';
import { createUsers } from './users.js';
import { createConversations } from './conversations.js';
import { createMembers } from './members.js';
import { createMessages } from './messages.js';
import { createReceipts } from './receipts.js';
import { createTyping } from './typing.js';
import { createOutboxView } from './outbox.js';
import { createDrafts } from './drafts.js';
import { createChatStates } from './chat-states.js';
import { createMarks } from './marks.js';

const SLICES = [createUsers, createConversations, createMembers, createMessages, createReceipts, createTyping, createOutboxView, createDrafts, createChatStates, createMarks];

export function createStore() {
  const store = new Emitter();
  let dirty = new Set();
  let scheduled = false;

  store.subscribe = (fn) => store.on('change', fn);
  store.touch = (...topics) => {
    for (const t of topics) dirty.add(t);
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      const batch = dirty;
      dirty = new Set();
      store.emit('change', batch);
    });
  };

  const slices = SLICES.map((create) => create(store));
  const appliers = Object.assign({}, ...slices.map((s) => s.events || {}));
  for (const s of slices) Object.assign(store, s.api);

  store.reset = () => {
    for (const s of slices) s.reset();
    store.openConversationId = null;
    store.connection = 'connecting';
    dirty = new Set();
    scheduled = false;
  };

  store.setConnection = (state) => {
    if (store.connection === state) return;
    store.connection = state;
    // Presence shown anywhere depends on the connection (users.presenceOf).
    store.touch('connection', 'users', 'list');
  };

  /**
   * Apply a conversation event (deduplicated by (conversation_id, seq)).
   * Returns 'applied' | 'duplicate' | 'gap' | 'unknown'.
   */
  store.applyEvent = (ev) => {
    const verdict = store.advance(ev.conversation_id, ev.seq);
    if (verdict !== 'applied') return verdict;
    const apply = appliers[ev.type];
    if (apply) apply(store.conversation(ev.conversation_id), ev, ev.data || {});
    store.touch('list', `conv:${ev.conversation_id}`);
    return 'applied';
  };

  store.reset();
  return store;
}
