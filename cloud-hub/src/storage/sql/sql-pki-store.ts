import type { DeviceCertificate, EnrolmentToken, PkiStore, TokenUse } from '../../pki/pki-store.js';
import { CERT_COLUMNS, certValues, TOKEN_COLUMNS, toCertificate, tokenValues, tokenVerdict, toToken } from '../pki-rows.js';
import { marks, type SqlPort } from './sql-port.js';

/** The device CA's enrolment tokens and certificates on any engine, through the SQL port. */
export class SqlPkiStore implements PkiStore {
  constructor(private readonly db: SqlPort) {}

  async addEnrolmentToken(token: Omit<EnrolmentToken, 'usedAt'>): Promise<void> {
    await this.db.run(
      'enrolment token add',
      `INSERT INTO enrolment_tokens (${TOKEN_COLUMNS.join(', ')}) VALUES (${marks(TOKEN_COLUMNS.length)})`,
      tokenValues(token),
    );
  }

  /**
   * A token is used once: the UPDATE only takes an unused, unexpired token, so of two replicas
   * handed the same token at once exactly one changes the row; the read after it says why not.
   */
  async useEnrolmentToken(tokenHash: string, now: string): Promise<TokenUse> {
    const [claim, read] = await this.db.batch('enrolment token use', [
      {
        sql: 'UPDATE enrolment_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?',
        params: [now, tokenHash, now],
      },
      { sql: 'SELECT * FROM enrolment_tokens WHERE token_hash = ?', params: [tokenHash] },
    ]);
    const row = read?.rows[0];
    if (claim?.changes === 1 && row) return { ok: true, token: toToken(row) };
    const verdict = tokenVerdict(row, now);
    return { ok: false, reason: verdict === 'ok' ? 'unknown' : verdict, ...(row ? { token: toToken(row) } : {}) };
  }

  async addCertificate(certificate: Omit<DeviceCertificate, 'revokedAt'>): Promise<void> {
    await this.db.run(
      'certificate add',
      `INSERT INTO device_certificates (${CERT_COLUMNS.join(', ')}) VALUES (${marks(CERT_COLUMNS.length)})`,
      certValues(certificate),
    );
  }

  async getCertificate(serial: string): Promise<DeviceCertificate | undefined> {
    const [row] = await this.db.all('certificate get', 'SELECT * FROM device_certificates WHERE serial = ?', [serial]);
    return row ? toCertificate(row) : undefined;
  }

  async listCertificates(deviceId?: string): Promise<DeviceCertificate[]> {
    const found =
      deviceId === undefined
        ? await this.db.all('certificate list', 'SELECT * FROM device_certificates ORDER BY issued_at, serial')
        : await this.db.all(
            'certificate list',
            'SELECT * FROM device_certificates WHERE device_id = ? ORDER BY issued_at, serial',
            [deviceId],
          );
    return found.map(toCertificate);
  }

  revokeCertificates(deviceId: string, at: string, issuedBefore?: string): Promise<number> {
    return this.db.run(
      'certificate revoke',
      'UPDATE device_certificates SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL AND issued_at < ?',
      [at, deviceId, issuedBefore ?? '9999'],
    );
  }
}
