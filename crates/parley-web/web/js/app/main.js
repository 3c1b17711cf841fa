// Parley web client: boot (resume a stored session or show sign in),
// and one session at a time.
import { ParleyClient } from '../parley/index.js';
import { createStore } from '../store/index.js';
import { h, icon } from '../util/dom.js';
import { renderAuth } from '../features/auth/auth.js';
import { createSession } from './session.js';

const EXPIRED = 'Your session has expired. Please sign in again.';
const root = document.getElementById('app');
const store = createStore();
let session = null;

const api = new ParleyClient({
  onSessionExpired: () => { if (session) endSession(EXPIRED); },
});

function showAuth(message) {
  document.title = 'Parley';
  renderAuth(root, {
    onSignIn: async (u, p) => { const me = await api.login(u, p); await startSession(me); },
    onSignUp: async (u, d, p) => { const me = await api.register(u, p, d); await startSession(me); },
  });
  if (message) {
    const alert = root.querySelector('[role="alert"]');
    if (alert) alert.textContent = message;
  }
}

function endSession(message, { clearOutbox = false } = {}) {
  if (!session) return;
  const s = session;
  session = null;
  s.stop({ clearOutbox });
  showAuth(message);
}

async function signOut() {
  if (!session) return;
  endSession(null, { clearOutbox: true });
  await api.logout();
}

async function startSession(me) {
  // The role (user, agent, admin) is on GET /users/me.
  if (me && me.role === undefined) me = await api.me().catch(() => me);
  session = createSession({ api, store, root, signOut, expired: () => endSession(EXPIRED) }, me);
  await session.start();
}

function bootScreen(...children) {
  root.replaceChildren(h('div', { class: 'boot' }, h('span', { class: 'brand-mark big' }, icon('chat')), ...children));
}

async function boot() {
  if (!api.hasSession()) { showAuth(); return; }
  bootScreen(h('p', null, 'Loading Parley…'));
  let delay = 1000;
  for (;;) {
    try {
      const me = await api.me();
      await startSession(me);
      return;
    } catch (e) {
      if (!api.hasSession() || e.status === 401) { showAuth(); return; }
      // Server unreachable: keep trying (the refresh token stays stored).
      bootScreen(h('p', { role: 'status' }, 'Offline'), h('p', { class: 'boot-hint' }, 'Cannot reach the server; retrying…'));
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30000);
    }
  }
}

boot();
