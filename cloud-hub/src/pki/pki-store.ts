/**
 * What the device CA keeps in the state database: one-time enrolment tokens (only their SHA-256)
 * and every certificate it issued, so a certificate can be refused at connect once revoked and the
 * fleet's certificates listed. The CA's key is a file, never a row.
 */
export interface EnrolmentToken {
  /** SHA-256 (hex) of the token; the token itself is shown once to the operator. */
  tokenHash: string;
  clinicId: string;
  deviceId: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
}

export interface DeviceCertificate {
  /** Hex, lower case, as X509Certificate.serialNumber gives it (upper) lower-cased. */
  serial: string;
  deviceId: string;
  clinicId: string;
  /** SHA-256 fingerprint of the DER certificate. */
  fingerprint: string;
  notBefore: string;
  notAfter: string;
  issuedAt: string;
  revokedAt: string | null;
}

export type TokenUse =
  | { ok: true; token: EnrolmentToken }
  | { ok: false; reason: 'unknown' | 'used' | 'expired'; token?: EnrolmentToken };

export interface PkiStore {
  addEnrolmentToken(token: Omit<EnrolmentToken, 'usedAt'>): Promise<void>;
  /** Marks the token used if it is unused and unexpired at `now`, atomically (a token works once). */
  useEnrolmentToken(tokenHash: string, now: string): Promise<TokenUse>;
  addCertificate(certificate: Omit<DeviceCertificate, 'revokedAt'>): Promise<void>;
  getCertificate(serial: string): Promise<DeviceCertificate | undefined>;
  listCertificates(deviceId?: string): Promise<DeviceCertificate[]>;
  /** Revokes every certificate of a device not yet revoked (only those issued before `issuedBefore`, when given); returns how many. */
  revokeCertificates(deviceId: string, at: string, issuedBefore?: string): Promise<number>;
}
