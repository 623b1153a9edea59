import type { ApiTokenRecord, SessionRecord, UserRecord, UserUpdate } from '../auth/user-store.js';

type Row = Record<string, unknown>;

/** A string column that may be NULL. */
export function str(value: unknown): string | null {
  return (value as string | null | undefined) ?? null;
}

/** The column of each updatable user field (the same tables on every engine). */
export const USER_COLUMNS: Record<keyof UserUpdate, string> = {
  passwordHash: 'password_hash',
  totpSecret: 'totp_secret',
  totpPendingSecret: 'totp_pending_secret',
  totpLastStep: 'totp_last_step',
  failedLogins: 'failed_logins',
  lockedUntil: 'locked_until',
  disabledAt: 'disabled_at',
  role: 'role',
  displayName: 'display_name',
  clinics: 'clinics_json',
};

/** The value stored for an updatable user field (clinic lists are JSON; null means the whole network). */
export function userColumnValue<K extends keyof UserUpdate>(key: K, value: UserUpdate[K]): string | number | null {
  if (key === 'clinics') return value === null || value === undefined ? null : JSON.stringify(value);
  return (value as string | number | null | undefined) ?? null;
}

export function toUser(row: Row): UserRecord {
  return {
    username: row.username as string,
    displayName: row.display_name as string,
    role: row.role as UserRecord['role'],
    clinics:
      row.clinics_json === null || row.clinics_json === undefined ? null : (JSON.parse(row.clinics_json as string) as string[]),
    passwordHash: row.password_hash as string,
    totpSecret: str(row.totp_secret),
    totpPendingSecret: str(row.totp_pending_secret),
    totpLastStep: Number(row.totp_last_step),
    failedLogins: Number(row.failed_logins),
    lockedUntil: str(row.locked_until),
    createdAt: row.created_at as string,
    disabledAt: str(row.disabled_at),
  };
}

export function toSession(row: Row): SessionRecord {
  return {
    sessionHash: row.session_hash as string,
    username: row.username as string,
    stage: row.stage as SessionRecord['stage'],
    csrfToken: row.csrf_token as string,
    createdAt: row.created_at as string,
    expiresAt: row.expires_at as string,
    lastSeenAt: row.last_seen_at as string,
  };
}

export function toToken(row: Row): ApiTokenRecord {
  return {
    tokenId: row.token_id as string,
    tokenHash: row.token_hash as string,
    username: row.username as string,
    name: row.name as string,
    createdAt: row.created_at as string,
    expiresAt: str(row.expires_at),
    lastUsedAt: str(row.last_used_at),
    revokedAt: str(row.revoked_at),
  };
}
