import { type Logger, VigilError } from '@vigil/shared';
import type { AuditStore } from '../audit/audit-store.js';
import { type CounterStore, MemoryCounters } from '../cluster/counter-store.js';
import { type ClinicAssignment, normaliseClinics } from './clinic-scope.js';
import { assertPasswordPolicy, decoyHash, hashPassword, verifyPassword } from './password-hash.js';
import { newRecoveryCodes, newSecret, normaliseRecoveryCode, secretHash } from './secret-tokens.js';
import { newTotpSecret, totpQrSvg, totpUri, verifyTotp } from './totp.js';
import type { Role, SessionRecord, SessionStage, UserRecord, UserStore } from './user-store.js';
import { ROLES } from './user-store.js';

export interface AuthPolicy {
  /** Absolute session lifetime. */
  sessionHours: number;
  /** A session unused this long expires. */
  idleMinutes: number;
  /**
   * Failed logins from one address before that address is locked out of that account (whether the
   * account exists or not: the answer never reveals it); ACCOUNT_LOCK_FACTOR times as many from any
   * addresses lock the account itself (a distributed guess). One person on another machine can still
   * log in while someone elsewhere tries to lock them out…
   */
  lockoutThreshold: number;
  /** …for this long. */
  lockoutMinutes: number;
  /** Shown in authenticator apps. */
  issuer: string;
}

export const DEFAULT_AUTH_POLICY: AuthPolicy = {
  sessionHours: 12,
  idleMinutes: 30,
  lockoutThreshold: 5,
  lockoutMinutes: 15,
  issuer: 'Vigil',
};

/** Failures from all addresses together, in lockout thresholds, that lock an account for everyone. */
export const ACCOUNT_LOCK_FACTOR = 4;

/** Who is calling: from a session cookie or an API token. */
export interface Principal {
  username: string;
  displayName: string;
  role: Role;
  /** The clinics the user may see; null: the whole network. */
  clinics: ClinicAssignment;
  via: 'session' | 'token';
  stage: SessionStage;
  sessionHash?: string;
  csrfToken?: string;
  tokenId?: string;
}

export interface LoginRequest {
  username: string;
  password: string;
  totp?: string;
  recoveryCode?: string;
}

export interface LoginOutcome {
  /** The raw session id for the cookie; only its hash is stored. */
  sessionId: string;
  session: SessionRecord;
  user: UserRecord;
}

const USERNAME = /^[a-z0-9][a-z0-9._-]{1,63}$/;
const TOKEN = /^vgt_([A-Za-z0-9_-]{12})\.([A-Za-z0-9_-]{32,})$/;

/** Failures of one address at one account; the prefix of a user's keys ends with the newline. */
function addressKey(username: string, ip: string): string {
  return `login-address:${username}\n${ip}`;
}

function unknownKey(username: string): string {
  return `login-unknown:${username}`;
}

function later(ms: number): string {
  return new Date(Date.now() + ms).toISOString();
}

/**
 * Users, passwords (argon2id), mandatory TOTP with recovery codes, lockout, sessions and API tokens.
 * Every login attempt, success or not, is audited.
 */
export class AuthService {
  private readonly lockMs: number;

  constructor(
    private readonly users: UserStore,
    private readonly audit: AuditStore,
    private readonly logger: Logger,
    readonly policy: AuthPolicy = DEFAULT_AUTH_POLICY,
    /**
     * Failures per (username, address), so an address guessing at one account is stopped early,
     * and per username that does not exist, so a lockout answers alike for unknown names. Shared
     * by every replica (the database's) when there are several.
     */
    private readonly failures: CounterStore = new MemoryCounters(),
  ) {
    this.lockMs = policy.lockoutMinutes * 60_000;
  }

  async createUser(input: {
    username: string;
    displayName?: string;
    role: Role;
    password: string;
    /** Absent or null: the whole network. */
    clinics?: readonly string[] | null;
  }): Promise<UserRecord> {
    if (!USERNAME.test(input.username)) {
      throw new VigilError(
        'VIGIL_API_INVALID_REQUEST',
        'username must be 2–64 of a-z, 0-9, ".", "_" or "-", starting with a letter or digit',
      );
    }
    if (!ROLES.includes(input.role)) throw new VigilError('VIGIL_API_INVALID_REQUEST', `role must be one of ${ROLES.join(', ')}`);
    assertPasswordPolicy(input.password);
    return this.users.createUser({
      username: input.username,
      displayName: input.displayName ?? input.username,
      role: input.role,
      clinics: normaliseClinics(input.clinics),
      passwordHash: await hashPassword(input.password),
    });
  }

