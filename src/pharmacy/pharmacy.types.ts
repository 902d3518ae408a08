/**
 * The vocabulary of the pharmacy side (issue 8 item 6): who acts, the request facts that go into
 * audit records, the states of a received prescription, and the one audit helper every pharmacy
 * record goes through (identifiers and codes only, never PHI: 45 CFR 164.312(b)).
 */
import type { Clock, TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { appendAudit, type AuditEvent } from '../audit/index.js';

/** A signed-in pharmacy user (the authenticated principal, reduced to what the checks need). */
export interface PharmacyActor {
  readonly tenantId: TenantId;
  readonly userId: string;
  readonly sessionId: string;
  readonly permissions: ReadonlySet<string>;
  readonly roles: readonly string[];
}

/** Request facts for audit records. */
export interface RequestMeta {
  readonly requestId?: string;
  readonly ip?: string;
  readonly userAgent?: string;
}

/** Dispensing state of a received prescription. */
export type InboxStatus =
  'received' | 'accepted' | 'partially_dispensed' | 'dispensed' | 'cancelled';
/** The prescriber's cancellation request (CancelRx) and the pharmacist's answer. */
export type CancelStatus = 'none' | 'requested' | 'approved' | 'denied';
/** `verified`: the prescriber system's JWS verified and matched the XML; `unsigned`: none claimed. */
export type SignatureStatus = 'verified' | 'unsigned';

type Details = NonNullable<AuditEvent['details']>;

/** Appends one pharmacy audit record in the caller's transaction. */
export async function auditPharmacy(
  tx: Tx,
  clock: Clock,
  tenantId: TenantId,
  actor: PharmacyActor | 'system',
  action: string,
  subjects: readonly { readonly type: string; readonly id: string }[],
  meta: RequestMeta,
  details: Details = {},
  outcome: AuditEvent['outcome'] = 'success',
): Promise<void> {
  await appendAudit(
    tx,
    {
      tenantId,
      actor:
        actor === 'system'
          ? { kind: 'system' }
          : {
              kind: 'user',
              userId: actor.userId,
              sessionId: actor.sessionId,
              ...(actor.roles[0] === undefined ? {} : { role: [...actor.roles].sort().join(',') }),
            },
      action,
      outcome,
      subjects,
      ...(meta.requestId === undefined ? {} : { requestId: meta.requestId }),
      source: {
        ...(meta.ip === undefined ? {} : { ip: meta.ip }),
        ...(meta.userAgent === undefined ? {} : { userAgent: meta.userAgent }),
      },
      details,
    },
    clock,
  );
}
