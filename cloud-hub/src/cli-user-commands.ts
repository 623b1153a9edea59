import { userInfo } from 'node:os';
import { createLogger, VigilError } from '@vigil/shared';
import type { Command } from 'commander';
import QRCode from 'qrcode';
import { AuthService } from './auth/auth-service.js';
import { normaliseClinics } from './auth/clinic-scope.js';
import { applyUserAction, type UserAction } from './auth/user-actions.js';
import { provisionUser } from './auth/user-provisioning.js';
import { ROLES, type Role } from './auth/user-store.js';
import { loadHubConfig } from './config.js';
import type { StateStore } from './state/state-store.js';
import { openConfiguredState } from './storage/configured-stores.js';

export async function withState<T>(
  configFile: string | undefined,
  fn: (state: StateStore, auth: AuthService) => Promise<T>,
): Promise<T> {
  const state = await openConfiguredState(loadHubConfig(configFile));
  try {
    return await fn(state, new AuthService(state.users, state.audit, createLogger('vigil-hub')));
  } finally {
    await state.close();
  }
}

export const actor = () => `cli:${userInfo().username}`;

function splitClinics(list: string): string[] {
  return list
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
}

/** `vigil-hub user add|list|clinics|reset-mfa|disable|enable`. */
export function addUserCommands(
  program: Command,
  configOption: readonly [string, string, string | undefined],
  fail: (e: unknown) => never,
): void {
  const user = program.command('user').description('manage dashboard/API users');
  user
    .command('clinics <username>')
    .description("set the clinics a user may see: a comma-separated list, or 'network' for all")
    .option(...configOption)
    .requiredOption('--set <ids>', "comma-separated clinic ids, or 'network'")
    .action(async (username: string, options: { config?: string; set: string }) => {
      try {
        const clinics = options.set === 'network' ? null : normaliseClinics(splitClinics(options.set));
        await withState(options.config, async (state) => {
          const before = await state.users.getUser(username);
          await state.users.updateUser(username, { clinics });
          await state.audit.append({
            actor: actor(),
            actorRole: 'admin',
            action: 'user.clinics',
            targetType: 'user',
            targetId: username,
            outcome: 'success',
            details: { from: before?.clinics ?? null, to: clinics },
            ip: 'local',
          });
        });
        process.stdout.write(`${JSON.stringify({ username, clinics })}\n`);
      } catch (error) {
        fail(error);
      }
    });
  user
    .command('add <username>')
    .description('create a user; prints the password, TOTP secret (with a QR code) and recovery codes once')
    .option(...configOption)
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--display-name <name>', 'name shown on the dashboard')
    .option('--password <password>', 'use this password instead of a generated one (12+ characters)')
    .option('--no-totp', 'do not enrol TOTP now: the user enrols at first login')
    .option('--json', 'print JSON only (no QR code)')
    .option('--clinics <ids>', 'comma-separated clinic ids the user may see (default: the whole network)')
    .action(
      async (
        username: string,
        options: {
          config?: string;
          role: string;
          displayName?: string;
          password?: string;
          totp: boolean;
          json?: boolean;
          clinics?: string;
        },
      ) => {
        try {
          if (!ROLES.includes(options.role as Role)) {
            throw new VigilError('VIGIL_API_INVALID_REQUEST', `--role must be one of ${ROLES.join(', ')}`);
          }
          const created = await withState(options.config, (state, auth) =>
            provisionUser(auth, state.audit, {
              username,
              role: options.role as Role,
              enrolTotp: options.totp,
              actor: actor(),
              ...(options.displayName ? { displayName: options.displayName } : {}),
              ...(options.password ? { password: options.password } : {}),
              ...(options.clinics !== undefined ? { clinics: splitClinics(options.clinics) } : {}),
            }),
          );
          process.stdout.write(`${JSON.stringify(created)}\n`);
          if (!options.json && created.otpauthUri) {
            process.stderr.write(
              `\nScan with an authenticator app:\n${await QRCode.toString(created.otpauthUri, { type: 'terminal', small: true })}\n`,
            );
          }
        } catch (error) {
          fail(error);
        }
      },
    );
  user
    .command('list')
    .option(...configOption)
    .action(async (options: { config?: string }) => {
      try {
        for (const u of await withState(options.config, (state) => state.users.listUsers())) {
          process.stdout.write(
            `${JSON.stringify({ username: u.username, role: u.role, mfaEnrolled: u.totpSecret !== null, disabled: u.disabledAt !== null })}\n`,
          );
        }
      } catch (error) {
        fail(error);
      }
    });
  for (const [name, description] of [
    ['reset-mfa', 'clear TOTP and recovery codes; the user re-enrols at next login'],
    ['disable', 'disable a user and end their sessions'],
    ['enable', 'enable a disabled user'],
    ['unlock', 'lift a lockout after failed logins'],
  ] as const satisfies readonly (readonly [UserAction, string])[]) {
    user
      .command(`${name} <username>`)
      .description(description)
      .option(...configOption)
      .action(async (username: string, options: { config?: string }) => {
        try {
          await withState(options.config, async (state) => {
            await applyUserAction(state.users, username, name);
            await state.audit.append({
              actor: actor(),
              actorRole: 'admin',
              action: `user.${name}`,
              targetType: 'user',
              targetId: username,
              outcome: 'success',
              ip: 'local',
            });
          });
          process.stdout.write(`${JSON.stringify({ username, done: name })}\n`);
        } catch (error) {
          fail(error);
        }
      });
  }
}
