/**
 * The fixed permission catalog (45 CFR 164.308(a)(4), 164.312(a)(1); OWASP ASVS V4). Routes
 * declare one of these; roles are built from them. The catalog is code, not data: a permission
 * only means something when a route checks it, so a tenant can regroup permissions into roles
 * but never invent one.
 */
export const PERMISSIONS = [
  // Clinical data (reached only through a relationship: care team, routed prescription, grant).
  'patient.read',
  'patient.write',
  'rx.read',
  'rx.draft',
  'rx.sign',
  'rx.sign.controlled',
  'rx.cancel',
  'rx.respond',
  'pharmacy.receive',
  'pharmacy.dispense',
  // Reference data.
  'catalog.read',
  'catalog.manage',
  'pharmacies.read',
  'pharmacies.manage',
  // Audit and monitoring.
  'audit.read',
  'audit.export',
  'alerts.read',
  'alerts.manage',
  // Administration.
  'user.read',
  'user.admin',
  'role.admin',
  'sso.admin',
  'keys.admin',
  'epcs.grant',
  // Access control.
  'access.policy',
  'access.grant.request',
  'access.grant.approve',
  'access.review',
  'breakglass.use',
  'breakglass.review',
  // Compliance program.
  'compliance.read',
  'compliance.manage',
] as const;

export type CatalogPermission = (typeof PERMISSIONS)[number];

const PERMISSION_SET: ReadonlySet<string> = new Set(PERMISSIONS);

export function isPermission(value: string): value is CatalogPermission {
  return PERMISSION_SET.has(value);
}

/** Permissions that touch clinical (PHI) data; roles without any of them never see PHI. */
export const CLINICAL_PERMISSIONS: ReadonlySet<CatalogPermission> = new Set([
  'patient.read',
  'patient.write',
  'rx.read',
  'rx.draft',
  'rx.sign',
  'rx.sign.controlled',
  'rx.cancel',
  'rx.respond',
  'pharmacy.receive',
  'pharmacy.dispense',
  'breakglass.use',
]);