  private async refuse(username: string, ip: string, reason: string, user?: UserRecord): Promise<never> {
    if (await this.failures.fail(addressKey(username, ip), this.policy.lockoutThreshold, this.lockMs)) {
      this.logger.warn(
        { code: 'VIGIL_AUTH_LOCKED', username, ip },
        'address locked out of an account after repeated failed logins',
      );
    }
    if (!user) await this.failures.fail(unknownKey(username), this.policy.lockoutThreshold * ACCOUNT_LOCK_FACTOR, this.lockMs);
    if (user) {
      const failedLogins = user.failedLogins + 1;
      const lock = failedLogins >= this.policy.lockoutThreshold * ACCOUNT_LOCK_FACTOR;
      await this.users.updateUser(user.username, {
        failedLogins: lock ? 0 : failedLogins,
        ...(lock ? { lockedUntil: later(this.policy.lockoutMinutes * 60_000) } : {}),
      });
      if (lock) this.logger.warn({ code: 'VIGIL_AUTH_LOCKED', username }, 'account locked after repeated failed logins');
    }
    await this.auditFailure(username, ip, reason, user);
    throw new VigilError('VIGIL_AUTH_FAILED', 'wrong username, password or one-time code');
  }

  /** A login attempt in the audit log, under the name given (an unknown user's too, cut to 64 characters). */
  private auditLogin(
    username: string,
    role: string,
    outcome: 'success' | 'failure',
    details: Record<string, unknown>,
    ip: string,
  ): Promise<unknown> {
    return this.audit.append({
      actor: username.slice(0, 64),
      actorRole: role,
      action: 'auth.login',
      targetType: 'user',
      targetId: username.slice(0, 64),
      outcome,
      details,
      ip,
    });
  }

  private auditFailure(username: string, ip: string, reason: string, user?: UserRecord): Promise<unknown> {
    return this.auditLogin(username, user?.role ?? 'unknown', 'failure', { reason }, ip);
  }

  /** Lifts the per-address lockouts of `username` (an admin's unlock; the account's own lock is the user store's). */
  async clearLockouts(username: string): Promise<void> {
    await this.failures.clearFailures(addressKey(username, ''));
    await this.failures.clearFailure(unknownKey(username));
  }

  /** The one answer to a locked-out attempt, the same whether the account exists or not. */
  private async locked(username: string, ip: string, reason: string, user?: UserRecord): Promise<never> {
    await this.auditFailure(username, ip, reason, user);
    throw new VigilError('VIGIL_AUTH_LOCKED', 'too many failed logins: try again later');
  }

  async login(request: LoginRequest, ip: string): Promise<LoginOutcome> {
    if ((await this.failures.lockedFor(addressKey(request.username, ip))) > 0) {
      return this.locked(request.username, ip, 'address locked out');
    }
    const user = await this.users.getUser(request.username);
    if (!user) {
      await verifyPassword(await decoyHash(), request.password);
      if ((await this.failures.lockedFor(unknownKey(request.username))) > 0) return this.locked(request.username, ip, 'locked');
      return this.refuse(request.username, ip, 'unknown user');
    }
    // The password is checked first for every known user, disabled or locked ones included: a refusal
    // takes one argon2id verification whatever the account's state, so its timing tells nothing.
    const passwordOk = await verifyPassword(user.passwordHash, request.password);
    if (user.disabledAt) return this.refuse(user.username, ip, 'user disabled');
    if (user.lockedUntil && user.lockedUntil > new Date().toISOString()) return this.locked(user.username, ip, 'locked', user);
    if (!passwordOk) return this.refuse(user.username, ip, 'wrong password', user);
    let stage: SessionStage = 'enrol';
    let secondFactor = 'none (enrolment pending)';
    if (user.totpSecret) {
      if (request.totp) {
        const step = await verifyTotp(user.totpSecret, request.totp);
        if (step === null) return this.refuse(user.username, ip, 'wrong one-time code', user);
        if (!(await this.users.claimTotpStep(user.username, step))) {
          return this.refuse(user.username, ip, 'one-time code replayed', user);
        }
        secondFactor = 'totp';
      } else if (request.recoveryCode) {
        const used = await this.users.useRecoveryCode(user.username, secretHash(normaliseRecoveryCode(request.recoveryCode)));
        if (!used) return this.refuse(user.username, ip, 'wrong recovery code', user);
        secondFactor = 'recovery code';
      } else {
        return this.refuse(user.username, ip, 'one-time code missing', user);
      }
      stage = 'full';
    }
    await this.users.updateUser(user.username, { failedLogins: 0, lockedUntil: null });
    await this.failures.clearFailure(addressKey(user.username, ip));
    const sessionId = newSecret();
    const now = new Date().toISOString();
    const session: SessionRecord = {
      sessionHash: secretHash(sessionId),
      username: user.username,
      stage,
      csrfToken: newSecret(24),
      createdAt: now,
      expiresAt: later(this.policy.sessionHours * 3_600_000),
      lastSeenAt: now,
    };
    await this.users.createSession(session);
    await this.auditLogin(user.username, user.role, 'success', { secondFactor, stage }, ip);
    return { sessionId, session, user };
  }

