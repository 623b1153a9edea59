import { VigilError } from '@vigil/shared';
import type Database from 'better-sqlite3';
import type { ApiTokenRecord, NewUser, SessionRecord, UserRecord, UserStore, UserUpdate } from '../../auth/user-store.js';
import { toSession, toToken, toUser, USER_COLUMNS, userColumnValue } from '../user-rows.js';
import { durableWrite, wrap } from './sqlite-wrap.js';

type Row = Record<string, unknown>;

export class SqliteUserStore implements UserStore {
  constructor(
    private readonly db: Database.Database,
    private readonly durable: (what: string) => Promise<void>,
  ) {}

  private write<T>(what: string, fn: () => T): Promise<T> {
    return durableWrite(what, fn, this.durable);
  }

  createUser(user: NewUser): Promise<UserRecord> {
    return this.write('createUser', () => {
      const createdAt = new Date().toISOString();
      try {
        this.db
          .prepare(
            'INSERT INTO users (username, display_name, role, password_hash, created_at, clinics_json) VALUES (?, ?, ?, ?, ?, ?)',
          )
          .run(
            user.username,
            user.displayName,
            user.role,
            user.passwordHash,
            createdAt,
            userColumnValue('clinics', user.clinics),
          );
      } catch (error) {
        if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw new VigilError('VIGIL_USER_EXISTS', `user ${user.username} already exists`);
        }
        throw error;
      }
      return toUser(this.db.prepare('SELECT * FROM users WHERE username = ?').get(user.username) as Row);
    });
  }

  getUser(username: string): Promise<UserRecord | undefined> {
    return wrap('getUser', () => {
      const row = this.db.prepare('SELECT * FROM users WHERE username = ?').get(username) as Row | undefined;
      return row ? toUser(row) : undefined;
    });
  }

  listUsers(): Promise<UserRecord[]> {
    return wrap('listUsers', () => (this.db.prepare('SELECT * FROM users ORDER BY username').all() as Row[]).map(toUser));
  }

  updateUser(username: string, update: UserUpdate): Promise<void> {
    const keys = Object.keys(update) as (keyof UserUpdate)[];
    if (keys.length === 0) return Promise.resolve();
    return this.write('updateUser', () => {
      const sets = keys.map((k) => `${USER_COLUMNS[k]} = ?`).join(', ');
      const changed = this.db
        .prepare(`UPDATE users SET ${sets} WHERE username = ?`)
        .run(...keys.map((k) => userColumnValue(k, update[k])), username).changes;
      if (changed !== 1) throw new VigilError('VIGIL_USER_UNKNOWN', `user ${username} does not exist`);
    });
  }

  claimTotpStep(username: string, step: number): Promise<boolean> {
    return this.write(
      'claimTotpStep',
      () =>
        this.db.prepare('UPDATE users SET totp_last_step = ? WHERE username = ? AND totp_last_step < ?').run(step, username, step)
          .changes === 1,
    );
  }

  setRecoveryCodes(username: string, codeHashes: string[]): Promise<void> {
    return this.write('setRecoveryCodes', () =>
      this.db.transaction(() => {
        this.db.prepare('DELETE FROM recovery_codes WHERE username = ?').run(username);
        const insert = this.db.prepare('INSERT INTO recovery_codes (username, code_hash) VALUES (?, ?)');
        for (const h of codeHashes) insert.run(username, h);
      })(),
    );
  }

  useRecoveryCode(username: string, codeHash: string): Promise<boolean> {
    return this.write(
      'useRecoveryCode',
      () =>
        this.db
          .prepare('UPDATE recovery_codes SET used_at = ? WHERE username = ? AND code_hash = ? AND used_at IS NULL')
          .run(new Date().toISOString(), username, codeHash).changes === 1,
    );
  }

  createSession(s: SessionRecord): Promise<void> {
    return this.write('createSession', () => {
      this.db
        .prepare(`INSERT INTO sessions (session_hash, username, stage, csrf_token, created_at, expires_at, last_seen_at)
          VALUES (?, ?, ?, ?, ?, ?, ?)`)
        .run(s.sessionHash, s.username, s.stage, s.csrfToken, s.createdAt, s.expiresAt, s.lastSeenAt);
      // Expired sessions are swept as new ones are made.
      this.db.prepare('DELETE FROM sessions WHERE expires_at < ?').run(s.createdAt);
    });
  }

  getSession(sessionHash: string): Promise<SessionRecord | undefined> {
    return wrap('getSession', () => {
      const row = this.db.prepare('SELECT * FROM sessions WHERE session_hash = ?').get(sessionHash) as Row | undefined;
      return row ? toSession(row) : undefined;
    });
  }

  updateSession(sessionHash: string, update: Partial<Pick<SessionRecord, 'stage' | 'lastSeenAt' | 'expiresAt'>>): Promise<void> {
    // Sliding expiry is bookkeeping, not worth an fsync per request; a stage change is.
    const run = () => {
      const cols = { stage: 'stage', lastSeenAt: 'last_seen_at', expiresAt: 'expires_at' } as const;
      const keys = Object.keys(update) as (keyof typeof cols)[];
      this.db
        .prepare(`UPDATE sessions SET ${keys.map((k) => `${cols[k]} = ?`).join(', ')} WHERE session_hash = ?`)
        .run(...keys.map((k) => update[k] ?? null), sessionHash);
    };
    return update.stage ? this.write('updateSession', run) : wrap('updateSession', run);
  }

  deleteSession(sessionHash: string): Promise<void> {
    return this.write('deleteSession', () => {
      this.db.prepare('DELETE FROM sessions WHERE session_hash = ?').run(sessionHash);
    });
  }

  deleteSessionsOf(username: string): Promise<void> {
    return this.write('deleteSessionsOf', () => {
      this.db.prepare('DELETE FROM sessions WHERE username = ?').run(username);
    });
  }

  createToken(t: Omit<ApiTokenRecord, 'lastUsedAt' | 'revokedAt'>): Promise<void> {
    return this.write('createToken', () => {
      this.db
        .prepare(
          'INSERT INTO api_tokens (token_id, token_hash, username, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(t.tokenId, t.tokenHash, t.username, t.name, t.createdAt, t.expiresAt);
    });
  }

  getToken(tokenId: string): Promise<ApiTokenRecord | undefined> {
    return wrap('getToken', () => {
      const row = this.db.prepare('SELECT * FROM api_tokens WHERE token_id = ?').get(tokenId) as Row | undefined;
      return row ? toToken(row) : undefined;
    });
  }

  listTokens(username?: string): Promise<ApiTokenRecord[]> {
    return wrap('listTokens', () =>
      (username
        ? (this.db.prepare('SELECT * FROM api_tokens WHERE username = ? ORDER BY created_at').all(username) as Row[])
        : (this.db.prepare('SELECT * FROM api_tokens ORDER BY created_at').all() as Row[])
      ).map(toToken),
    );
  }

  touchToken(tokenId: string, at: string): Promise<void> {
    return wrap('touchToken', () => {
      this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE token_id = ?').run(at, tokenId);
    });
  }

  revokeToken(tokenId: string): Promise<boolean> {
    return this.write(
      'revokeToken',
      () =>
        this.db
          .prepare('UPDATE api_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL')
          .run(new Date().toISOString(), tokenId).changes === 1,
    );
  }
}
