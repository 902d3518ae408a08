import type { Clock } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { AppError } from '../core/index.js';
import { appendAudit, type AuditEvent } from '../audit/index.js';
import type { CatalogPermission } from './permissions.js';

/** Why a user may see a patient: the relationship found for this access. */
export type AccessBasis =
  | { readonly kind: 'care_team' }
  | { readonly kind: 'grant'; readonly grantId: string }
  | {
      readonly kind: 'break_glass';
      readonly breakGlassId: string;
      readonly category: string;
      readonly reason: string;
    };

/** Who is asking (the authenticated principal, reduced to what the checks need). */
export interface AccessSubject {
  readonly userId: string;
  readonly sessionId: string;
  readonly permissions: ReadonlySet<string>;
  readonly roles: readonly string[];
}

/** Request facts that go into the audit record of an access. */
export interface AccessMeta {
  readonly requestId?: string;
  readonly ip?: string;
  readonly userAgent?: string;
}

/** A kind of relationship between users and patients: care team, JIT grant, break-glass. */
interface RelationshipSource {
  readonly name: string;
  /** The patients among `patientIds` this source relates to the user, with the basis. */
  find(
    tx: Tx,
    who: AccessSubject,
    patientIds: readonly string[],
    need: CatalogPermission,
    now: Date,
  ): Promise<ReadonlyMap<string, AccessBasis>>;
}

const WRITE_PERMISSIONS: ReadonlySet<CatalogPermission> = new Set([
  'patient.write',
  'rx.draft',
  'rx.sign',
  'rx.sign.controlled',
  'rx.cancel',
  'rx.respond',
]);

const careTeam: RelationshipSource = {
  name: 'care_team',
  async find(tx, who, ids) {
    const { rows } = await tx.query<{ patient_id: string }>(
      `SELECT patient_id FROM care_team
        WHERE tenant_id = scrip_current_tenant() AND user_id = $1 AND patient_id = ANY($2::uuid[])
          AND ended_at IS NULL`,
      [who.userId, ids],
    );
    return new Map(rows.map((r) => [r.patient_id, { kind: 'care_team' } as const]));
  },
};

const grants: RelationshipSource = {
  name: 'grant',
  async find(tx, who, ids, need, now) {
    const { rows } = await tx.query<{ id: string; patient_id: string }>(
      `SELECT DISTINCT ON (patient_id) id, patient_id FROM access_grants
        WHERE tenant_id = scrip_current_tenant() AND user_id = $1 AND patient_id = ANY($2::uuid[])
          AND status = 'approved' AND starts_at <= $3 AND expires_at > $3 AND $4 = ANY(permissions)
        ORDER BY patient_id, expires_at DESC`,
      [who.userId, ids, now, need],
    );
    return new Map(rows.map((r) => [r.patient_id, { kind: 'grant', grantId: r.id } as const]));
  },
};

const breakGlass: RelationshipSource = {
  name: 'break_glass',
  async find(tx, who, ids, need, now) {
    const { rows } = await tx.query<{
      id: string;
      patient_id: string;
      category: string;
      reason: string;
    }>(
      `SELECT DISTINCT ON (patient_id) id, patient_id, category, reason FROM break_glass_sessions
        WHERE tenant_id = scrip_current_tenant() AND user_id = $1 AND patient_id = ANY($2::uuid[])
          AND ended_at IS NULL AND started_at <= $3 AND expires_at > $3 AND (write_allowed OR NOT $4)
        ORDER BY patient_id, expires_at DESC`,
      [who.userId, ids, now, WRITE_PERMISSIONS.has(need)],
    );
    return new Map(
      rows.map((r) => [
        r.patient_id,
        {
          kind: 'break_glass',
          breakGlassId: r.id,
          category: r.category,
          reason: r.reason,
        } as const,
      ]),
    );
  },
};

/**
 * The one choke point for clinical data (45 CFR 164.308(a)(4), 164.502(b)): holding a role is
 * not enough, the user must be related to the patient through a care team, an active JIT grant,
 * or an active break-glass session. Checks are batched (one query per relationship kind for a
 * whole list) and deny by default: a patient without a relationship answers exactly like a
 * missing one (404), so nothing leaks existence. Pharmacy staff do not pass through here: their
 * relationship is membership of the pharmacy a prescription was routed to, checked by the
 * pharmacy inbox (src/pharmacy/pharmacy-inbox.service.ts).
 */
export class PatientAccess {
  // Ordinary relationships first: break-glass is the basis only when nothing else applies.
  readonly #sources: readonly RelationshipSource[] = [careTeam, grants, breakGlass];

  constructor(private readonly clock: Clock) {}

  /** The basis for each accessible patient among `patientIds` (others are absent). */
  async bases(
    tx: Tx,
    who: AccessSubject,
    patientIds: readonly string[],
    need: CatalogPermission,
  ): Promise<Map<string, AccessBasis>> {
    const out = new Map<string, AccessBasis>();
    if (!who.permissions.has(need)) return out;
    let pending = [...new Set(patientIds)];
    const now = this.clock.now();
    for (const source of this.#sources) {
      if (pending.length === 0) break;
      const found = await source.find(tx, who, pending, need, now);
      for (const [id, basis] of found) out.set(id, basis);
      pending = pending.filter((id) => !found.has(id));
    }
    return out;
  }

  /** The basis for one patient, or `not_found` (the same answer as a missing patient). */
  async require(
    tx: Tx,
    who: AccessSubject,
    patientId: string,
    need: CatalogPermission,
  ): Promise<AccessBasis> {
    const basis = (await this.bases(tx, who, [patientId], need)).get(patientId);
    if (basis === undefined) throw new AppError('not_found', 'no such patient');
    return basis;
  }
}

/**
 * Records an access to patients' data before it leaves the server (164.312(b)), in the caller's
 * transaction. Break-glass accesses carry the break-glass session and reason, so every access
 * during an emergency stands out in the log and in its review.
 */
export async function recordPatientAccess(
  tx: Tx,
  clock: Clock,
  who: AccessSubject & { readonly tenantId: string },
  action: string,
  bases: ReadonlyMap<string, AccessBasis>,
  meta: AccessMeta,
  extra: Readonly<Record<string, string | number | boolean>> = {},
): Promise<void> {
  const kinds = new Set([...bases.values()].map((b) => b.kind));
  const glass = [...bases.values()].find((b) => b.kind === 'break_glass');
  const event: AuditEvent = {
    tenantId: who.tenantId as AuditEvent['tenantId'],
    actor: {
      kind: 'user',
      userId: who.userId,
      sessionId: who.sessionId,
      ...(who.roles[0] === undefined ? {} : { role: [...who.roles].sort().join(',') }),
    },
    action,
    outcome: 'success',
    subjects: [...bases.keys()].map((id) => ({ type: 'patient', id })),
    ...(meta.requestId === undefined ? {} : { requestId: meta.requestId }),
    source: {
      ...(meta.ip === undefined ? {} : { ip: meta.ip }),
      ...(meta.userAgent === undefined ? {} : { userAgent: meta.userAgent }),
    },
    // The category, not the free text: the justification stays on the break-glass session row
    // (it may name clinical facts); the record points at it.
    ...(glass === undefined ? {} : { reason: `break_glass:${glass.category}` }),
    details: {
      ...extra,
      basis: [...kinds].sort().join(','),
      count: bases.size,
      ...(glass === undefined
        ? {}
        : { breakGlass: glass.breakGlassId, breakGlassCategory: glass.category }),
    },
  };
  await appendAudit(tx, event, clock);
}
