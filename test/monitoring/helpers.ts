import { randomUUID } from 'node:crypto';
import { ManualClock, type TenantId } from '../../src/core/index.js';
import type { Database } from '../../src/db/index.js';
import { appendAudit, type AuditEvent } from '../../src/audit/index.js';
import {
  listAlerts,
  runDetector,
  runDetectorBatch,
  type Alert,
  type DetectorOptions,
} from '../../src/monitoring/index.js';

/** A detector of its own for one test, scoped to the given tenants, starting at the log head. */
export async function testDetector(
  db: Database,
  clock: ManualClock,
  scope: readonly (string | null)[],
  extra: Omit<DetectorOptions, 'name' | 'scope'> = {},
): Promise<{
  name: string;
  run: (more?: Partial<DetectorOptions>) => ReturnType<typeof runDetector>;
}> {
  const name = `t-${randomUUID()}`;
  const options: DetectorOptions = {
    name,
    startAt: 'head',
    scope: (t) => scope.includes(t),
    ...extra,
  };
  await runDetectorBatch(db, clock, options);
  return { name, run: (more = {}) => runDetector(db, clock, { ...options, ...more }) };
}

/** Appends `event` at the clock's time in the event's tenant context (or none). */
export async function emit(
  db: Database,
  clock: ManualClock,
  event: Omit<AuditEvent, 'outcome'> & { outcome?: AuditEvent['outcome'] },
): Promise<void> {
  const full: AuditEvent = { outcome: 'success', ...event };
  const tenant = full.tenantId;
  await (tenant === null
    ? db.withoutTenant((tx) => appendAudit(tx, full, clock))
    : db.withTenant(tenant, (tx) => appendAudit(tx, full, clock)));
}

export function user(id: string = randomUUID()): AuditEvent['actor'] {
  return { kind: 'user', userId: id };
}

export async function alertsOf(
  db: Database,
  tenant: TenantId | null,
  rule?: string,
): Promise<Alert[]> {
  const all = await listAlerts(db, tenant, { limit: 1000 });
  return rule === undefined ? all : all.filter((a) => a.rule === rule);
}

/** A clock at a distinct time per test, so platform-wide dedup buckets never collide. */
export function uniqueClock(at: string): ManualClock {
  return new ManualClock(new Date(at));
}
