import { VigilError } from '@vigil/shared';
import argon2 from 'argon2';

/** OWASP's argon2id recommendation (m=19 MiB, t=2, p=1) with more memory, since hubs have it. */
const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 65536, timeCost: 3, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_OPTIONS);
}

export function verifyPassword(hash: string, password: string): Promise<boolean> {
  return argon2.verify(hash, password).catch(() => false);
}

/** NIST SP 800-63B: length over composition rules; at least 12 characters, at most 256. */
export function assertPasswordPolicy(password: string, what = 'password'): void {
  if (password.length < 12 || password.length > 256) {
    throw new VigilError('VIGIL_API_INVALID_REQUEST', `${what} must be 12–256 characters long`);
  }
}

/** A hash to verify against when the user does not exist, so timing does not reveal usernames. */
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword('decoy-password-never-valid');
  return decoy;
}
