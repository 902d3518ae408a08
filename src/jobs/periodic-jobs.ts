import type { TenantId } from '../core/index.js';
import type { Logger } from '../config/index.js';
import { disableStaleAccounts } from '../access/stale-accounts.js';
import { escalateAllOverdueReviews } from '../access/access-review-evidence.js';
import { applyDueChanges } from '../prescribing/change-control.service.js';
import { runComplianceChecksForAll } from '../compliance/compliance-checks.js';
import type { Platform } from '../platform.js';
import { runScheduledAuditVerification } from './audit-verification.js';

/** One periodic job: a name for the logs and the work; failures are logged, never fatal. */
interface Job {
  readonly name: string;
  readonly everyMs: number;
  run(): Promise<unknown>;
}

async function tenantIds(p: Pick<Platform, 'db'>): Promise<TenantId[]> {
  return p.db.withoutTenant(async (tx) =>
    (await tx.query<{ id: TenantId }>('SELECT scrip_tenant_ids() AS id')).rows.map((r) => r.id),
  );
}

/**
 * The jobs `scrip serve` runs on timers (each safe on several processes at once):
 * - catalog, formulary and routing changes whose effective date has come (every minute);
 * - overdue access-review items escalate (hourly);
 * - accounts unused for SCRIP_STALE_ACCOUNT_DAYS are disabled and reported (daily; 164.308(a)(3));
 * - compliance program checks: overdue items and breach-notice countdowns (hourly);
 * - the monthly controlled-substance logs per prescriber (daily; 21 CFR 1311.120(b)(27));
 * - the audit log verification, whose failure alerts (daily: the first process due runs it, the
 *   others see its record and skip).
 */
export function periodicJobs(p: Platform, staleDays: number): readonly Job[] {
  return [
    {
      name: 'catalog changes due',
      everyMs: 60_000,
      run: async () => {
        for (const t of await tenantIds(p))
          await applyDueChanges(p.db, t, p.clock, p.changeAppliers);
      },
    },
    {
      name: 'access review escalation',
      everyMs: 3_600_000,
      run: () => escalateAllOverdueReviews(p.db, p.clock),
    },
    {
      name: 'stale accounts',
      everyMs: 86_400_000,
      run: async () => {
        for (const t of await tenantIds(p)) await disableStaleAccounts(p.db, t, p.clock, staleDays);
      },
    },
    {
      name: 'compliance checks',
      everyMs: 3_600_000,
      run: () => runComplianceChecksForAll(p.db, p.clock),
    },
    {
      name: 'prescriber monthly logs',
      everyMs: 86_400_000,
      run: () => p.prescriptions.logs.generateMonthlyLogs(),
    },
    {
      name: 'audit verification',
      everyMs: 86_400_000,
      run: () => runScheduledAuditVerification(p),
    },
  ];
}

/** Ten minutes: the earliest any job first runs after start. */
export const FIRST_RUN_DELAY_MS = 10 * 60_000;

/** Starts every job after its first delay and then on its timer; returns the stop function. */
export function startPeriodicJobs(
  jobs: readonly Job[],
  logger: Logger,
  firstRunDelayMs = FIRST_RUN_DELAY_MS,
): () => Promise<void> {
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<unknown>>();
  for (const job of jobs) {
    const tick = (): void => {
      const run = job
        .run()
        .catch((err: unknown) => {
          logger.error({ err, job: job.name }, 'periodic job failed');
        })
        .finally(() => running.delete(run));
      running.add(run);
    };
    // The first run waits (at least FIRST_RUN_DELAY_MS): a process that only lives briefly, or
    // starts beside others on a shared database, does not sweep every tenant at once.
    const first = setTimeout(
      () => {
        tick();
        const timer = setInterval(tick, job.everyMs);
        timer.unref();
        timers.push(timer);
      },
      Math.max(job.everyMs, firstRunDelayMs),
    );
    first.unref();
    timers.push(first);
  }
  return async () => {
    for (const t of timers) clearTimeout(t);
    await Promise.allSettled([...running]);
  };
}
