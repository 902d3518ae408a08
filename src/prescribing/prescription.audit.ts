import { createHash } from 'node:crypto';
import type { Clock } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { appendAudit, type AuditEvent } from '../audit/index.js';
import type { Actor, RecordedFinding, RequestMeta, SafetyFinding } from './prescription.types.js';

type Details = NonNullable<AuditEvent['details']>;

/**
 * One audit record of the prescription lifecycle (45 CFR 164.312(b); 21 CFR 1311.120(b)(23)),
 * in the caller's transaction: ids only (prescription, patient), never PHI; the request id ties it
 * to the HTTP call. A system actor (the network) has no user.
 */
export async function auditRx(
  tx: Tx,
  clock: Clock,
  actor: Actor | { readonly tenantId: Actor['tenantId']; readonly system: string },
  action: string,
  ids: { readonly prescriptionId: string; readonly patientId: string },
  meta: RequestMeta,
  details: Details = {},
  outcome: 'success' | 'failure' = 'success',
): Promise<void> {
  const event: AuditEvent = {
    tenantId: actor.tenantId,
    actor:
      'system' in actor
        ? { kind: 'system' }
        : {
            kind: 'user',
            userId: actor.userId,
            sessionId: actor.sessionId,
            ...(actor.roles[0] === undefined ? {} : { role: [...actor.roles].sort().join(',') }),
          },
    action,
    outcome,
    subjects: [
      { type: 'prescription', id: ids.prescriptionId },
      { type: 'patient', id: ids.patientId },
    ],
    ...(meta.requestId === undefined ? {} : { requestId: meta.requestId }),
    source: {
      ...(meta.ip === undefined ? {} : { ip: meta.ip }),
      ...(meta.userAgent === undefined ? {} : { userAgent: meta.userAgent }),
    },
    details,
  };
  await appendAudit(tx, event, clock);
}

/** A stable key for a finding (kind + message), so an override names exactly what it overrides. */
export function findingKey(f: SafetyFinding): string {
  const digest = createHash('sha256').update(`${f.kind}\u0000${f.message}`).digest('hex');
  return `${f.kind}:${digest.slice(0, 16)}`;
}

export interface Override {
  readonly key: string;
  readonly reason: string;
}

/**
 * Joins fresh findings with the prescriber's overrides. Every finding above `info` needs a
 * reason; returns the findings as recorded, or the keys still unresolved.
 */
export function resolveFindings(
  findings: readonly SafetyFinding[],
  overrides: readonly Override[],
): { recorded: RecordedFinding[]; unresolved: string[] } {
  const reasons = new Map(overrides.map((o) => [o.key, o.reason.trim()]));
  const recorded: RecordedFinding[] = [];
  const unresolved: string[] = [];
  for (const f of findings) {
    const key = findingKey(f);
    const reason = reasons.get(key);
    if (f.severity !== 'info' && (reason === undefined || reason === '')) unresolved.push(key);
    recorded.push({
      kind: f.kind,
      severity: f.severity,
      message: f.message,
      key,
      ...(reason === undefined || reason === '' ? {} : { overrideReason: reason }),
    });
  }
  return { recorded, unresolved };
}
