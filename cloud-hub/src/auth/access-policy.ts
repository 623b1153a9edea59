import type { Role } from './user-store.js';

/**
 * What each role may do. Routes name a permission, never a role, so this table is the one place
 * that decides access (and the one the role × route tests read).
 */
export const PERMISSIONS = [
  'results:read',
  'patients:read',
  'alerts:read',
  'alerts:write',
  'devices:read',
  'telemetry:read',
  'models:read',
  'rollouts:read',
  'rollouts:write',
  'users:read',
  'users:write',
  'audit:read',
  'events:read',
  'verdicts:read',
  'verdicts:write',
  'performance:read',
  'ops-alerts:write',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const CLINICAL: Permission[] = [
  'results:read',
  'patients:read',
  'alerts:read',
  'alerts:write',
  'events:read',
  'verdicts:read',
  'verdicts:write',
  'performance:read',
];
const FLEET: Permission[] = [
  'devices:read',
  'telemetry:read',
  'models:read',
  'rollouts:read',
  'rollouts:write',
  'events:read',
  'performance:read',
  'ops-alerts:write',
];

export const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = {
  clinician: new Set(CLINICAL),
  ops: new Set(FLEET),
  admin: new Set(PERMISSIONS),
};

export function roleAllows(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].has(permission);
}
