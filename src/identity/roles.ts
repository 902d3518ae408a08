/**
 * Roles stored in memberships. The catalog lives in the access module (src/access/role-catalog.ts);
 * this file keeps identity's imports stable. Deny by default: an unknown role grants nothing.
 */
import { BUILT_IN_CATALOG, permissionsOf } from '../access/role-catalog.js';

export { BOOTSTRAP_ROLES, ROLES, isRole, type Role } from '../access/role-catalog.js';

/** The permissions a set of roles grants under the built-in catalog. */
export function permissionsFor(roles: readonly string[]): ReadonlySet<string> {
  return permissionsOf(BUILT_IN_CATALOG, roles);
}
