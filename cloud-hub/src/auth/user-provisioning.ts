import type { AuditStore } from '../audit/audit-store.js';
import type { AuthService } from './auth-service.js';
import { newSecret } from './secret-tokens.js';
import { newTotpSecret, totpUri } from './totp.js';
import type { Role } from './user-store.js';

export interface ProvisionedUser {
  username: string;
  role: Role;
  /** Shown once: only the argon2id hash is stored. */
  password: string;
  /** Present when TOTP was enrolled at creation (CLI, demo); otherwise the user enrols at first login. */
  totpSecret: string | null;
  otpauthUri: string | null;
  recoveryCodes: string[];
}

/** Creates a user from the command line (or the demo), optionally enrolling TOTP straight away. */
export async function provisionUser(
  auth: AuthService,
  audit: AuditStore,
  input: {
    username: string;
    role: Role;
    displayName?: string;
    password?: string;
    enrolTotp: boolean;
    actor: string;
    /** Absent: the whole network. */
    clinics?: readonly string[] | null;
  },
): Promise<ProvisionedUser> {
  const password = input.password ?? newSecret(15);
  await auth.createUser({
    username: input.username,
    role: input.role,
    password,
    ...(input.displayName ? { displayName: input.displayName } : {}),
    ...(input.clinics !== undefined ? { clinics: input.clinics } : {}),
  });
  let totpSecret: string | null = null;
  let recoveryCodes: string[] = [];
  if (input.enrolTotp) {
    totpSecret = newTotpSecret();
    recoveryCodes = await auth.enrolWithSecret(input.username, totpSecret);
  }
  await audit.append({
    actor: input.actor,
    actorRole: 'admin',
    action: 'user.create',
    targetType: 'user',
    targetId: input.username,
    outcome: 'success',
    details: { role: input.role, totpEnrolled: input.enrolTotp, clinics: input.clinics ?? null },
    ip: 'local',
  });
  return {
    username: input.username,
    role: input.role,
    password,
    totpSecret,
    otpauthUri: totpSecret ? totpUri(auth.policy.issuer, input.username, totpSecret) : null,
    recoveryCodes,
  };
}
