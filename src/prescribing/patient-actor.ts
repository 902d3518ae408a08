import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { appendAudit, type AuditEvent } from '../audit/index.js';
import type { AccessMeta, AccessSubject } from '../access/patient-access.js';
import type { CatalogPermission } from '../access/permissions.js';

/** The signed-in user acting on patients (the HTTP Principal fits it). */
export type PatientActor = AccessSubject & { readonly tenantId: TenantId };

/** Deny by default: a permission the actor's roles do not hold is `forbidden`. */
export function requirePermission(who: PatientActor, permission: CatalogPermission): void {
  if (!who.permissions.has(permission)) throw new AppError('forbidden', 'permission denied');
}

/**
 * The audit record of a refused patient change (45 CFR 164.312(b)): ids and counts only, never
 * the submitted values.
 */
export async function auditPatientRefusal(
  tx: Tx,
  clock: Clock,
  who: PatientActor,
  action: string,
  subjects: readonly string[],
  meta: AccessMeta,
  details: Readonly<Record<string, string | number | boolean>>,
): Promise<void> {
  const event: AuditEvent = {
    tenantId: who.tenantId,
    actor: {
      kind: 'user',
      userId: who.userId,
      sessionId: who.sessionId,
      ...(who.roles[0] === undefined ? {} : { role: [...who.roles].sort().join(',') }),
    },
    action,
    outcome: 'failure',
    subjects: subjects.map((id) => ({ type: 'patient', id })),
    ...(meta.requestId === undefined ? {} : { requestId: meta.requestId }),
    source: {
      ...(meta.ip === undefined ? {} : { ip: meta.ip }),
      ...(meta.userAgent === undefined ? {} : { userAgent: meta.userAgent }),
    },
    details,
  };
  await appendAudit(tx, event, clock);
}
