// Sign in / sign up screen.
import { h, uid, icon } from '../../util/dom.js';

function field(label, attrs) {
  const id = uid('f');
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('input', { id, ...attrs }));
}

/**
 * @param {HTMLElement} root
 * @param {{onSignIn: (u: string, p: string) => Promise<void>, onSignUp: (u: string, d: string, p: string) => Promise<void>}} handlers
 */
export function renderAuth(root, handlers, mode = 'signin') {
  const alert = h('p', { class: 'form-error', role: 'alert' });
  const setError = (msg) => { alert.textContent = msg || ''; };

  let form;
  if (mode === 'signin') {
    const user = field('Username', { name: 'username', type: 'text', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true });
    const pass = field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
    form = h('form', { 'aria-label': 'Sign in', class: 'auth-form', novalidate: true },
      h('h2', { class: 'auth-title' }, 'Sign in'),
      user, pass, alert, submit,
      h('p', { class: 'auth-switch' }, 'New to Parley? ',
        h('button', { type: 'button', class: 'btn-link', onclick: () => renderAuth(root, handlers, 'signup') }, 'Create an account')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const u = form.elements.username.value.trim();
      const p = form.elements.password.value;
      if (!u || !p) { setError('Enter your username and password.'); return; }
      setError('');
      submit.disabled = true;
      try { await handlers.onSignIn(u, p); } catch (err) {
        setError(err.code === 'unauthenticated' ? 'Wrong username or password.' : (err.message || 'Sign in failed.'));
        submit.disabled = false;
      }
    });
  } else {
    const user = field('Username', { name: 'username', type: 'text', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true, minlength: 3, maxlength: 32 });
    const disp = field('Display name', { name: 'display_name', type: 'text', autocomplete: 'name', maxlength: 64 });
    const pass = field('Password', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8 });
    const hint = h('p', { class: 'field-hint' }, 'Username: 3–32 letters, digits, “_” or “.”. Password: at least 8 characters.');
    const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign up');
    form = h('form', { 'aria-label': 'Sign up', class: 'auth-form', novalidate: true },
      h('h2', { class: 'auth-title' }, 'Create your account'),
      user, disp, pass, hint, alert, submit,
      h('p', { class: 'auth-switch' }, 'Already registered? ',
        h('button', { type: 'button', class: 'btn-link', onclick: () => renderAuth(root, handlers, 'signin') }, 'I have an account')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const u = form.elements.username.value.trim();
      const d = form.elements.display_name.value.trim();
      const p = form.elements.password.value;
      if (!u || !p) { setError('Choose a username and a password.'); return; }
      setError('');
      submit.disabled = true;
      try { await handlers.onSignUp(u, d, p); } catch (err) {
        setError(err.code === 'conflict' ? 'That username is taken.' : (err.message || 'Sign up failed.'));
        submit.disabled = false;
      }
    });
  }

  const screen = h('div', { class: 'auth-screen' },
    h('div', { class: 'auth-card' },
      h('div', { class: 'auth-brand' }, h('span', { class: 'brand-mark' }, icon('chat')), h('h1', null, 'Parley')),
      form));
  root.replaceChildren(screen);
  const first = form.querySelector('input');
  if (first) first.focus();
}
