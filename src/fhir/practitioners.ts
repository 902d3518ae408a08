import type { TenantId } from '../core/index.js';
import type { Database } from '../db/index.js';

/** A prescriber of the tenant as a FHIR Practitioner needs it. */
export interface PractitionerRecord {
  readonly userId: string;
  readonly displayName: string;
  readonly active: boolean;
  /** From the active identity proofing (21 CFR 1311.105), when the prescriber was proofed. */
  readonly npi: string | undefined;
}

/**
 * One prescriber of `tenantId` (a member holding the prescriber role), or undefined: another
 * tenant's user, a user without the role and a missing id all look the same. Workforce
 * directory data, not PHI.
 */
export async function findPractitioner(
  db: Database,
  tenantId: TenantId,
  userId: string,
): Promise<PractitionerRecord | undefined> {
  return db.withTenant(tenantId, async (tx) => {
    const { rows } = await tx.query<{
      id: string;
      display_name: string;
      status: string;
      npi: string | null;
    }>(
      `SELECT u.id, u.display_name, u.status, p.npi
         FROM memberships m JOIN users u ON u.id = m.user_id
         LEFT JOIN identity_proofings p
           ON p.user_id = u.id AND p.tenant_id = m.tenant_id AND p.status = 'active'
        WHERE m.tenant_id = scrip_current_tenant() AND m.user_id = $1 AND 'prescriber' = ANY(m.roles)`,
      [userId],
    );
    const r = rows[0];
    if (r === undefined) return undefined;
    return {
      userId: r.id,
      displayName: r.display_name,
      active: r.status === 'active',
      npi: r.npi ?? undefined,
    };
  });
}
