import { VigilError } from '@vigil/shared';
import type { ApiTokenRecord, NewUser, SessionRecord, UserRecord, UserStore, UserUpdate } from '../../auth/user-store.js';
import { toSession, toToken, toUser, USER_COLUMNS, userColumnValue } from '../user-rows.js';
import { byCodeUnit, isUniqueViolation, type SqlPort } from './sql-port.js';

const SESSION_COLUMNS = { stage: 'stage', lastSeenAt: 'last_seen_at', expiresAt: 'expires_at' } as const;

/** Users, MFA material, sessions and API tokens on any engine, through the SQL port. */
export class SqlUserStore implements UserStore {
  constructor(private readonly db: SqlPort) {}

  async createUser(user: NewUser): Promise<UserRecord> {
    try {
      const [, read] = await this.db.batch('createUser', [
        {
          sql: 'INSERT INTO users (username, display_name, role, password_hash, created_at, clinics_json) VALUES (?, ?, ?, ?, ?, ?)',
          params: [
            user.username,
            user.displayName,
            user.role,
            user.passwordHash,
            new Date().toISOString(),
            userColumnValue('clinics', user.clinics),
          ],
        },
        { sql: 'SELECT * FROM users WHERE username = ?', params: [user.username] },
      ]);
      return toUser(read?.rows[0] ?? {});
    } catch (error) {
      if (isUniqueViolation(error)) throw new VigilError('VIGIL_USER_EXISTS', `user ${user.username} already exists`);
      throw error;
    }
  }

  async getUser(username: string): Promise<UserRecord | undefined> {
    const [row] = await this.db.all('getUser', 'SELECT * FROM users WHERE username = ?', [username]);
    return row ? toUser(row) : undefined;
  }

  async listUsers(): Promise<UserRecord[]> {
    // Sorted here, by code unit: the same order whatever collation the database was created with.
    const users = (await this.db.all('listUsers', 'SELECT * FROM users')).map(toUser);
    return users.sort((a, b) => byCodeUnit(a.username, b.username));
  }

  async updateUser(username: string, update: UserUpdate): Promise<void> {
    const keys = Object.keys(update) as (keyof UserUpdate)[];
    if (keys.length === 0) return;
    const sets = keys.map((k) => `${USER_COLUMNS[k]} = ?`).join(', ');
    const changed = await this.db.run('updateUser', `UPDATE users SET ${sets} WHERE username = ?`, [
      ...keys.map((k) => userColumnValue(k, update[k])),
      username,
    ]);
    if (changed !== 1) throw new VigilError('VIGIL_USER_UNKNOWN', `user ${username} does not exist`);
  }

  async claimTotpStep(username: string, step: number): Promise<boolean> {
    const sql = 'UPDATE users SET totp_last_step = ? WHERE username = ? AND totp_last_step < ?';
    return (await this.db.run('claimTotpStep', sql, [step, username, step])) === 1;
  }

  async setRecoveryCodes(username: string, codeHashes: string[]): Promise<void> {
    await this.db.batch('setRecoveryCodes', [
      { sql: 'DELETE FROM recovery_codes WHERE username = ?', params: [username] },
      ...codeHashes.map((h) => ({
        sql: 'INSERT INTO recovery_codes (username, code_hash) VALUES (?, ?)',
        params: [username, h],
      })),
    ]);
  }

  async useRecoveryCode(username: string, codeHash: string): Promise<boolean> {
    const sql = 'UPDATE recovery_codes SET used_at = ? WHERE username = ? AND code_hash = ? AND used_at IS NULL';
    return (await this.db.run('useRecoveryCode', sql, [new Date().toISOString(), username, codeHash])) === 1;
  }

  async createSession(s: SessionRecord): Promise<void> {
    await this.db.batch('createSession', [
      {
        sql: `INSERT INTO sessions (session_hash, username, stage, csrf_token, created_at, expires_at, last_seen_at)
          VALUES (?, ?, ?, ?, ?, ?, ?)`,
        params: [s.sessionHash, s.username, s.stage, s.csrfToken, s.createdAt, s.expiresAt, s.lastSeenAt],
      },
      // Expired sessions are swept as new ones are made.
      { sql: 'DELETE FROM sessions WHERE expires_at < ?', params: [s.createdAt] },
    ]);
  }

  async getSession(sessionHash: string): Promise<SessionRecord | undefined> {
    const [row] = await this.db.all('getSession', 'SELECT * FROM sessions WHERE session_hash = ?', [sessionHash]);
    return row ? toSession(row) : undefined;
  }

  async updateSession(
    sessionHash: string,
    update: Partial<Pick<SessionRecord, 'stage' | 'lastSeenAt' | 'expiresAt'>>,
  ): Promise<void> {
    const keys = Object.keys(update) as (keyof typeof SESSION_COLUMNS)[];
    if (keys.length === 0) return;
    const sql = `UPDATE sessions SET ${keys.map((k) => `${SESSION_COLUMNS[k]} = ?`).join(', ')} WHERE session_hash = ?`;
    const params = [...keys.map((k) => update[k] ?? null), sessionHash];
    // Sliding expiry is bookkeeping, not worth a flush per request; a stage change is.
    if (update.stage) await this.db.run('updateSession', sql, params);
    else await this.db.runRelaxed('updateSession', sql, params);
  }

  async deleteSession(sessionHash: string): Promise<void> {
    await this.db.run('deleteSession', 'DELETE FROM sessions WHERE session_hash = ?', [sessionHash]);
  }

  async deleteSessionsOf(username: string): Promise<void> {
    await this.db.run('deleteSessionsOf', 'DELETE FROM sessions WHERE username = ?', [username]);
  }

  async createToken(t: Omit<ApiTokenRecord, 'lastUsedAt' | 'revokedAt'>): Promise<void> {
    await this.db.run(
      'createToken',
      'INSERT INTO api_tokens (token_id, token_hash, username, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      [t.tokenId, t.tokenHash, t.username, t.name, t.createdAt, t.expiresAt],
    );
  }

  async getToken(tokenId: string): Promise<ApiTokenRecord | undefined> {
    const [row] = await this.db.all('getToken', 'SELECT * FROM api_tokens WHERE token_id = ?', [tokenId]);
    return row ? toToken(row) : undefined;
  }

  async listTokens(username?: string): Promise<ApiTokenRecord[]> {
    const found = username
      ? await this.db.all('listTokens', 'SELECT * FROM api_tokens WHERE username = ? ORDER BY created_at', [username])
      : await this.db.all('listTokens', 'SELECT * FROM api_tokens ORDER BY created_at');
    return found.map(toToken);
  }

  async touchToken(tokenId: string, at: string): Promise<void> {
    await this.db.runRelaxed('touchToken', 'UPDATE api_tokens SET last_used_at = ? WHERE token_id = ?', [at, tokenId]);
  }

  async revokeToken(tokenId: string): Promise<boolean> {
    const sql = 'UPDATE api_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL';
    return (await this.db.run('revokeToken', sql, [new Date().toISOString(), tokenId])) === 1;
  }
}
