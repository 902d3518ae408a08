/**
 * Roles stored in memberships, mapped to the permissions routes declare. A placeholder table
 * until the access-control issue owns the catalog; deny by default (an unknown role grants
 * nothing).
 */
export const ROLE_PERMISSIONS = {
  tenant_admin: ['user.admin', 'sso.admin'],
  security_admin: ['keys.admin', 'audit.read', 'alerts.read', 'alerts.manage'],
  prescriber: [],
  staff: [],
  prescriber_agent: [],
  pharmacist: [],
  pharmacy_technician: [],
  care_coordinator: [],
  support: [],
  compliance_officer: ['audit.read', 'audit.export', 'alerts.read', 'alerts.manage'],
  auditor: ['audit.read', 'audit.export', 'alerts.read'],
} as const satisfies Readonly<Record<string, readonly string[]>>;

export type Role = keyof typeof ROLE_PERMISSIONS;

export const ROLES: readonly Role[] = Object.keys(ROLE_PERMISSIONS) as Role[];

export function isRole(value: string): value is Role {
  return Object.hasOwn(ROLE_PERMISSIONS, value);
}

/** The permissions a set of roles grants (unknown roles grant nothing). */
export function permissionsFor(roles: readonly string[]): ReadonlySet<string> {
  const out = new Set<string>();
  for (const r of roles) if (isRole(r)) for (const p of ROLE_PERMISSIONS[r]) out.add(p);
  return out;
}

/** The roles the first administrator of a tenant gets at bootstrap. */
export const BOOTSTRAP_ROLES: readonly Role[] = ['tenant_admin', 'security_admin'];
