// Row ↔ object for the PKI tables, shared by the SQLite and PostgreSQL adapters.
import type { DeviceCertificate, EnrolmentToken } from '../pki/pki-store.js';

type Row = Record<string, unknown>;

export const TOKEN_COLUMNS = ['token_hash', 'clinic_id', 'device_id', 'created_by', 'created_at', 'expires_at'] as const;
export const CERT_COLUMNS = ['serial', 'device_id', 'clinic_id', 'fingerprint', 'not_before', 'not_after', 'issued_at'] as const;

export const tokenValues = (t: Omit<EnrolmentToken, 'usedAt'>) => [
  t.tokenHash,
  t.clinicId,
  t.deviceId,
  t.createdBy,
  t.createdAt,
  t.expiresAt,
];

export const certValues = (c: Omit<DeviceCertificate, 'revokedAt'>) => [
  c.serial,
  c.deviceId,
  c.clinicId,
  c.fingerprint,
  c.notBefore,
  c.notAfter,
  c.issuedAt,
];

export const toToken = (r: Row): EnrolmentToken => ({
  tokenHash: String(r.token_hash),
  clinicId: String(r.clinic_id),
  deviceId: String(r.device_id),
  createdBy: String(r.created_by),
  createdAt: String(r.created_at),
  expiresAt: String(r.expires_at),
  usedAt: r.used_at == null ? null : String(r.used_at),
});

export const toCertificate = (r: Row): DeviceCertificate => ({
  serial: String(r.serial),
  deviceId: String(r.device_id),
  clinicId: String(r.clinic_id),
  fingerprint: String(r.fingerprint),
  notBefore: String(r.not_before),
  notAfter: String(r.not_after),
  issuedAt: String(r.issued_at),
  revokedAt: r.revoked_at == null ? null : String(r.revoked_at),
});

/** Why a token cannot be used (or that it can), from its row as it was before the attempt. */
export function tokenVerdict(row: Row | undefined, now: string): 'unknown' | 'used' | 'expired' | 'ok' {
  if (!row) return 'unknown';
  if (row.used_at != null) return 'used';
  if (String(row.expires_at) <= now) return 'expired';
  return 'ok';
}
