/**
 * What every compliance-program service shares: who is acting, the audit record of each change
 * (45 CFR 164.312(b), 164.316(b)(1)(ii): a written record of each action), input checks that name
 * the bad field, and the retention rule (164.316(b)(2)(i)).
 */
import { AppError, isUuid, type Clock, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { appendAudit, type AuditDetailValue, type AuditSubject } from '../audit/index.js';
import { addDays } from './dates.js';

/** The person changing a program record, in their tenant. */
export interface ProgramActor {
  readonly tenantId: TenantId;
  readonly userId: string;
  readonly sessionId?: string;
  readonly requestId?: string;
}

/** Appends the audit record of a program change in the change's transaction. */
export async function auditProgram(
  tx: Tx,
  clock: Clock,
  actor: ProgramActor | { readonly tenantId: TenantId; readonly system: true },
  action: string,
  subjects: readonly AuditSubject[],
  details: Readonly<Record<string, AuditDetailValue>> = {},
  outcome: 'success' | 'denied' = 'success',
): Promise<number> {
  const who =
    'system' in actor
      ? { kind: 'system' as const }
      : {
          kind: 'user' as const,
          userId: actor.userId,
          ...(actor.sessionId === undefined ? {} : { sessionId: actor.sessionId }),
        };
  const appended = await appendAudit(
    tx,
    {
      tenantId: actor.tenantId,
      actor: who,
      action,
      outcome,
      subjects,
      ...('requestId' in actor && actor.requestId !== undefined
        ? { requestId: actor.requestId }
        : {}),
      details,
    },
    clock,
  );
  return appended.seq;
}

/** `value` trimmed, between `min` and `max` characters, else `validation_failed` naming it. */
export function checkText(field: string, value: string, min: number, max: number): string {
  const v = value.trim();
  if (v.length < min || v.length > max) {
    throw new AppError(
      'validation_failed',
      min > 0
        ? `${field} must have ${String(min)} to ${String(max)} characters`
        : `${field} must have at most ${String(max)} characters`,
      { detail: field },
    );
  }
  // Control characters other than line breaks and tabs have no place in program text.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(v)) {
    throw new AppError('validation_failed', `${field} contains a control character`, {
      detail: field,
    });
  }
  return v;
}

/** An integer between `min` and `max`, else `validation_failed` naming it. */
export function checkInt(field: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new AppError(
      'validation_failed',
      `${field} must be a whole number from ${String(min)} to ${String(max)}`,
      { detail: field },
    );
  }
  return value;
}

/** `value` if it is one of `allowed`, else `validation_failed` naming the field. */
export function checkOneOf<T extends string>(
  field: string,
  value: string,
  allowed: readonly T[],
): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new AppError('validation_failed', `${field} must be one of ${allowed.join(', ')}`, {
      detail: field,
    });
  }
  return value as T;
}

/** A short identifier-like reference (asset ref, control id): printable, no spaces at the ends. */
export function checkRef(field: string, value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,199}$/.test(value)) {
    throw new AppError(
      'validation_failed',
      `${field} must be 1-200 letters, digits or _ . : / @ -`,
      { detail: field },
    );
  }
  return value;
}

/** A list of references without duplicates, at most `max`. */
export function checkRefs(field: string, values: readonly string[], max = 50): string[] {
  if (values.length > max) {
    throw new AppError('validation_failed', `${field}: at most ${String(max)} entries`, {
      detail: field,
    });
  }
  return [...new Set(values.map((v) => checkRef(field, v)))];
}

/** An id that names nothing in this tenant answers like a missing one (no existence oracle). */
export function notFound(what: string): AppError {
  return new AppError('not_found', `${what} not found`);
}

/** `id` when it is a UUID; anything else is simply not found. */
export function checkId(what: string, id: string): string {
  if (!isUuid(id)) throw notFound(what);
  return id;
}

/** The base version a revision was made from no longer current: someone changed it meanwhile. */
export function staleVersion(what: string, current: number): AppError {
  return new AppError(
    'conflict',
    `${what} changed meanwhile (now version ${String(current)}); reload and retry`,
    { detail: 'baseVersion' },
  );
}

/** The person must belong to the tenant (owners, approvers, assignees). */
export async function assertMember(tx: Tx, tenantId: TenantId, field: string, userId: string) {
  const ok =
    isUuid(userId) &&
    (
      await tx.query(
        `SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id
          WHERE m.tenant_id = $1 AND m.user_id = $2`,
        [tenantId, userId],
      )
    ).rows.length === 1;
  if (!ok) {
    throw new AppError('validation_failed', `${field} is not a member of this tenant`, {
      detail: field,
    });
  }
}

/**
 * Every entry of `refs` is the record id of an asset in this tenant's inventory, so that an
 * inventory change finds the risks on it (45 CFR 164.308(a)(1)(ii)(A): risks are analysed per
 * asset); a free-text reference would silently never be reassessed. A retired asset may stay where
 * it is already linked (`alreadyLinked`), never be newly linked. Else `validation_failed` naming
 * `field`, before anything is written.
 */
export async function assertInventoryAssets(
  tx: Tx,
  tenantId: TenantId,
  field: string,
  refs: readonly string[],
  alreadyLinked: readonly string[] = [],
): Promise<void> {
  const unknown = new AppError(
    'validation_failed',
    `${field}: every entry must be the id of an active asset in the inventory`,
    { detail: field },
  );
  if (!refs.every(isUuid)) throw unknown;
  if (refs.length === 0) return;
  const { rows } = await tx.query<{ record_id: string; status: string }>(
    `SELECT record_id, status FROM compliance_assets
      WHERE tenant_id = $1 AND record_id = ANY($2::uuid[]) AND superseded_at IS NULL`,
    [tenantId, refs],
  );
  const status = new Map(rows.map((r) => [r.record_id, r.status]));
  for (const ref of refs) {
    const s = status.get(ref);
    if (s === undefined || (s !== 'active' && !alreadyLinked.includes(ref))) throw unknown;
  }
}

/** Serialises changes to one record across transactions (version and entry numbering). */
export async function lockRecord(tx: Tx, kind: string, id: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
    `compliance:${kind}:${id}`,
  ]);
}

/** 164.316(b)(2)(i): documentation is retained six years from creation or last effective date. */
export const RETENTION_YEARS = 6;

/** The earliest day a program record may be destroyed (nothing in this module deletes it). */
export function retainUntil(createdOn: string, lastEffectiveOn: string | null = null): string {
  const from =
    lastEffectiveOn !== null && lastEffectiveOn > createdOn ? lastEffectiveOn : createdOn;
  const year = Number(from.slice(0, 4)) + RETENTION_YEARS;
  // Feb 29 + 6 years is not a date: the day after Feb 28 keeps the full six years.
  const candidate = `${String(year)}${from.slice(4)}`;
  return from.slice(5) === '02-29' ? addDays(`${String(year)}-02-28`, 1) : candidate;
}

/** ISO string of a timestamp column, or null. */
export function iso(d: Date | null): string | null {
  return d === null ? null : d.toISOString();
}
