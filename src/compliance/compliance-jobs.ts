/**
 * The program's periodic work, for `scrip serve` (or cron through `scrip evidence daily`): keep
 * every tenant's platform inventory current, run each tenant's BAA check under its own policy,
 * and verify the audit log once a day (45 CFR 164.312(b); the audit-verified control reads the
 * recorded result). Every step is idempotent; a failure in one tenant does not stop the others.
 */
import type { KeyObject } from 'node:crypto';
import { asTenantId, type Clock, type TenantId } from '../core/index.js';
import type { Database } from '../db/index.js';
import type { BaaCheckResult } from './baa-checks.js';
import type { SyncReport } from './platform-inventory.js';
import { recentAuditVerification, verifyAndRecordAuditLog } from './verification-runs.js';
import { SYSTEM_ACTOR, type ComplianceActor } from './versioned-store.js';

export interface ComplianceJobDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly compliance: {
    syncPlatformInventory(tenantId: TenantId, actor: ComplianceActor): Promise<SyncReport>;
    runBaaChecks(tenantId: TenantId): Promise<BaaCheckResult>;
  };
  readonly auditKeys: () => Promise<readonly KeyObject[]>;
  readonly auditOrigin: string;
}

export interface ComplianceJobReport {
  readonly tenants: number;
  readonly alerts: number;
  readonly suspended: number;
  readonly auditVerified: boolean | null;
  readonly failures: number;
}

const VERIFY_EVERY_MS = 20 * 3_600_000;

export async function runComplianceJobs(
  deps: ComplianceJobDeps,
  onError: (err: unknown, tenantId: TenantId | null) => void,
): Promise<ComplianceJobReport> {
  const ids = await deps.db.withoutTenant(async (tx) =>
    (await tx.query<{ id: string }>('SELECT scrip_tenant_ids() AS id')).rows.map((r) =>
      asTenantId(r.id),
    ),
  );
  let alerts = 0;
  let suspended = 0;
  let failures = 0;
  for (const tenantId of ids) {
    try {
      await deps.compliance.syncPlatformInventory(tenantId, SYSTEM_ACTOR);
      const r = await deps.compliance.runBaaChecks(tenantId);
      alerts += r.alerts.length;
      suspended += r.suspended.length;
    } catch (err) {
      failures += 1;
      onError(err, tenantId);
    }
  }
  let auditVerified: boolean | null = null;
  try {
    if ((await recentAuditVerification(deps.db, deps.clock, VERIFY_EVERY_MS)) === undefined) {
      const report = await verifyAndRecordAuditLog(
        deps.db,
        await deps.auditKeys(),
        deps.clock,
        'job',
        { origin: deps.auditOrigin },
      );
      auditVerified = report.ok;
    }
  } catch (err) {
    failures += 1;
    onError(err, null);
  }
  return { tenants: ids.length, alerts, suspended, auditVerified, failures };
}
