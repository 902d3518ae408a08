import type { Clock, TenantId } from '../core/index.js';
import type { Database } from '../db/index.js';
import { appendAudit, type AuditActor } from '../audit/index.js';

/** A prescriber of the tenant as a FHIR Practitioner needs it. */
export interface PractitionerRecord {
  readonly userId: string;
  readonly displayName: string;
  readonly active: boolean;
  /** From the active identity proofing (21 CFR 1311.105), when the prescriber was proofed. */
  readonly npi: string | undefined;
}

/** Which prescribers: one by user id, or those whose active proofing holds this NPI. */
export type PractitionerFilter = { readonly userId: string } | { readonly npi: string };

/** Who looked, for the audit record of the lookup (45 CFR 164.312(b)). */
export interface DirectoryLookup {
  readonly actor: AuditActor;
  readonly requestId?: string;
  readonly clock: Clock;
}

/**
 * Prescribers of `tenantId` (members holding the prescriber role) matching `filter`: another
 * tenant's user, a user without the role and a missing id all look the same (none). Workforce
 * directory data, not PHI; the lookup is audited in the same transaction, with ids only.
 */
export async function findPractitioners(
  db: Database,
  tenantId: TenantId,
  filter: PractitionerFilter,
  lookup: DirectoryLookup,
): Promise<PractitionerRecord[]> {
  return db.withTenant(tenantId, async (tx) => {
    const byId = 'userId' in filter;
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
        WHERE m.tenant_id = scrip_current_tenant() AND 'prescriber' = ANY(m.roles)
          AND ${byId ? 'm.user_id = $1' : 'p.npi = $1'}
        ORDER BY u.id LIMIT 50`,
      [byId ? filter.userId : filter.npi],
    );
    await appendAudit(
      tx,
      {
        tenantId,
        actor: lookup.actor,
        action: 'practitioner.read',
        outcome: 'success',
        subjects: rows.map((r) => ({ type: 'user', id: r.id })),
        ...(lookup.requestId === undefined ? {} : { requestId: lookup.requestId }),
        details: { view: 'fhir', by: byId ? 'id' : 'npi', count: rows.length },
      },
      lookup.clock,
    );
    return rows.map((r) => ({
      userId: r.id,
      displayName: r.display_name,
      active: r.status === 'active',
      npi: r.npi ?? undefined,
    }));
  });
}
