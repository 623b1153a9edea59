import { ApiError, api, type Me } from '../api.js';
import { clear, el } from '../dom.js';

/** Password + TOTP (or a recovery code) login. */
export function renderLogin(root: HTMLElement, onDone: (me: Me) => void): void {
  const error = el('p', { class: 'form-error', role: 'alert' });
  const username = el('input', { id: 'username', name: 'username', autocomplete: 'username', required: true });
  const password = el('input', {
    id: 'password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const totp = el('input', {
    id: 'totp',
    name: 'totp',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    pattern: '[0-9]{6}|[0-9a-zA-Z\\-]{12,16}',
    placeholder: '6-digit code',
  });
  const submit = el('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
  const form = el(
    'form',
    { class: 'card login-card', 'aria-labelledby': 'login-title' },
    el('div', { class: 'brand brand-large' }, el('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'V'), 'Vigil'),
    el('h1', { id: 'login-title' }, 'Sign in'),
    el('p', { class: 'muted' }, 'Breast screening follow-up across the clinic network.'),
    el('label', { for: 'username' }, 'Username'),
    username,
    el('label', { for: 'password' }, 'Password'),
    password,
    el('label', { for: 'totp' }, 'Authenticator code', el('span', { class: 'hint' }, ' (or a recovery code)')),
    totp,
    error,
    submit,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.setAttribute('disabled', '');
    error.textContent = '';
    const code = totp.value.trim();
    try {
      const me = await api<Me>('POST', '/auth/login', {
        username: username.value.trim(),
        password: password.value,
        ...(/^\d{6}$/.test(code) ? { totp: code } : code ? { recoveryCode: code } : {}),
      });
      onDone(me);
    } catch (e) {
      error.textContent =
        e instanceof ApiError && e.code === 'VIGIL_AUTH_LOCKED' ? e.message : 'Wrong username, password or code.';
      submit.removeAttribute('disabled');
    }
  });
  clear(root, el('div', { class: 'login-page' }, form));
  username.focus();
}
