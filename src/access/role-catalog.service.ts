import { randomUUID } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { appendAudit } from '../audit/index.js';
import { BUILT_IN_CATALOG, checkRoleCatalog, type RoleCatalog } from './role-catalog.js';

/** The caller of an administrative action (from the authenticated principal). */
export interface AccessCaller {
  readonly userId: string;
  readonly tenantId: TenantId;
  readonly sessionId: string;
  readonly requestId?: string;
  readonly ip?: string;
  readonly userAgent?: string;
}

export interface RoleCatalogVersion {
  readonly id: string;
  readonly version: number;
  readonly catalog: RoleCatalog;
  readonly reason: string;
  readonly status: 'proposed' | 'approved' | 'rejected';
  readonly proposedBy: string;
  readonly proposedAt: Date;
  readonly decidedBy: string | null;
  readonly decidedAt: Date | null;
}

interface VersionRow {
  id: string;
  version: number;
  catalog: Record<string, string[]>;
  reason: string;
  status: RoleCatalogVersion['status'];
  proposed_by: string;
  proposed_at: Date;
  decided_by: string | null;
  decided_at: Date | null;
}

const COLUMNS =
  'id, version, catalog, reason, status, proposed_by, proposed_at, decided_by, decided_at';

function toVersion(r: VersionRow): RoleCatalogVersion {
  return {
    id: r.id,
    version: r.version,
    catalog: checkRoleCatalog(r.catalog),
    reason: r.reason,
    status: r.status,
    proposedBy: r.proposed_by,
    proposedAt: r.proposed_at,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
  };
}

/**
 * The role catalog in force for the tenant of `tx`: the newest approved version, or the built-in
 * catalog (version 0). Read in the caller's transaction, so a session resolves its permissions
 * under the same snapshot as the rest of its request.
 */
export async function loadRoleCatalog(
  tx: Tx,
): Promise<{ readonly version: number; readonly catalog: RoleCatalog }> {
  const { rows } = await tx.query<{ version: number; catalog: Record<string, string[]> }>(
    `SELECT version, catalog FROM role_catalog_versions
      WHERE tenant_id = scrip_current_tenant() AND status = 'approved'
      ORDER BY version DESC LIMIT 1`,
  );
  const row = rows[0];
  return row === undefined
    ? { version: 0, catalog: BUILT_IN_CATALOG }
    : { version: row.version, catalog: checkRoleCatalog(row.catalog) };
}

/**
 * Roles are data, versioned, and changed under two-person control (45 CFR 164.308(a)(4)(ii)(C)):
 * one administrator proposes a new catalog, a different one approves it; every step is audited
 * and nothing is deleted. A version can never drop the separations in {@link checkRoleCatalog}.
 */
export class RoleCatalogService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  async current(tenantId: TenantId): Promise<{ version: number; catalog: RoleCatalog }> {
    return this.db.withTenant(tenantId, (tx) => loadRoleCatalog(tx));
  }

  async history(tenantId: TenantId): Promise<RoleCatalogVersion[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<VersionRow>(
        `SELECT ${COLUMNS} FROM role_catalog_versions WHERE tenant_id = $1 ORDER BY version DESC`,
        [tenantId],
      );
      return rows.map(toVersion);
    });
  }

  async propose(
    caller: AccessCaller,
    catalog: Readonly<Record<string, readonly string[]>>,
    reason: string,
  ): Promise<RoleCatalogVersion> {
    const checked = checkRoleCatalog(catalog);
    return this.db.withTenant(caller.tenantId, async (tx) => {
      // One proposal at a time keeps versions linear and reviewable.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `scrip-roles:${caller.tenantId}`,
      ]);
      const open = await tx.query(
        `SELECT 1 FROM role_catalog_versions WHERE tenant_id = $1 AND status = 'proposed'`,
        [caller.tenantId],
      );
      if (open.rows.length > 0) {
        throw new AppError('conflict', 'a role catalog proposal is already open');
      }
      const next = await tx.query<{ v: number }>(
        'SELECT coalesce(max(version), 0) + 1 AS v FROM role_catalog_versions WHERE tenant_id = $1',
        [caller.tenantId],
      );
      const id = randomUUID();
      const now = this.clock.now();
      const { rows } = await tx.query<VersionRow>(
        `INSERT INTO role_catalog_versions (id, tenant_id, version, catalog, reason, status, proposed_by, proposed_at)
         VALUES ($1, $2, $3, $4, $5, 'proposed', $6, $7) RETURNING ${COLUMNS}`,
        [
          id,
          caller.tenantId,
          next.rows[0]?.v ?? 1,
          JSON.stringify(checked),
          reason,
          caller.userId,
          now,
        ],
      );
      await this.#audit(tx, caller, 'access.roles.propose', 'success', id, {
        version: next.rows[0]?.v ?? 1,
      });
      return toVersion(rows[0] as VersionRow);
    });
  }

  /** Approves or rejects an open proposal; the proposer cannot decide their own. */
  async decide(
    caller: AccessCaller,
    id: string,
    decision: 'approved' | 'rejected',
  ): Promise<RoleCatalogVersion> {
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const { rows } = await tx.query<VersionRow>(
        `SELECT ${COLUMNS} FROM role_catalog_versions WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
        [caller.tenantId, id],
      );
      const row = rows[0];
      if (row === undefined) throw new AppError('not_found', 'no such proposal');
      if (row.status !== 'proposed') throw new AppError('conflict', 'proposal already decided');
      if (row.proposed_by === caller.userId) {
        await this.#auditOutside(caller, id);
        throw new AppError('forbidden', 'nobody approves their own proposal', { detail: 'self' });
      }
      const updated = await tx.query<VersionRow>(
        `UPDATE role_catalog_versions SET status = $3, decided_by = $4, decided_at = $5
          WHERE tenant_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
        [caller.tenantId, id, decision, caller.userId, this.clock.now()],
      );
      await this.#audit(
        tx,
        caller,
        decision === 'approved' ? 'access.roles.approve' : 'access.roles.reject',
        'success',
        id,
        { version: row.version },
      );
      return toVersion(updated.rows[0] as VersionRow);
    });
  }

  /** A refused self-approval is recorded even though the decision's transaction rolls back. */
  async #auditOutside(caller: AccessCaller, id: string): Promise<void> {
    await this.db.withTenant(caller.tenantId, (tx) =>
      this.#audit(tx, caller, 'access.roles.approve', 'denied', id, { reason: 'self_approval' }),
    );
  }

  async #audit(
    tx: Tx,
    caller: AccessCaller,
    action: string,
    outcome: 'success' | 'denied',
    id: string,
    details: Record<string, string | number>,
  ): Promise<void> {
    await appendAudit(
      tx,
      {
        tenantId: caller.tenantId,
        actor: { kind: 'user', userId: caller.userId, sessionId: caller.sessionId },
        action,
        outcome,
        subjects: [{ type: 'role_catalog', id }],
        ...(caller.requestId === undefined ? {} : { requestId: caller.requestId }),
        source: {
          ...(caller.ip === undefined ? {} : { ip: caller.ip }),
          ...(caller.userAgent === undefined ? {} : { userAgent: caller.userAgent }),
        },
        details,
      },
      this.clock,
    );
  }
}
