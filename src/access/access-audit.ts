/**
 * Audit records of the access operations (JIT grants, break-glass, access reviews, stale
 * accounts), written in the transaction of the change (45 CFR 164.312(b)); refused attempts are
 * recorded too (45 CFR 164.308(a)(1)(ii)(D), 164.308(a)(5)(ii)(C)). Identifiers and codes only:
 * free-text reasons and notes stay in their own rows, never in the audit log.
 */
import { isIP } from 'node:net';
import { isAppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import {
  appendAudit,
  AUDIT_LIMITS,
  type AppendedAudit,
  type AuditActor,
  type AuditDetailValue,
  type AuditSubject,
} from '../audit/index.js';
import type { Caller, RequestMeta } from '../identity/index.js';

/** Who acted: a signed-in user, an operator at the CLI, or the system (a scheduled job). */
export type AccessActor = Caller | 'cli' | 'system';

export interface AccessAuditEvent {
  readonly tenantId: TenantId;
  readonly actor: AccessActor;
  readonly action: string;
  readonly outcome: 'success' | 'failure' | 'denied';
  readonly subjects?: readonly AuditSubject[];
  /** A code (e.g. the break-glass category), never free text. */
  readonly reason?: string;
  readonly details?: Readonly<Record<string, AuditDetailValue>>;
  readonly meta?: RequestMeta | undefined;
}

function actorOf(a: AccessActor): AuditActor {
  if (a === 'cli') return { kind: 'cli' };
  if (a === 'system') return { kind: 'system' };
  return { kind: 'user', userId: a.userId, sessionId: a.sessionId };
}

/** Appends one access-operation record in `tx`. */
export async function auditAccess(
  tx: Tx,
  clock: Clock,
  e: AccessAuditEvent,
): Promise<AppendedAudit> {
  const ip = e.meta?.ip !== undefined && isIP(e.meta.ip) !== 0 ? e.meta.ip : undefined;
  const ua = e.meta?.userAgent?.slice(0, AUDIT_LIMITS.userAgent).replace(/[^\x20-\x7e]/g, '');
  return appendAudit(
    tx,
    {
      tenantId: e.tenantId,
      actor: actorOf(e.actor),
      action: e.action,
      outcome: e.outcome,
      ...(e.subjects === undefined ? {} : { subjects: e.subjects }),
      ...(e.reason === undefined ? {} : { reason: e.reason }),
      source: {
        ...(ip === undefined ? {} : { ip }),
        ...(ua === undefined || ua === '' ? {} : { userAgent: ua }),
      },
      ...(e.meta?.requestId === undefined ? {} : { requestId: e.meta.requestId }),
      ...(e.details === undefined ? {} : { details: e.details }),
    },
    clock,
  );
}

/**
 * Runs `fn`; when it refuses with `forbidden` (self-approval, self-review, not a reviewer), the
 * refused attempt is audited as `denied` in a transaction of its own (the refused one rolled
 * back) and the error is rethrown. Missing records (`not_found`) are not recorded: that would
 * leak nothing but would let anyone fill the log.
 */
export async function auditRefusal<T>(
  db: Database,
  clock: Clock,
  attempt: Omit<AccessAuditEvent, 'outcome'>,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isAppError(err) && err.code === 'forbidden') {
      await db.withTenant(attempt.tenantId, (tx) =>
        auditAccess(tx, clock, {
          ...attempt,
          outcome: 'denied',
          details: { ...attempt.details, refused: err.detail ?? 'forbidden' },
        }),
      );
    }
    throw err;
  }
}
