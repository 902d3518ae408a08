import { AppError } from '../core/index.js';
import { CLINICAL_PERMISSIONS, isPermission, type CatalogPermission } from './permissions.js';

/**
 * The built-in roles (version 0 of every tenant's role catalog). A tenant may publish later
 * versions through the two-person role-catalog change (role-catalog.service.ts); every version
 * must pass {@link checkRoleCatalog}, which keeps the separations the regulations require.
 */
export const BUILT_IN_ROLES = {
  tenant_admin: [
    'user.read',
    'user.admin',
    'role.admin',
    'sso.admin',
    'epcs.grant',
    'access.review',
    'pharmacies.read',
    'pharmacies.manage',
  ],
  security_admin: [
    'keys.admin',
    'audit.read',
    'alerts.read',
    'alerts.manage',
    'user.read',
    'access.policy',
    'access.grant.approve',
    'breakglass.review',
  ],
  prescriber: [
    'patient.read',
    'patient.write',
    'rx.read',
    'rx.draft',
    'rx.sign',
    'rx.sign.controlled',
    'rx.cancel',
    'rx.respond',
    'catalog.read',
    'pharmacies.read',
    'access.grant.request',
    'breakglass.use',
  ],
  /** Drafts for a prescriber, never signs (21 CFR 1311.135(a)). */
  prescriber_agent: [
    'patient.read',
    'patient.write',
    'rx.read',
    'rx.draft',
    'catalog.read',
    'pharmacies.read',
    'access.grant.request',
  ],
  pharmacist: [
    'patient.read',
    'rx.read',
    'pharmacy.receive',
    'pharmacy.dispense',
    'catalog.read',
    'catalog.manage',
    'pharmacies.read',
    'access.grant.request',
    'breakglass.use',
  ],
  pharmacy_technician: ['rx.read', 'pharmacy.receive', 'catalog.read', 'pharmacies.read'],
  care_coordinator: [
    'patient.read',
    'patient.write',
    'rx.read',
    'catalog.read',
    'pharmacies.read',
    'access.grant.request',
  ],
  /** Helps people with their accounts; never sees clinical data. */
  support: ['user.read'],
  compliance_officer: [
    'audit.read',
    'audit.export',
    'alerts.read',
    'alerts.manage',
    'access.review',
    'breakglass.review',
    'compliance.read',
    'compliance.manage',
    'pharmacies.manage',
  ],
  /** Read-only, audit only. */
  auditor: ['audit.read', 'audit.export', 'alerts.read', 'compliance.read'],
  /** Signed in, nothing else (the default for accounts created by SSO). */
  staff: [],
} as const satisfies Readonly<Record<string, readonly CatalogPermission[]>>;

export type Role = keyof typeof BUILT_IN_ROLES;
export const ROLES: readonly Role[] = Object.keys(BUILT_IN_ROLES) as Role[];

export function isRole(value: string): value is Role {
  return Object.hasOwn(BUILT_IN_ROLES, value);
}

/** A role catalog: each role's permissions. */
export type RoleCatalog = Readonly<Record<Role, readonly CatalogPermission[]>>;

/** Permissions no version of these roles may ever hold. */
const FORBIDDEN: Readonly<Partial<Record<Role, readonly CatalogPermission[]>>> = {
  // An agent may prepare but never sign (21 CFR 1311.135(a), 1311.125).
  prescriber_agent: ['rx.sign', 'rx.sign.controlled'],
  pharmacy_technician: ['pharmacy.dispense', 'rx.sign', 'rx.sign.controlled'],
};

/** Roles that must stay free of clinical data (support) or read-only over the audit (auditor). */
const ONLY: Readonly<Partial<Record<Role, ReadonlySet<CatalogPermission>>>> = {
  auditor: new Set(['audit.read', 'audit.export', 'alerts.read', 'compliance.read']),
  staff: new Set(),
};

/**
 * Validates a proposed catalog: every role present, every permission from the fixed catalog,
 * and the separations kept (agents never sign, support never sees clinical data, auditors stay
 * read-only). Throws `validation_failed` naming the first violation.
 */
export function checkRoleCatalog(input: Readonly<Record<string, readonly string[]>>): RoleCatalog {
  const out: Partial<Record<Role, CatalogPermission[]>> = {};
  for (const key of Object.keys(input)) {
    if (!isRole(key)) throw new AppError('validation_failed', `unknown role ${key}`);
  }
  for (const role of ROLES) {
    const perms = input[role];
    if (perms === undefined) throw new AppError('validation_failed', `role ${role} is missing`);
    const clean: CatalogPermission[] = [];
    for (const p of perms) {
      if (!isPermission(p)) throw new AppError('validation_failed', `unknown permission ${p}`);
      if (FORBIDDEN[role]?.includes(p) === true) {
        throw new AppError('validation_failed', `role ${role} may not hold ${p}`);
      }
      const only = ONLY[role];
      if (only !== undefined && !only.has(p)) {
        throw new AppError('validation_failed', `role ${role} may not hold ${p}`);
      }
      if (role === 'support' && CLINICAL_PERMISSIONS.has(p)) {
        throw new AppError('validation_failed', `role support may not hold ${p}`);
      }
      if (!clean.includes(p)) clean.push(p);
    }
    out[role] = clean.sort();
  }
  return out as RoleCatalog;
}

/** The permissions a set of roles grants under a catalog (unknown roles grant nothing). */
export function permissionsOf(
  catalog: RoleCatalog,
  roles: readonly string[],
): ReadonlySet<CatalogPermission> {
  const out = new Set<CatalogPermission>();
  for (const r of roles) if (isRole(r)) for (const p of catalog[r]) out.add(p);
  return out;
}

export const BUILT_IN_CATALOG: RoleCatalog = checkRoleCatalog(BUILT_IN_ROLES);

/** The roles the first administrator of a tenant gets at bootstrap. */
export const BOOTSTRAP_ROLES: readonly Role[] = ['tenant_admin', 'security_admin'];
