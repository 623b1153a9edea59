/**
 * Encryption at rest for what the edge keeps on disk about patients: spooled and quarantined DICOM
 * files, overlay images and outbox payloads. AES-256-GCM, a fresh 96-bit nonce per file or record:
 *
 *   "VGE1" | key id (8 bytes: SHA-256 of the key, truncated) | nonce (12) | ciphertext | tag (16)
 *
 * The key id says which key wrote a record, so after a rotation new writes use the new key while
 * older records stay readable with the retired one until they are gone (`vigil-edge at-rest status`).
 * Data without the magic was written before encryption was turned on and is read as it is.
 * Node's crypto does the work; the format is ours because it must stream (DICOM arrives in chunks).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { VigilError } from '@vigil/shared';

const MAGIC = Buffer.from('VGE1');
const ID_BYTES = 8;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const SEALED_HEADER_BYTES = MAGIC.length + ID_BYTES + NONCE_BYTES;

/** Where keys come from: a file today; a KMS or TPM implements the same interface. */
export interface AtRestKeyProvider {
  /** The key new data is written with (32 bytes), and retired keys that older data may need. */
  keys(): { current: Buffer; retired: Buffer[] };
}

export const keyIdOf = (key: Buffer): string => createHash('sha256').update(key).digest().subarray(0, ID_BYTES).toString('hex');

/** The key id a sealed buffer (or a file's first bytes) names; undefined for plaintext. */
export function sealedKeyId(head: Buffer): string | undefined {
  if (head.length < MAGIC.length + ID_BYTES || !head.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  return head.subarray(MAGIC.length, MAGIC.length + ID_BYTES).toString('hex');
}

/** The key id a file's header names; undefined for a plaintext file. */
export async function sealedFileKeyId(path: string): Promise<string | undefined> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(SEALED_HEADER_BYTES);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return sealedKeyId(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

export interface AtRest {
  readonly enabled: boolean;
  /** Key ids this edge can read, the current one first. */
  readonly keyIds: readonly string[];
  seal(plain: Buffer, aad?: string): Buffer;
  /** The plaintext; VIGIL_AT_REST_DATA_INVALID when tampered, truncated or written with a key this edge lacks. */
  open(data: Buffer, aad?: string): Buffer;
  /** A transform that seals a stream (header first, tag last). */
  sealingStream(): Transform;
  /** Key material for another thread (decode workers); never written anywhere. */
  transferable(): string[];
}

/** Encryption off: everything passes through (the default for a demo; production configs turn it on). */
export const PLAINTEXT: AtRest = {
  enabled: false,
  keyIds: [],
  seal: (plain) => plain,
  open: (data) => {
    if (sealedKeyId(data))
      throw new VigilError('VIGIL_AT_REST_KEY_INVALID', 'encrypted data found, but storage.encryption is off');
    return data;
  },
  sealingStream: () => new Transform({ transform: (chunk, _enc, next) => next(null, chunk) }),
  transferable: () => [],
};

export class AtRestCipher implements AtRest {
  readonly enabled = true;
  private readonly byId = new Map<string, Buffer>();
  private readonly currentId: string;

  constructor(
    private readonly current: Buffer,
    retired: readonly Buffer[] = [],
  ) {
    for (const key of [current, ...retired]) {
      if (key.length !== 32) throw new VigilError('VIGIL_AT_REST_KEY_INVALID', 'at-rest keys are 32 bytes (AES-256)');
      this.byId.set(keyIdOf(key), key);
    }
    this.currentId = keyIdOf(current);
  }

  static fromTransferable(keys: readonly string[]): AtRest {
    if (keys.length === 0) return PLAINTEXT;
    const [current, ...retired] = keys.map((k) => Buffer.from(k, 'base64'));
    return new AtRestCipher(current as Buffer, retired);
  }

  get keyIds(): string[] {
    return [...this.byId.keys()];
  }

  transferable(): string[] {
    return [...this.byId.values()].map((k) => k.toString('base64'));
  }

  private header(nonce: Buffer): Buffer {
    return Buffer.concat([MAGIC, Buffer.from(this.currentId, 'hex'), nonce]);
  }

  seal(plain: Buffer, aad?: string): Buffer {
    const nonce = randomBytes(NONCE_BYTES);
    const header = this.header(nonce);
    const cipher = createCipheriv('aes-256-gcm', this.current, nonce);
    cipher.setAAD(aad ? Buffer.concat([header, Buffer.from(aad)]) : header);
    return Buffer.concat([header, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  }

  open(data: Buffer, aad?: string): Buffer {
    const id = sealedKeyId(data);
    if (id === undefined) return data;
    const key = this.byId.get(id);
    if (!key) {
      throw new VigilError(
        'VIGIL_AT_REST_DATA_INVALID',
        `written with key ${id}, which is neither the current nor a retired key`,
      );
    }
    if (data.length < SEALED_HEADER_BYTES + TAG_BYTES)
      throw new VigilError('VIGIL_AT_REST_DATA_INVALID', 'encrypted record truncated');
    const header = data.subarray(0, SEALED_HEADER_BYTES);
    const nonce = header.subarray(MAGIC.length + ID_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(aad ? Buffer.concat([header, Buffer.from(aad)]) : header);
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(data.subarray(SEALED_HEADER_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new VigilError('VIGIL_AT_REST_DATA_INVALID', 'encrypted record fails authentication (tampered or truncated)');
    }
  }

  sealingStream(): Transform {
    const nonce = randomBytes(NONCE_BYTES);
    const header = this.header(nonce);
    const cipher = createCipheriv('aes-256-gcm', this.current, nonce);
    cipher.setAAD(header);
    let started = false;
    return new Transform({
      transform(chunk: Buffer, _enc, next: TransformCallback) {
        const out = cipher.update(chunk);
        if (!started) {
          started = true;
          next(null, Buffer.concat([header, out]));
          return;
        }
        next(null, out);
      },
      flush(next: TransformCallback) {
        next(null, Buffer.concat([started ? Buffer.alloc(0) : header, cipher.final(), cipher.getAuthTag()]));
      },
    });
  }
}
