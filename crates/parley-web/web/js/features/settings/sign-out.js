// Signing out: the session ends (this user's outbox cleared) and the
// server forgets the refresh token.
import { h, icon } from '../../util/dom.js';

export function signOutButton(ctx) {
  return h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Sign out', title: 'Sign out', onclick: () => ctx.signOut() }, icon('logout'));
}
