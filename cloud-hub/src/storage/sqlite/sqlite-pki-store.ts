import type Database from 'better-sqlite3';
import type { DeviceCertificate, EnrolmentToken, PkiStore, TokenUse } from '../../pki/pki-store.js';
import { CERT_COLUMNS, certValues, TOKEN_COLUMNS, toCertificate, tokenValues, tokenVerdict, toToken } from '../pki-rows.js';
import { durableWrite, wrap } from './sqlite-wrap.js';

type Row = Record<string, unknown>;

export class SqlitePkiStore implements PkiStore {
  constructor(
    private readonly db: Database.Database,
    private readonly durable: (what: string) => Promise<void>,
  ) {}

  addEnrolmentToken(token: Omit<EnrolmentToken, 'usedAt'>): Promise<void> {
    return durableWrite(
      'enrolment token add',
      () => {
        this.db
          .prepare(
            `INSERT INTO enrolment_tokens (${TOKEN_COLUMNS.join(', ')}) VALUES (${TOKEN_COLUMNS.map(() => '?').join(', ')})`,
          )
          .run(...tokenValues(token));
      },
      this.durable,
    );
  }

  useEnrolmentToken(tokenHash: string, now: string): Promise<TokenUse> {
    return durableWrite(
      'enrolment token use',
      () =>
        this.db
          .transaction((): TokenUse => {
            const row = this.db.prepare('SELECT * FROM enrolment_tokens WHERE token_hash = ?').get(tokenHash) as Row | undefined;
            const verdict = tokenVerdict(row, now);
            if (verdict !== 'ok' || !row)
              return { ok: false, reason: verdict === 'ok' ? 'unknown' : verdict, ...(row ? { token: toToken(row) } : {}) };
            this.db.prepare('UPDATE enrolment_tokens SET used_at = ? WHERE token_hash = ?').run(now, tokenHash);
            return { ok: true, token: { ...toToken(row), usedAt: now } };
          })
          .immediate(),
      this.durable,
    );
  }

  addCertificate(certificate: Omit<DeviceCertificate, 'revokedAt'>): Promise<void> {
    return durableWrite(
      'certificate add',
      () => {
        this.db
          .prepare(
            `INSERT INTO device_certificates (${CERT_COLUMNS.join(', ')}) VALUES (${CERT_COLUMNS.map(() => '?').join(', ')})`,
          )
          .run(...certValues(certificate));
      },
      this.durable,
    );
  }

  getCertificate(serial: string): Promise<DeviceCertificate | undefined> {
    return wrap('certificate get', () => {
      const row = this.db.prepare('SELECT * FROM device_certificates WHERE serial = ?').get(serial) as Row | undefined;
      return row ? toCertificate(row) : undefined;
    });
  }

  listCertificates(deviceId?: string): Promise<DeviceCertificate[]> {
    return wrap('certificate list', () => {
      const rows = (
        deviceId === undefined
          ? this.db.prepare('SELECT * FROM device_certificates ORDER BY issued_at, serial').all()
          : this.db.prepare('SELECT * FROM device_certificates WHERE device_id = ? ORDER BY issued_at, serial').all(deviceId)
      ) as Row[];
      return rows.map(toCertificate);
    });
  }

  revokeCertificates(deviceId: string, at: string, issuedBefore?: string): Promise<number> {
    return durableWrite(
      'certificate revoke',
      () =>
        this.db
          .prepare(`UPDATE device_certificates SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL AND issued_at < ?`)
          .run(at, deviceId, issuedBefore ?? '9999').changes,
      this.durable,
    );
  }
}
