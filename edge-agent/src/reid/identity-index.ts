import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { VigilError } from '@vigil/shared';
import Database from 'better-sqlite3';
import type { DicomIdentity } from '../deid/dicom-identity.js';

/** A patient as the clinic knows them: what a clinician needs to act on an alert. */
export interface PatientIdentity {
  patientName: string;
  patientId: string;
  issuerOfPatientId: string;
  birthDate: string;
  patientSex: string;
  studies: { studyKey: string; accessionNumber: string; studyDate: string }[];
}

/** Where the index key comes from (a file today; a KMS or TPM can implement this later). */
export interface KeyProvider {
  /** 32 bytes for AES-256-GCM. */
  key(): Buffer;
}

/** The key in a file (0600), created with 32 random bytes when asked to and absent. */
export function fileKeyProvider(path: string, create: boolean): KeyProvider {
  if (!existsSync(path)) {
    if (!create) throw new VigilError('VIGIL_CONFIG_INVALID', `reid.keyFile ${path} does not exist`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600 });
    chmodSync(path, 0o600);
  }
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new VigilError('VIGIL_CONFIG_INVALID', `reid.keyFile ${path} must hold 32 bytes, base64`);
  return { key: () => key };
}

/**
 * The index key's default place: beside the data directory, not in it (`{dataDir}-keys/reid.key`,
 * 0700), so a copy of the data directory (a backup, a stolen disk image of it) does not carry the
 * key that opens it. A key left at the old default, `{dataDir}/reid.key`, is moved there once.
 */
export function defaultReidKeyFile(dataDir: string, log?: (message: string) => void): string {
  const dir = `${dataDir.replace(/\/+$/, '')}-keys`;
  const path = join(dir, 'reid.key');
  const legacy = join(dataDir, 'reid.key');
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    if (existsSync(legacy)) {
      renameSync(legacy, path);
      log?.(`moved the identity index key out of the data directory to ${path}`);
    }
  }
  return path;
}

const CHECK = 'vigil-reid-index-key-check';

/**
 * The clinic's own index from pseudonym to patient: filled as images are analysed, read only by the
 * edge's re-identification endpoint. Each patient's identity is a row encrypted with AES-256-GCM
 * (a fresh nonce per write, the pseudonym as associated data), so the file alone reveals nobody; a
 * wrong key is refused at start (VIGIL_REID_KEY_INVALID), not discovered on the first lookup.
 */
export class IdentityIndex {
  private readonly db: Database.Database;
  private readonly key: Buffer;

  constructor(path: string, keys: KeyProvider) {
    mkdirSync(dirname(path), { recursive: true });
    this.key = keys.key();
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS identities (patient_key TEXT PRIMARY KEY, sealed BLOB NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS key_check (id INTEGER PRIMARY KEY CHECK (id = 1), sealed BLOB NOT NULL);
    `);
    const check = this.db.prepare('SELECT sealed FROM key_check WHERE id = 1').get() as { sealed: Buffer } | undefined;
    if (!check) this.db.prepare('INSERT INTO key_check (id, sealed) VALUES (1, ?)').run(this.seal(CHECK, 'check'));
    else {
      try {
        if (this.open(check.sealed, 'check') !== CHECK) throw new Error('mismatch');
      } catch {
        this.db.close();
        throw new VigilError('VIGIL_REID_KEY_INVALID', `the re-identification key does not open ${path}`);
      }
    }
  }

  private seal(plain: string, aad: string): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  private open(sealed: Buffer, aad: string): string {
    const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(0, 12));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(sealed.subarray(12, 28));
    return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString('utf8');
  }

  /** Adds (or updates) a patient's identity and the study an image of theirs came from. */
  record(patientKey: string, studyKey: string, identity: DicomIdentity): void {
    this.db.transaction(() => {
      const row = this.db.prepare('SELECT sealed FROM identities WHERE patient_key = ?').get(patientKey) as
        | { sealed: Buffer }
        | undefined;
      const known: PatientIdentity | undefined = row
        ? (JSON.parse(this.open(row.sealed, patientKey)) as PatientIdentity)
        : undefined;
      const studies = known?.studies.filter((s) => s.studyKey !== studyKey) ?? [];
      studies.push({ studyKey, accessionNumber: identity.accessionNumber, studyDate: identity.studyDate });
      const next: PatientIdentity = {
        patientName: identity.patientName || known?.patientName || '',
        patientId: identity.patientId,
        issuerOfPatientId: identity.issuerOfPatientId,
        birthDate: identity.birthDate || known?.birthDate || '',
        patientSex: identity.patientSex || known?.patientSex || '',
        studies: studies.slice(-50),
      };
      this.db
        .prepare(
          'INSERT INTO identities (patient_key, sealed, updated_at) VALUES (?, ?, ?) ON CONFLICT (patient_key) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at',
        )
        .run(patientKey, this.seal(JSON.stringify(next), patientKey), new Date().toISOString());
    })();
  }

  /** The identities of the given pseudonyms this clinic knows (others are simply absent). */
  resolve(patientKeys: readonly string[]): Map<string, PatientIdentity> {
    const out = new Map<string, PatientIdentity>();
    const get = this.db.prepare('SELECT sealed FROM identities WHERE patient_key = ?');
    for (const key of patientKeys) {
      const row = get.get(key) as { sealed: Buffer } | undefined;
      if (row) out.set(key, JSON.parse(this.open(row.sealed, key)) as PatientIdentity);
    }
    return out;
  }

  close(): void {
    this.db.close();
  }
}
