export type Role = 'clinician' | 'ops' | 'admin';
export const ROLES: readonly Role[] = ['clinician', 'ops', 'admin'];

export interface UserRecord {
  username: string;
  displayName: string;
  role: Role;
  /**
   * The clinics whose patients and devices this user may see; null: the whole network. A user with
   * an empty list sees no patient data at all.
   */
  clinics: string[] | null;
  passwordHash: string;
  /** Base32 TOTP secret once enrolment is confirmed; null before. */
  totpSecret: string | null;
  /** Secret shown during enrolment, not yet confirmed with a code. */
  totpPendingSecret: string | null;
  /** Last accepted TOTP time step: a code is never accepted twice (RFC 6238 §5.2). */
  totpLastStep: number;
  failedLogins: number;
  lockedUntil: string | null;
  createdAt: string;
  disabledAt: string | null;
}

/** `enrol`: password accepted, TOTP enrolment pending; `full`: password and TOTP accepted. */
export type SessionStage = 'enrol' | 'full';

export interface SessionRecord {
  sessionHash: string;
  username: string;
  stage: SessionStage;
  csrfToken: string;
  createdAt: string;
  expiresAt: string;
  lastSeenAt: string;
}

export interface ApiTokenRecord {
  tokenId: string;
  tokenHash: string;
  username: string;
  name: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export type UserUpdate = Partial<
  Pick<
    UserRecord,
    | 'passwordHash'
    | 'totpSecret'
    | 'totpPendingSecret'
    | 'totpLastStep'
    | 'failedLogins'
    | 'lockedUntil'
    | 'disabledAt'
    | 'role'
    | 'displayName'
    | 'clinics'
  >
>;

/** A user to create; without `clinics` the user sees the whole network. */
export type NewUser = Pick<UserRecord, 'username' | 'displayName' | 'role' | 'passwordHash'> &
  Partial<Pick<UserRecord, 'clinics'>>;

/** Users, their MFA material, sessions and API tokens. Secrets are stored only as hashes. */
export interface UserStore {
  createUser(user: NewUser): Promise<UserRecord>;
  getUser(username: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
  updateUser(username: string, update: UserUpdate): Promise<void>;
  /** Atomically accepts a TOTP time step only if it is newer than the last one used. */
  claimTotpStep(username: string, step: number): Promise<boolean>;
  setRecoveryCodes(username: string, codeHashes: string[]): Promise<void>;
  /** Marks the code used; false when it does not exist or was used already. */
  useRecoveryCode(username: string, codeHash: string): Promise<boolean>;
  createSession(session: SessionRecord): Promise<void>;
  getSession(sessionHash: string): Promise<SessionRecord | undefined>;
  updateSession(sessionHash: string, update: Partial<Pick<SessionRecord, 'stage' | 'lastSeenAt' | 'expiresAt'>>): Promise<void>;
  deleteSession(sessionHash: string): Promise<void>;
  deleteSessionsOf(username: string): Promise<void>;
  createToken(token: Omit<ApiTokenRecord, 'lastUsedAt' | 'revokedAt'>): Promise<void>;
  getToken(tokenId: string): Promise<ApiTokenRecord | undefined>;
  listTokens(username?: string): Promise<ApiTokenRecord[]>;
  touchToken(tokenId: string, at: string): Promise<void>;
  revokeToken(tokenId: string): Promise<boolean>;
}
