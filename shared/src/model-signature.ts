import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { VigilError } from './errors.js';

/** What a model package signature covers: name and version bound to the exact package bytes. */
export interface PackageStatement {
  name: string;
  version: string;
  sha256: string;
  sizeBytes: number;
}

export interface PackageSignature extends PackageStatement {
  keyId: string;
  /** ed25519 signature over `statementBytes(statement)`, base64. */
  signature: string;
}

/**
 * The signed bytes. A fixed, line-based form (not JSON, whose key order and spacing vary) that names
 * its purpose, so a signature made for anything else can never verify as a model package.
 */
export function statementBytes(s: PackageStatement): Buffer {
  return Buffer.from(`vigil-model-package/1\n${s.name}\n${s.version}\n${s.sha256}\n${s.sizeBytes}\n`, 'utf8');
}

/** A key's id: the first 16 hex digits of the SHA-256 of its raw 32-byte public key. */
export function keyIdOf(publicKey: KeyObject): string {
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

export function generateSigningKey(): { privateKeyPem: string; publicKeyPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

export function signPackage(statement: PackageStatement, privateKeyPem: string): PackageSignature {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'ed25519') throw new VigilError('VIGIL_MODEL_SIGNATURE_INVALID', 'signing key is not ed25519');
  return {
    ...statement,
    keyId: keyIdOf(createPublicKey(key)),
    signature: sign(null, statementBytes(statement), key).toString('base64'),
  };
}

/** Trusted public keys by key id (PEM), e.g. from the edge's `model.trustedKeys`. */
export type TrustedKeys = ReadonlyMap<string, string>;

export function trustedKeys(pems: readonly string[]): TrustedKeys {
  const map = new Map<string, string>();
  for (const pem of pems) {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new VigilError('VIGIL_CONFIG_INVALID', 'trusted model keys must be ed25519');
    map.set(keyIdOf(key), pem);
  }
  return map;
}

/** Throws VIGIL_MODEL_SIGNATURE_INVALID unless a trusted key signed exactly this statement. */
export function verifyPackageSignature(
  statement: PackageStatement,
  signature: { keyId: string; signature: string },
  keys: TrustedKeys,
): void {
  const pem = keys.get(signature.keyId);
  if (!pem) {
    throw new VigilError(
      'VIGIL_MODEL_SIGNATURE_INVALID',
      `package is signed with key ${signature.keyId}, which is not trusted here`,
    );
  }
  let ok = false;
  try {
    ok = verify(null, statementBytes(statement), createPublicKey(pem), Buffer.from(signature.signature, 'base64'));
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new VigilError(
      'VIGIL_MODEL_SIGNATURE_INVALID',
      `signature of ${statement.name} ${statement.version} does not verify with key ${signature.keyId}`,
    );
  }
}

/** Public keys (PEM) given inline in a config key plus those in a PEM bundle file named by another. */
export function publicKeyPems(inline: readonly string[], file: string, fileKey: string): string[] {
  const pems = [...inline];
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new VigilError('VIGIL_CONFIG_INVALID', `config key ${fileKey}: ${(error as Error).message}`);
    }
    pems.push(...(text.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? []));
  }
  return pems;
}
