import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { VigilError } from '@vigil/shared';
import type { AtRestKeyProvider } from './at-rest-cipher.js';

function readKey(path: string, what: string): Buffer {
  let text: string;
  try {
    if ((statSync(path).mode & 0o077) !== 0) {
      throw new VigilError('VIGIL_AT_REST_KEY_INVALID', `${what} ${path} is readable by other users: chmod 600 it`);
    }
    text = readFileSync(path, 'utf8').trim();
  } catch (error) {
    if (error instanceof VigilError) throw error;
    throw new VigilError('VIGIL_AT_REST_KEY_INVALID', `${what} ${path}: ${(error as Error).message}`);
  }
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32) throw new VigilError('VIGIL_AT_REST_KEY_INVALID', `${what} ${path} must hold 32 bytes, base64`);
  return key;
}

/** A new random key file (0600), for `vigil-edge at-rest new-key` and demo setups. */
export function writeNewKeyFile(path: string): void {
  if (existsSync(path)) throw new VigilError('VIGIL_AT_REST_KEY_INVALID', `${path} exists; refusing to overwrite a key`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Keys from files (0600, base64 of 32 bytes): the current one and retired ones still needed to read. */
export function fileAtRestKeys(currentFile: string, retiredFiles: readonly string[] = []): AtRestKeyProvider {
  if (!currentFile) throw new VigilError('VIGIL_AT_REST_KEY_INVALID', 'storage.encryption.keyFile is not set');
  const current = readKey(currentFile, 'storage.encryption.keyFile');
  const retired = retiredFiles.map((f) => readKey(f, 'storage.encryption.retiredKeyFiles'));
  return { keys: () => ({ current, retired }) };
}