  /** Resolves a session cookie or bearer token to a principal; undefined when neither is valid. */
  async authenticate(sessionId: string | undefined, bearer: string | undefined): Promise<Principal | undefined> {
    if (bearer) return this.fromToken(bearer);
    if (!sessionId) return undefined;
    const session = await this.users.getSession(secretHash(sessionId));
    if (!session) return undefined;
    const now = Date.now();
    const idleLimit = Date.parse(session.lastSeenAt) + this.policy.idleMinutes * 60_000;
    if (Date.parse(session.expiresAt) <= now || idleLimit <= now) {
      await this.users.deleteSession(session.sessionHash);
      return undefined;
    }
    const user = await this.users.getUser(session.username);
    if (!user || user.disabledAt) return undefined;
    // Refresh the idle timer at most once a minute.
    if (now - Date.parse(session.lastSeenAt) > 60_000) {
      await this.users.updateSession(session.sessionHash, { lastSeenAt: new Date(now).toISOString() });
    }
    return {
      username: user.username,
      displayName: user.displayName,
      role: user.role,
      clinics: user.clinics,
      via: 'session',
      stage: session.stage,
      sessionHash: session.sessionHash,
      csrfToken: session.csrfToken,
    };
  }

  private async fromToken(bearer: string): Promise<Principal | undefined> {
    const m = TOKEN.exec(bearer);
    if (!m) return undefined;
    const token = await this.users.getToken(m[1] as string);
    if (!token || token.revokedAt || token.tokenHash !== secretHash(m[2] as string)) return undefined;
    const now = new Date().toISOString();
    if (token.expiresAt && token.expiresAt <= now) return undefined;
    const user = await this.users.getUser(token.username);
    if (!user || user.disabledAt || !user.totpSecret) return undefined;
    await this.users.touchToken(token.tokenId, now);
    return {
      username: user.username,
      displayName: user.displayName,
      role: user.role,
      clinics: user.clinics,
      via: 'token',
      stage: 'full',
      tokenId: token.tokenId,
    };
  }

  async logout(principal: Principal): Promise<void> {
    if (principal.sessionHash) await this.users.deleteSession(principal.sessionHash);
  }

  /** Step 1 of enrolment: a fresh secret, kept pending until a code from it is confirmed. */
  async startEnrolment(principal: Principal): Promise<{ secret: string; otpauthUri: string; qrSvg: string }> {
    const user = await this.requireUser(principal.username);
    if (user.totpSecret) throw new VigilError('VIGIL_API_INVALID_REQUEST', 'TOTP is already enrolled; an admin can reset it');
    const secret = newTotpSecret();
    await this.users.updateUser(user.username, { totpPendingSecret: secret });
    const otpauthUri = totpUri(this.policy.issuer, user.username, secret);
    return { secret, otpauthUri, qrSvg: await totpQrSvg(otpauthUri) };
  }

  /** Step 2: a valid code proves the authenticator holds the secret; the session becomes full. */
  async confirmEnrolment(principal: Principal, code: string, ip: string): Promise<{ recoveryCodes: string[] }> {
    const user = await this.requireUser(principal.username);
    if (!user.totpPendingSecret) throw new VigilError('VIGIL_API_INVALID_REQUEST', 'start the enrolment first');
    const step = await verifyTotp(user.totpPendingSecret, code);
    if (step === null) throw new VigilError('VIGIL_AUTH_FAILED', 'the one-time code does not match the new secret');
    const recoveryCodes = newRecoveryCodes();
    await this.users.updateUser(user.username, {
      totpSecret: user.totpPendingSecret,
      totpPendingSecret: null,
      totpLastStep: step,
    });
    await this.users.setRecoveryCodes(
      user.username,
      recoveryCodes.map((c) => secretHash(normaliseRecoveryCode(c))),
    );
    if (principal.sessionHash) await this.users.updateSession(principal.sessionHash, { stage: 'full' });
    await this.audit.append({
      actor: user.username,
      actorRole: user.role,
      action: 'auth.totp.enrol',
      targetType: 'user',
      targetId: user.username,
      outcome: 'success',
      ip,
    });
    return { recoveryCodes };
  }

  /** Enrols TOTP directly with a given secret (CLI and demo provisioning); returns recovery codes. */
  async enrolWithSecret(username: string, secret: string): Promise<string[]> {
    await this.requireUser(username);
    const recoveryCodes = newRecoveryCodes();
    await this.users.updateUser(username, { totpSecret: secret, totpPendingSecret: null });
    await this.users.setRecoveryCodes(
      username,
      recoveryCodes.map((c) => secretHash(normaliseRecoveryCode(c))),
    );
    return recoveryCodes;
  }

  async createToken(principal: Principal, name: string, expiresInDays?: number): Promise<{ tokenId: string; token: string }> {
    const tokenId = newSecret(9);
    const secret = newSecret(32);
    await this.users.createToken({
      tokenId,
      tokenHash: secretHash(secret),
      username: principal.username,
      name,
      createdAt: new Date().toISOString(),
      expiresAt: expiresInDays ? later(expiresInDays * 86_400_000) : null,
    });
    return { tokenId, token: `vgt_${tokenId}.${secret}` };
  }

  private async requireUser(username: string): Promise<UserRecord> {
    const user = await this.users.getUser(username);
    if (!user) throw new VigilError('VIGIL_USER_UNKNOWN', `user ${username} does not exist`);
    return user;
  }
}
