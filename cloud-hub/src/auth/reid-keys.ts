import { createPublicKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generateSigningKey } from '@vigil/shared';

/**
 * The hub's re-identification token key: the configured file, or one made on first start in the data
 * directory (0600), with its public half beside it (`…pub.pem`) for the edges' `reid.hubPublicKeyFile`.
 */
export function reidSigningKey(
  dataDir: string,
  configured: string,
): { privateKeyPem: string; publicKeyPem: string; publicKeyFile: string } {
  const file = configured || join(dataDir, 'reid-signing-key.pem');
  const publicKeyFile = file.replace(/\.pem$/, '') + '.pub.pem';
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    const key = generateSigningKey();
    writeFileSync(file, key.privateKeyPem, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  const privateKeyPem = readFileSync(file, 'utf8');
  const publicKeyPem = createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();
  if (!existsSync(publicKeyFile) || readFileSync(publicKeyFile, 'utf8') !== publicKeyPem)
    writeFileSync(publicKeyFile, publicKeyPem);
  return { privateKeyPem, publicKeyPem, publicKeyFile };
}
