import { randomUUID } from 'node:crypto';
import { appendAudit, type AuditDetailValue } from '../audit/index.js';
import type { ChangeApplierRegistry, ChangeKind } from './change-applier.js';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { MonitoringActions } from '../monitoring/index.js';

const {
  CATALOG_CHANGE_APPLY,
  CATALOG_CHANGE_APPROVE,
  CATALOG_CHANGE_PROPOSE,
  CATALOG_CHANGE_REJECT,
} = MonitoringActions;

/**
 * Change control for reference data that affects patient safety: the drug catalog, the formulary
 * and pharmacy routing rules. A change is a proposal with an effective date; a second person
 * holding `catalog.manage` approves it (never the proposer: the database refuses it too), and it
 * takes effect on or after its date. Every proposal, decision and application is an audit record
 * in the same transaction (45 CFR 164.312(b), (c)(1); 164.308(a)(1)(ii)(D)), and proposals and
 * their events are never deleted.
 *
 * What "applying" means belongs to each kind: domains register a `ChangeApplier`
 * (change-applier.ts).
 */
export {
  CHANGE_KINDS,
  createChangeApplierRegistry,
  type ChangeApplier,
  type ChangeApplierRegistry,
  type ChangeApplyContext,
  type ChangeKind,
} from './change-applier.js';
export type ProposalStatus = 'proposed' | 'approved' | 'rejected' | 'applied';

export interface ChangeProposal {
  readonly id: string;
  readonly kind: ChangeKind;
  readonly summary: string;
  readonly effectiveAt: Date;
  readonly status: ProposalStatus;
  readonly proposedBy: string;
  readonly proposedAt: Date;
  readonly decidedBy: string | null;
  readonly decidedAt: Date | null;
  readonly decisionNote: string | null;
  readonly appliedAt: Date | null;
  readonly appliedVersion: number | null;
}

/** Who acts: a user (HTTP or an authenticated CLI operator). */
export interface ChangeActor {
  readonly userId: string;
  readonly sessionId?: string | undefined;
  readonly requestId?: string | undefined;
}

interface ProposalRow {
  id: string;
  kind: ChangeKind;
  summary: string;
  effective_at: Date;
  status: ProposalStatus;
  proposed_by: string;
  proposed_at: Date;
  decided_by: string | null;
  decided_at: Date | null;
  decision_note: string | null;
  applied_at: Date | null;
  applied_version: number | null;
}

const COLUMNS =
  'id, kind, summary, effective_at, status, proposed_by, proposed_at, decided_by, decided_at, decision_note, applied_at, applied_version';

function fromRow(r: ProposalRow): ChangeProposal {
  return {
    id: r.id,
    kind: r.kind,
    summary: r.summary,
    effectiveAt: r.effective_at,
    status: r.status,
    proposedBy: r.proposed_by,
    proposedAt: r.proposed_at,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    decisionNote: r.decision_note,
    appliedAt: r.applied_at,
    appliedVersion: r.applied_version,
  };
}

export interface ProposeInput {
  readonly kind: ChangeKind;
  readonly payload: unknown;
  readonly summary: string;
  /** Defaults to now (takes effect on approval). */
  readonly effectiveAt?: Date | undefined;
}

async function audit(
  tx: Tx,
  clock: Clock,
  tenantId: TenantId,
  actor: ChangeActor | 'system',
  action: string,
  proposalId: string,
  details: Record<string, AuditDetailValue>,
  outcome: 'success' | 'denied' = 'success',
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
              ...(actor.sessionId === undefined ? {} : { sessionId: actor.sessionId }),
            },
      action,
      outcome,
      subjects: [{ type: 'change_proposal', id: proposalId }],
      ...(actor !== 'system' && actor.requestId !== undefined
        ? { requestId: actor.requestId }
        : {}),
      details,
    },
    clock,
  );
}

/**
 * Applies an approved proposal in `tx` (locked by the caller): next catalog version, the kind's
 * applier, the version record, status `applied`, event and audit record.
 */
