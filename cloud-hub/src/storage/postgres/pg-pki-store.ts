import type pg from 'pg';
import type { DeviceCertificate, EnrolmentToken, PkiStore, TokenUse } from '../../pki/pki-store.js';
import { CERT_COLUMNS, certValues, TOKEN_COLUMNS, toCertificate, tokenValues, tokenVerdict, toToken } from '../pki-rows.js';
import { inTransaction, rows } from './pg-client.js';

const placeholders = (n: number) => Array.from({ length: n }, (_, i) => `$${i + 1}`).join(', ');

export class PgPkiStore implements PkiStore {
  constructor(private readonly pool: pg.Pool) {}

  async addEnrolmentToken(token: Omit<EnrolmentToken, 'usedAt'>): Promise<void> {
    await rows(
      this.pool,
      'enrolment token add',
      `INSERT INTO enrolment_tokens (${TOKEN_COLUMNS.join(', ')}) VALUES (${placeholders(TOKEN_COLUMNS.length)})`,
      tokenValues(token),
    );
  }

  useEnrolmentToken(tokenHash: string, now: string): Promise<TokenUse> {
    return inTransaction(this.pool, 'enrolment token use', async (c): Promise<TokenUse> => {
      // FOR UPDATE: two replicas handed the same token at once serialise here; one wins.
      const { rows: found } = await c.query('SELECT * FROM enrolment_tokens WHERE token_hash = $1 FOR UPDATE', [tokenHash]);
      const row = found[0] as Record<string, unknown> | undefined;
      const verdict = tokenVerdict(row, now);
      if (verdict !== 'ok' || !row)
        return { ok: false, reason: verdict === 'ok' ? 'unknown' : verdict, ...(row ? { token: toToken(row) } : {}) };
      await c.query('UPDATE enrolment_tokens SET used_at = $1 WHERE token_hash = $2', [now, tokenHash]);
      return { ok: true, token: { ...toToken(row), usedAt: now } };
    });
  }

  async addCertificate(certificate: Omit<DeviceCertificate, 'revokedAt'>): Promise<void> {
    await rows(
      this.pool,
      'certificate add',
      `INSERT INTO device_certificates (${CERT_COLUMNS.join(', ')}) VALUES (${placeholders(CERT_COLUMNS.length)})`,
      certValues(certificate),
    );
  }

  async getCertificate(serial: string): Promise<DeviceCertificate | undefined> {
    const [row] = await rows(this.pool, 'certificate get', 'SELECT * FROM device_certificates WHERE serial = $1', [serial]);
    return row ? toCertificate(row) : undefined;
  }

  async listCertificates(deviceId?: string): Promise<DeviceCertificate[]> {
    const found =
      deviceId === undefined
        ? await rows(this.pool, 'certificate list', 'SELECT * FROM device_certificates ORDER BY issued_at, serial', [])
        : await rows(
            this.pool,
            'certificate list',
            'SELECT * FROM device_certificates WHERE device_id = $1 ORDER BY issued_at, serial',
            [deviceId],
          );
    return found.map(toCertificate);
  }

  async revokeCertificates(deviceId: string, at: string, issuedBefore?: string): Promise<number> {
    return inTransaction(this.pool, 'certificate revoke', async (c) => {
      const result = await c.query(
        'UPDATE device_certificates SET revoked_at = $1 WHERE device_id = $2 AND revoked_at IS NULL AND issued_at < $3',
        [at, deviceId, issuedBefore ?? '9999'],
      );
      return result.rowCount ?? 0;
    });
  }
}
