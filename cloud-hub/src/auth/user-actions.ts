import { VigilError } from '@vigil/shared';
import type { UserRecord, UserStore } from './user-store.js';

export const USER_ACTIONS = ['disable', 'enable', 'reset-mfa', 'unlock'] as const;
export type UserAction = (typeof USER_ACTIONS)[number];

/**
 * An administrator's action on a user, the same from the API and the CLI. The last enabled admin
 * cannot be disabled (nobody could then manage users from the dashboard); `vigil-hub user enable`
 * and `user unlock` on the hub's machine are the way back in for a locked-out or disabled admin.
 */
export async function applyUserAction(users: UserStore, username: string, action: UserAction): Promise<UserRecord> {
  const user = await users.getUser(username);
  if (!user) throw new VigilError('VIGIL_USER_UNKNOWN', `user ${username} does not exist`);
  if (action === 'disable') {
    if (user.role === 'admin' && !user.disabledAt) {
      const admins = (await users.listUsers()).filter((u) => u.role === 'admin' && !u.disabledAt);
      if (admins.length <= 1) {
        throw new VigilError(
          'VIGIL_USER_LAST_ADMIN',
          `${username} is the last enabled admin: enable or create another admin first`,
        );
      }
    }
    await users.updateUser(username, { disabledAt: new Date().toISOString() });
    await users.deleteSessionsOf(username);
  } else if (action === 'enable') {
    await users.updateUser(username, { disabledAt: null });
  } else if (action === 'unlock') {
    await users.updateUser(username, { lockedUntil: null, failedLogins: 0 });
  } else {
    await users.updateUser(username, { totpSecret: null, totpPendingSecret: null, totpLastStep: 0 });
    await users.setRecoveryCodes(username, []);
    await users.deleteSessionsOf(username);
  }
  return (await users.getUser(username)) as UserRecord;
}