async function applyLocked(
  tx: Tx,
  clock: Clock,
  appliers: ChangeApplierRegistry,
  tenantId: TenantId,
  row: ProposalRow,
  actor: ChangeActor | 'system',
): Promise<ChangeProposal> {
  const applier = appliers.get(row.kind);
  if (applier === undefined) return fromRow(row);
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`scrip-catalog:${tenantId}`]);
  const { rows: v } = await tx.query<{ next: number }>(
    'SELECT coalesce(max(version), 0) + 1 AS next FROM catalog_versions',
  );
  const version = v[0]?.next ?? 1;
  const now = clock.now();
  const { rows: p } = await tx.query<{ payload: unknown }>(
    'SELECT payload FROM change_proposals WHERE id = $1',
    [row.id],
  );
  const details = await applier.apply(tx, p[0]?.payload, {
    tenantId,
    proposalId: row.id,
    version,
    now,
  });
  await tx.query(
    `INSERT INTO catalog_versions (tenant_id, version, proposal_id, kind, applied_at, details)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [tenantId, version, row.id, row.kind, now, JSON.stringify(details)],
  );
  const { rows } = await tx.query<ProposalRow>(
    `UPDATE change_proposals SET status = 'applied', applied_at = $2, applied_version = $3
      WHERE id = $1 RETURNING ${COLUMNS}`,
    [row.id, now, version],
  );
  await tx.query(
    `INSERT INTO change_proposal_events (tenant_id, proposal_id, event, actor, at)
     VALUES ($1, $2, 'applied', $3, $4)`,
    [tenantId, row.id, actor === 'system' ? null : actor.userId, now],
  );
  await audit(tx, clock, tenantId, actor, CATALOG_CHANGE_APPLY, row.id, {
    kind: row.kind,
    version,
    ...details,
  });
  const applied = rows[0];
  if (applied === undefined) throw new AppError('internal', 'applied proposal vanished');
  return fromRow(applied);
}

export class ChangeControlService {
  constructor(
    private readonly db: Database,
    private readonly appliers: ChangeApplierRegistry,
    private readonly clock: Clock,
  ) {}

  async propose(
    tenantId: TenantId,
    actor: ChangeActor,
    input: ProposeInput,
  ): Promise<ChangeProposal> {
    const applier = this.appliers.get(input.kind);
    if (applier === undefined) {
      throw new AppError('validation_failed', `changes of kind ${input.kind} are not enabled`, {
        detail: 'kind',
      });
    }
    applier.validate(input.payload);
    const summary = input.summary.trim();
    if (summary === '' || summary.length > 500) {
      throw new AppError('validation_failed', 'summary must be 1 to 500 characters', {
        detail: 'summary',
      });
    }
    const now = this.clock.now();
    const effectiveAt = input.effectiveAt ?? now;
    if (Number.isNaN(effectiveAt.getTime())) {
      throw new AppError('validation_failed', 'effectiveAt is not a date', {
        detail: 'effectiveAt',
      });
    }
    const id = randomUUID();
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<ProposalRow>(
        `INSERT INTO change_proposals (id, tenant_id, kind, payload, summary, effective_at, status, proposed_by, proposed_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'proposed', $7, $8) RETURNING ${COLUMNS}`,
        [
          id,
          tenantId,
          input.kind,
          JSON.stringify(input.payload),
          summary,
          effectiveAt,
          actor.userId,
          now,
        ],
      );
      await tx.query(
        `INSERT INTO change_proposal_events (tenant_id, proposal_id, event, actor, at)
         VALUES ($1, $2, 'proposed', $3, $4)`,
        [tenantId, id, actor.userId, now],
      );
      await audit(tx, this.clock, tenantId, actor, CATALOG_CHANGE_PROPOSE, id, {
        kind: input.kind,
        effectiveAt: effectiveAt.toISOString(),
      });
      const row = rows[0];
      if (row === undefined) throw new AppError('internal', 'proposal insert returned no row');
      return fromRow(row);
    });
  }

  /**
   * Approves (and applies at once when the effective date has come). The proposer approving their
   * own change is refused with `forbidden` and recorded as a denied audit event.
   */
  async approve(
    tenantId: TenantId,
    actor: ChangeActor,
    id: string,
    note?: string,
  ): Promise<ChangeProposal> {
    return this.#decide(tenantId, actor, id, 'approved', note);
  }

  async reject(
    tenantId: TenantId,
    actor: ChangeActor,
    id: string,
    note?: string,
  ): Promise<ChangeProposal> {
    return this.#decide(tenantId, actor, id, 'rejected', note);
  }

  async #decide(
    tenantId: TenantId,
    actor: ChangeActor,
    id: string,
    decision: 'approved' | 'rejected',
    note: string | undefined,
  ): Promise<ChangeProposal> {
    const action = decision === 'approved' ? CATALOG_CHANGE_APPROVE : CATALOG_CHANGE_REJECT;
    const result = await this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<ProposalRow>(
        `SELECT ${COLUMNS} FROM change_proposals WHERE id = $1 FOR UPDATE`,
        [id],
      );
      const row = rows[0];
      if (row === undefined) throw new AppError('not_found', 'no such change proposal');
      if (row.status !== 'proposed') {
        throw new AppError('conflict', `the proposal is already ${row.status}`, {
          detail: row.status,
        });
      }
      if (row.proposed_by === actor.userId) {
        // Two-person rule: the refusal itself is evidence, so it commits.
        await audit(
          tx,
          this.clock,
          tenantId,
          actor,
          action,
          id,
          {
            kind: row.kind,
            reason: 'self_approval',
          },
          'denied',
        );
        return 'self' as const;
      }
      const now = this.clock.now();
      const { rows: updated } = await tx.query<ProposalRow>(
        `UPDATE change_proposals SET status = $2, decided_by = $3, decided_at = $4, decision_note = $5
          WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, decision, actor.userId, now, note ?? null],
      );
      await tx.query(
        `INSERT INTO change_proposal_events (tenant_id, proposal_id, event, actor, at, note)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [tenantId, id, decision, actor.userId, now, note ?? null],
      );
      await audit(tx, this.clock, tenantId, actor, action, id, {
        kind: row.kind,
        proposedBy: row.proposed_by,
      });
      const decided = updated[0];
      if (decided === undefined) throw new AppError('internal', 'decision returned no row');
      if (decision === 'approved' && decided.effective_at.getTime() <= now.getTime()) {
        return applyLocked(tx, this.clock, this.appliers, tenantId, decided, actor);
      }
      return fromRow(decided);
    });
    if (result === 'self') {
      throw new AppError(
        'forbidden',
        'a change must be approved by someone other than its proposer',
        {
          detail: 'self_approval',
        },
      );
    }
    return result;
  }

  async get(tenantId: TenantId, id: string): Promise<ChangeProposal & { payload: unknown }> {
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<ProposalRow & { payload: unknown }>(
        `SELECT ${COLUMNS}, payload FROM change_proposals WHERE id = $1`,
        [id],
      );
      const row = rows[0];
      if (row === undefined) throw new AppError('not_found', 'no such change proposal');
      return { ...fromRow(row), payload: row.payload };
    });
  }

  /** What a pending proposal would change now, for the approver (the kind's preview). */
  async preview(tenantId: TenantId, id: string): Promise<Record<string, AuditDetailValue>> {
    const p = await this.get(tenantId, id);
    const applier = this.appliers.get(p.kind);
    if (applier?.preview === undefined) return {};
    const preview = applier.preview.bind(applier);
    return this.db.withTenant(tenantId, (tx) => preview(tx, p.payload));
  }

  async list(
    tenantId: TenantId,
    filter: { status?: ProposalStatus; kind?: ChangeKind; limit: number; offset: number },
  ): Promise<ChangeProposal[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<ProposalRow>(
        `SELECT ${COLUMNS} FROM change_proposals
          WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR kind = $2)
          ORDER BY proposed_at DESC, id LIMIT $3 OFFSET $4`,
        [filter.status ?? null, filter.kind ?? null, filter.limit, filter.offset],
      );
      return rows.map(fromRow);
    });
  }
}

/**
 * Applies every approved proposal of `tenantId` whose effective date has come, oldest first, one
 * transaction each (`SKIP LOCKED`, so several nodes may run it at once). Returns the applied ids.
 * Kinds without a registered applier wait. The lead schedules this (e.g. every minute).
 */
export async function applyDueChanges(
  db: Database,
  tenantId: TenantId,
  clock: Clock,
  appliers: ChangeApplierRegistry,
): Promise<string[]> {
  const applied: string[] = [];
  for (;;) {
    const next = await db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<ProposalRow>(
        `SELECT ${COLUMNS} FROM change_proposals
          WHERE status = 'approved' AND effective_at <= $1 AND kind = ANY($2::text[])
          ORDER BY effective_at, decided_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [clock.now(), appliers.kinds()],
      );
      const row = rows[0];
      if (row === undefined) return undefined;
      return (await applyLocked(tx, clock, appliers, tenantId, row, 'system')).id;
    });
    if (next === undefined) return applied;
    applied.push(next);
  }
}
