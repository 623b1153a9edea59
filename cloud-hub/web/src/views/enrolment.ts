import type { RecoveryCodes, TotpEnrolment } from '../../../src/api/api-types.js';
import { api } from '../api.js';
import { clear, el } from '../dom.js';

/** First login: scan the QR code, confirm a code, keep the recovery codes. */
export function renderEnrolment(root: HTMLElement, onDone: () => void): void {
  const qr = el('div', { class: 'qr', role: 'img', 'aria-label': 'QR code for your authenticator app' });
  const secret = el('code', { class: 'secret' });
  const code = el('input', {
    id: 'confirm-code',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    pattern: '[0-9]{6}',
    required: true,
  });
  const error = el('p', { class: 'form-error', role: 'alert' });
  const form = el(
    'form',
    { class: 'card login-card' },
    el('h1', {}, 'Set up two-factor sign-in'),
    el(
      'p',
      { class: 'muted' },
      'Scan the code with an authenticator app (or type the secret), then enter the 6-digit code it shows.',
    ),
    qr,
    el('p', {}, 'Secret: ', secret),
    el('label', { for: 'confirm-code' }, 'Code from the app'),
    code,
    error,
    el('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Confirm'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const { recoveryCodes } = await api<RecoveryCodes>('POST', '/auth/totp/confirm', { totp: code.value.trim() });
      clear(
        root,
        el(
          'div',
          { class: 'login-page' },
          el(
            'div',
            { class: 'card login-card' },
            el('h1', {}, 'Keep your recovery codes'),
            el('p', { class: 'muted' }, 'Each code signs you in once if you lose your authenticator. They are not shown again.'),
            el('ul', { class: 'codes' }, ...recoveryCodes.map((c) => el('li', {}, el('code', {}, c)))),
            el('button', { type: 'button', class: 'btn btn-primary btn-block', onclick: onDone }, 'Continue'),
          ),
        ),
      );
    } catch {
      error.textContent = 'That code does not match. Check the time on your phone and try again.';
    }
  });
  clear(root, el('div', { class: 'login-page' }, form));
  void api<TotpEnrolment>('POST', '/auth/totp/enrolment').then((e) => {
    secret.textContent = e.secret;
    // The SVG comes from our own server (qrcode library), not from user input.
    const doc = new DOMParser().parseFromString(e.qrSvg, 'image/svg+xml');
    qr.replaceChildren(doc.documentElement);
    code.focus();
  });
}
