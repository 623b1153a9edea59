import { VigilError } from '@vigil/shared';
import type pg from 'pg';
import type { ApiTokenRecord, NewUser, SessionRecord, UserRecord, UserStore, UserUpdate } from '../../auth/user-store.js';
import { toSession, toToken, toUser, USER_COLUMNS, userColumnValue } from '../user-rows.js';
import { changed, changedRelaxed, coded, inTransaction, Params, type Row, rows, UNIQUE_VIOLATION } from './pg-client.js';

/** Users, MFA material, sessions and API tokens on PostgreSQL (the same rules as the SQLite store). */
export class PgUserStore implements UserStore {
  constructor(private readonly pool: pg.Pool) {}

  createUser(user: NewUser): Promise<UserRecord> {
    return coded('createUser', async () => {
      try {
        const inserted = await this.pool.query(
          `INSERT INTO users (username, display_name, role, password_hash, created_at, clinics_json)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
          [
            user.username,
            user.displayName,
            user.role,
            user.passwordHash,
            new Date().toISOString(),
            userColumnValue('clinics', user.clinics),
          ],
        );
        return toUser(inserted.rows[0] as Row);
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) {
          throw new VigilError('VIGIL_USER_EXISTS', `user ${user.username} already exists`);
        }
        throw error;
      }
    });
  }

  async getUser(username: string): Promise<UserRecord | undefined> {
    const [row] = await rows(this.pool, 'getUser', 'SELECT * FROM users WHERE username = $1', [username]);
    return row ? toUser(row) : undefined;
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await rows(this.pool, 'listUsers', 'SELECT * FROM users ORDER BY username COLLATE "C"')).map(toUser);
  }

  async updateUser(username: string, update: UserUpdate): Promise<void> {
    const keys = Object.keys(update) as (keyof UserUpdate)[];
    if (keys.length === 0) return;
    const p = new Params();
    const sets = keys.map((k) => `${USER_COLUMNS[k]} = ${p.add(userColumnValue(k, update[k]))}`).join(', ');
    const n = await changed(this.pool, 'updateUser', `UPDATE users SET ${sets} WHERE username = ${p.add(username)}`, p.values);
    if (n !== 1) throw new VigilError('VIGIL_USER_UNKNOWN', `user ${username} does not exist`);
  }

  async claimTotpStep(username: string, step: number): Promise<boolean> {
    const sql = 'UPDATE users SET totp_last_step = $1 WHERE username = $2 AND totp_last_step < $1';
    return (await changed(this.pool, 'claimTotpStep', sql, [step, username])) === 1;
  }

  setRecoveryCodes(username: string, codeHashes: string[]): Promise<void> {
    return inTransaction(this.pool, 'setRecoveryCodes', async (c) => {
      await c.query('DELETE FROM recovery_codes WHERE username = $1', [username]);
      await c.query('INSERT INTO recovery_codes (username, code_hash) SELECT $1, unnest($2::text[])', [username, codeHashes]);
    });
  }

  async useRecoveryCode(username: string, codeHash: string): Promise<boolean> {
    const sql = 'UPDATE recovery_codes SET used_at = $1 WHERE username = $2 AND code_hash = $3 AND used_at IS NULL';
    return (await changed(this.pool, 'useRecoveryCode', sql, [new Date().toISOString(), username, codeHash])) === 1;
  }

  createSession(s: SessionRecord): Promise<void> {
    return inTransaction(this.pool, 'createSession', async (c) => {
      await c.query(
        `INSERT INTO sessions (session_hash, username, stage, csrf_token, created_at, expires_at, last_seen_at)
          VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [s.sessionHash, s.username, s.stage, s.csrfToken, s.createdAt, s.expiresAt, s.lastSeenAt],
      );
      // Expired sessions are swept as new ones are made.
      await c.query('DELETE FROM sessions WHERE expires_at < $1', [s.createdAt]);
    });
  }

  async getSession(sessionHash: string): Promise<SessionRecord | undefined> {
    const [row] = await rows(this.pool, 'getSession', 'SELECT * FROM sessions WHERE session_hash = $1', [sessionHash]);
    return row ? toSession(row) : undefined;
  }

  async updateSession(
    sessionHash: string,
    update: Partial<Pick<SessionRecord, 'stage' | 'lastSeenAt' | 'expiresAt'>>,
  ): Promise<void> {
    const cols = { stage: 'stage', lastSeenAt: 'last_seen_at', expiresAt: 'expires_at' } as const;
    const keys = Object.keys(update) as (keyof typeof cols)[];
    if (keys.length === 0) return;
    const p = new Params();
    const sets = keys.map((k) => `${cols[k]} = ${p.add(update[k] ?? null)}`).join(', ');
    const sql = `UPDATE sessions SET ${sets} WHERE session_hash = ${p.add(sessionHash)}`;
    // Sliding expiry is bookkeeping, not worth a WAL flush per request; a stage change is.
    if (update.stage) await changed(this.pool, 'updateSession', sql, p.values);
    else await changedRelaxed(this.pool, 'updateSession', sql, p.values);
  }

  async deleteSession(sessionHash: string): Promise<void> {
    await changed(this.pool, 'deleteSession', 'DELETE FROM sessions WHERE session_hash = $1', [sessionHash]);
  }

  async deleteSessionsOf(username: string): Promise<void> {
    await changed(this.pool, 'deleteSessionsOf', 'DELETE FROM sessions WHERE username = $1', [username]);
  }

  async createToken(t: Omit<ApiTokenRecord, 'lastUsedAt' | 'revokedAt'>): Promise<void> {
    await changed(
      this.pool,
      'createToken',
      'INSERT INTO api_tokens (token_id, token_hash, username, name, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [t.tokenId, t.tokenHash, t.username, t.name, t.createdAt, t.expiresAt],
    );
  }

  async getToken(tokenId: string): Promise<ApiTokenRecord | undefined> {
    const [row] = await rows(this.pool, 'getToken', 'SELECT * FROM api_tokens WHERE token_id = $1', [tokenId]);
    return row ? toToken(row) : undefined;
  }

  async listTokens(username?: string): Promise<ApiTokenRecord[]> {
    const found = username
      ? await rows(this.pool, 'listTokens', 'SELECT * FROM api_tokens WHERE username = $1 ORDER BY created_at', [username])
      : await rows(this.pool, 'listTokens', 'SELECT * FROM api_tokens ORDER BY created_at');
    return found.map(toToken);
  }

  async touchToken(tokenId: string, at: string): Promise<void> {
    await changedRelaxed(this.pool, 'touchToken', 'UPDATE api_tokens SET last_used_at = $1 WHERE token_id = $2', [at, tokenId]);
  }

  async revokeToken(tokenId: string): Promise<boolean> {
    const sql = 'UPDATE api_tokens SET revoked_at = $1 WHERE token_id = $2 AND revoked_at IS NULL';
    return (await changed(this.pool, 'revokeToken', sql, [new Date().toISOString(), tokenId])) === 1;
  }
}
