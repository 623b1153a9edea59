import { createHash, randomBytes } from 'node:crypto';

/** A bearer secret (session id, API token secret, recovery code) and the only form that is stored. */
export function newSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** SHA-256 suffices for high-entropy secrets (unlike passwords, they cannot be guessed). */
export function secretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Ten one-time recovery codes like `k3q9-xm2p-7d4w`, for a lost authenticator. */
export function newRecoveryCodes(count = 10): string[] {
  // Crockford's base32: 32 symbols (no i, l, o, u), so `byte & 31` is unbiased.
  const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';
  return Array.from({ length: count }, () => {
    const bytes = randomBytes(12);
    const chars = [...bytes].map((b) => alphabet[b & 31]).join('');
    return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8, 12)}`;
  });
}

export function normaliseRecoveryCode(code: string): string {
  return code.trim().toLowerCase().replaceAll(/\s+/g, '');
}
