import { randomUUID } from 'node:crypto';
import { type Clock, type TenantId } from '../../src/core/index.js';
import type { Database } from '../../src/db/index.js';
import type { ProgramActor, RiskInput } from '../../src/compliance/program.js';

/**
 * A member of `tenantId` created directly in the tables (service-level tests need real user rows
 * for owners, authors and approvers, not sign-in). The hash is a placeholder: nobody signs in.
 */
export async function member(
  db: Database,
  tenantId: TenantId,
  roles: readonly string[] = ['compliance_officer'],
): Promise<ProgramActor> {
  const id = randomUUID();
  await db.withTenant(tenantId, async (tx) => {
    await tx.query(
      `INSERT INTO users (id, tenant_id, email, display_name, password_hash, created_at)
       VALUES ($1, $2, $3, 'Test Member', '$argon2id$v=19$m=19456,t=2,p=1$placeholder', now())`,
      [id, tenantId, `${id}@example.test`],
    );
    await tx.query(
      'INSERT INTO memberships (tenant_id, user_id, roles, created_at) VALUES ($1, $2, $3, now())',
      [tenantId, id, roles],
    );
  });
  return { tenantId, userId: id };
}

/**
 * An active asset of `tenantId`'s inventory created directly in the table (risks link to
 * inventory record ids); returns its record id.
 */
export async function asset(
  db: Database,
  tenantId: TenantId,
  name = 'Pharmacy gateway',
): Promise<string> {
  const id = randomUUID();
  await db.withTenant(tenantId, async (tx) => {
    await tx.query(
      `INSERT INTO compliance_assets (id, tenant_id, record_id, version, record_created_at,
         changed_at, changed_by, kind, name, description, owner, phi_classification, attributes,
         source, status)
       VALUES ($1, $2, $1, 1, now(), now(), 'test', 'service', $3, '', 'IT', 'ephi', '{}',
         'manual', 'active')`,
      [id, tenantId, name],
    );
  });
  return id;
}

export function risk(ownerId: string, overrides: Partial<RiskInput> = {}): RiskInput {
  return {
    title: 'Pharmacy gateway credentials leak',
    assetRefs: [],
    threat: 'Credential theft from the gateway host',
    vulnerability: 'Long-lived client certificate on disk',
    likelihood: 4,
    impact: 5,
    residualLikelihood: 2,
    residualImpact: 4,
    ownerId,
    treatment: 'mitigate',
    controlIds: ['ctl.mtls', 'ctl.key-rotation'],
    acceptanceCriteria: '',
    dueDate: '2026-06-30',
    status: 'in_treatment',
    ...overrides,
  };
}

/** Audit records of one tenant, oldest first (as the application role sees them). */
export async function auditOf(
  db: Database,
  tenantId: TenantId,
): Promise<
  {
    seq: number;
    action: string;
    outcome: string;
    actor_kind: string;
    actor_user_id: string | null;
    subjects: { type: string; id: string }[];
    details: Record<string, unknown>;
  }[]
> {
  return db.withTenant(tenantId, async (tx) =>
    (
      await tx.query<{
        seq: string;
        action: string;
        outcome: string;
        actor_kind: string;
        actor_user_id: string | null;
        subjects: { type: string; id: string }[];
        details: Record<string, unknown>;
      }>(
        `SELECT seq, action, outcome, actor_kind, actor_user_id, subjects, details
           FROM audit_log ORDER BY seq`,
      )
    ).rows.map((r) => ({ ...r, seq: Number(r.seq) })),
  );
}

/** A clock-free day string N days after `day`. */
export function dayPlus(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

export const DAY_MS = 86_400_000;

export function at(clock: Clock): string {
  return clock.now().toISOString().slice(0, 10);
}
