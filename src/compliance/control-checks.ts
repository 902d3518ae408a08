/**
 * The live checks behind the controls of src/compliance/controls.ts: identity, access, audit and
 * encryption. Each reads the running platform (the tenant's rows under row-level security; the
 * platform's own records outside any tenant; the catalog for triggers and policies) and answers
 * pass or fail with details: counts, ids and codes, never PHI. Infrastructure and program checks
 * are in control-checks-platform.ts.
 */
import type { TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { BUILT_IN_CATALOG, checkRoleCatalog } from '../access/role-catalog.js';
import { loadRuleSet } from '../monitoring/index.js';
import type { ControlId } from './controls.js';
import type { ControlDeps } from './control-ports.js';

export interface CheckOutcome {
  readonly status: 'pass' | 'fail';
  readonly details: string;
}

export type Check = (deps: ControlDeps, tenantId: TenantId) => Promise<CheckOutcome>;

export const pass = (details: string): CheckOutcome => ({ status: 'pass', details });
export const fail = (details: string): CheckOutcome => ({ status: 'fail', details });

/** A few ids, then "and N more": details stay short and free of PHI. */
export function someOf(ids: readonly string[], max = 5): string {
  const shown = ids.slice(0, max).join(', ');
  return ids.length > max ? `${shown} and ${String(ids.length - max)} more` : shown;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export function inTenant<T>(deps: ControlDeps, tenantId: TenantId, fn: (tx: Tx) => Promise<T>) {
  return deps.db.withTenant(tenantId, fn);
}

async function mfaCoverage(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  // The credential tables belong to each user's home tenant; scrip_user_totp/_webauthn answer
  // for members of the current tenant only (0010, 0011).
  const rows = await inTenant(
    deps,
    tenantId,
    async (tx) =>
      (
        await tx.query<{ id: string; mfa: boolean }>(
          `SELECT u.id, (EXISTS (SELECT 1 FROM scrip_user_totp(u.id))
                       OR EXISTS (SELECT 1 FROM scrip_user_webauthn(u.id))) AS mfa
           FROM memberships m JOIN users u ON u.id = m.user_id
          WHERE u.status = 'active' ORDER BY u.id`,
        )
      ).rows,
  );
  const missing = rows.filter((r) => !r.mfa).map((r) => r.id);
  if (missing.length > 0) {
    return fail(
      `${String(missing.length)} of ${String(rows.length)} active members have no second factor: ${someOf(missing)}`,
    );
  }
  return pass(`all ${String(rows.length)} active members have a second factor`);
}

const AUDIT_TRIGGERS = [
  'audit_log_no_change',
  'audit_log_no_truncate',
  'audit_merkle_nodes_no_change',
  'audit_merkle_nodes_no_truncate',
  'audit_checkpoints_no_change',
  'audit_checkpoints_no_truncate',
];

/** Names of the given triggers that are missing or disabled in the public schema. */
export async function missingTriggers(tx: Tx, names: readonly string[]): Promise<string[]> {
  const { rows } = await tx.query<{ tgname: string }>(
    `SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
      WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
        AND t.tgenabled <> 'D' AND t.tgname = ANY($1)`,
    [names],
  );
  const present = new Set(rows.map((r) => r.tgname));
  return names.filter((n) => !present.has(n));
}

async function auditImmutable(deps: ControlDeps): Promise<CheckOutcome> {
  const missing = await deps.db.withoutTenant((tx) => missingTriggers(tx, AUDIT_TRIGGERS));
  return missing.length === 0
    ? pass(
        'UPDATE, DELETE and TRUNCATE are refused on audit_log, audit_merkle_nodes and audit_checkpoints',
      )
    : fail(`append-only triggers missing or disabled: ${missing.join(', ')}`);
}

async function auditVerified(deps: ControlDeps): Promise<CheckOutcome> {
  const row = await deps.db.withoutTenant(
    async (tx) =>
      (
        await tx.query<{
          verified_at: Date;
          ok: boolean;
          records: string;
          problem_kind: string | null;
          source: string;
        }>(
          `SELECT verified_at, ok, records, problem_kind, source FROM compliance_audit_verifications
            ORDER BY verified_at DESC, db_time DESC LIMIT 1`,
        )
      ).rows[0],
  );
  if (row === undefined) return fail('no verification of the audit log is recorded');
  const at = row.verified_at.toISOString();
  if (!row.ok) {
    return fail(
      `the latest verification (${at}, ${row.source}) found a problem: ${row.problem_kind ?? 'unknown'}`,
    );
  }
  const age = deps.clock.now().getTime() - row.verified_at.getTime();
  if (age > 24 * HOUR_MS) {
    return fail(
      `the latest verification is ${String(Math.floor(age / HOUR_MS))} hours old (${at})`,
    );
  }
  return pass(`verified at ${at} by ${row.source}: ${row.records} records`);
}

async function keyAge(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const keys = await inTenant(
    deps,
    tenantId,
    async (tx) =>
      (
        await tx.query<{ version: number; created_at: Date }>(
          `SELECT version, created_at FROM tenant_keys WHERE purpose = 'field' AND status = 'active'`,
        )
      ).rows,
  );
  const key = keys[0];
  if (key === undefined) return pass('no data key yet (no PHI written for this tenant)');
  const days = Math.floor((deps.clock.now().getTime() - key.created_at.getTime()) / DAY_MS);
  const max = deps.settings.keyMaxAgeDays;
  return days > max
    ? fail(
        `data key v${String(key.version)} is ${String(days)} days old (policy ${String(max)}); run scrip keys rotate-dek`,
      )
    : pass(`data key v${String(key.version)} is ${String(days)} days old (policy ${String(max)})`);
}

async function phiEncrypted(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  return inTenant(deps, tenantId, async (tx) => {
    const tables = deps.encryptedTables.map((t) => t.table);
    const { rows: triggered } = await tx.query<{ relname: string }>(
      `SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
         JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE p.proname = 'scrip_check_data_key' AND NOT t.tgisinternal AND t.tgenabled <> 'D'
          AND c.relname = ANY($1)`,
      [tables],
    );
    const guarded = new Set(triggered.map((r) => r.relname));
    const unguarded = tables.filter((t) => !guarded.has(t));
    if (unguarded.length > 0) return fail(`no data-key trigger on: ${unguarded.join(', ')}`);
    let sealed = 0;
    const stale: string[] = [];
    for (const t of deps.encryptedTables) {
      const { rows } = await tx.query<{ n: number; bad: number }>(
        `SELECT count(*)::int AS n,
                count(*) FILTER (WHERE dek_version NOT IN (
                  SELECT k.version FROM tenant_keys k WHERE k.purpose = 'field' AND k.status <> 'destroyed'))::int AS bad
           FROM ${t.table}`,
      );
      sealed += rows[0]?.n ?? 0;
      if ((rows[0]?.bad ?? 0) > 0) stale.push(`${t.table} (${String(rows[0]?.bad ?? 0)})`);
    }
    if (stale.length > 0)
      return fail(`rows under a destroyed or unknown data key: ${stale.join(', ')}`);
    return pass(
      `${String(sealed)} rows in ${String(tables.length)} tables sealed with AES-256-GCM under usable data keys`,
    );
  });
}

function quarterStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), Math.floor(now.getUTCMonth() / 3) * 3, 1));
}

async function accessReview(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const review = await inTenant(deps, tenantId, (tx) =>
    deps.accessReviews.latestCompleted(tx, tenantId),
  );
  if (review === undefined) return fail('no completed review');
  const start = quarterStart(deps.clock.now());
  const at = review.completedAt.toISOString();
  return review.completedAt >= start
    ? pass(`review ${review.id} completed ${at}`)
    : fail(`no completed review this quarter (the last one completed ${at})`);
}

async function sessionTimeouts(deps: ControlDeps): Promise<CheckOutcome> {
  const { sessionIdleMinutes: idle, sessionAbsoluteHours: abs } = deps.settings;
  const text = `idle timeout ${String(idle)} minutes, absolute lifetime ${String(abs)} hours`;
  // NIST SP 800-63B AAL2 reauthentication: 30 minutes of inactivity, 12 hours overall.
  return idle <= 30 && abs <= 12 ? pass(text) : fail(`${text} exceed 30 minutes / 12 hours`);
}

async function uniqueUserIds(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  return inTenant(deps, tenantId, async (tx) => {
    const idx = await tx.query<{ indexdef: string }>(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'users'
          AND indexname = 'users_email_ci'`,
    );
    const def = idx.rows[0]?.indexdef ?? '';
    if (!/UNIQUE/i.test(def) || !/lower\(email\)/i.test(def)) {
      return fail('the case-insensitive unique index on user emails is missing');
    }
    const { rows } = await tx.query<{ members: number; accounts: number }>(
      `SELECT count(*)::int AS members, count(DISTINCT lower(u.email))::int AS accounts
         FROM memberships m JOIN users u ON u.id = m.user_id`,
    );
    const r = rows[0] ?? { members: 0, accounts: 0 };
    return r.members === r.accounts
      ? pass(`${String(r.members)} members, each a distinct account with its own sign-in`)
      : fail(`${String(r.members)} memberships share ${String(r.accounts)} account emails`);
  });
}

async function breakGlassReview(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const cutoff = new Date(deps.clock.now().getTime() - 72 * HOUR_MS);
  const rows = await inTenant(
    deps,
    tenantId,
    async (tx) =>
      (
        await tx.query<{ id: string }>(
          `SELECT id FROM break_glass_sessions
          WHERE review_status = 'open' AND coalesce(ended_at, expires_at) < $1 ORDER BY started_at`,
          [cutoff],
        )
      ).rows,
  );
  return rows.length === 0
    ? pass('every emergency-access session older than 72 hours has been reviewed')
    : fail(
        `${String(rows.length)} break-glass sessions await review past 72 hours: ${someOf(rows.map((r) => r.id))}`,
      );
}

async function tenantIsolation(deps: ControlDeps): Promise<CheckOutcome> {
  const rows = await deps.db.withoutTenant(
    async (tx) =>
      (
        await tx.query<{ relname: string; ok: boolean }>(
          `SELECT c.relname, (c.relrowsecurity AND c.relforcerowsecurity) AS ok
             FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
              AND a.attname = 'tenant_id' AND NOT a.attisdropped ORDER BY c.relname`,
        )
      ).rows,
  );
  const open = rows.filter((r) => !r.ok).map((r) => r.relname);
  return open.length === 0
    ? pass(`row-level security enabled and forced on all ${String(rows.length)} tenant tables`)
    : fail(`row-level security not enforced on: ${someOf(open)}`);
}

async function roleSeparation(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const latest = await inTenant(
    deps,
    tenantId,
    async (tx) =>
      (
        await tx.query<{ version: number; catalog: Record<string, string[]> }>(
          `SELECT version, catalog FROM role_catalog_versions
          WHERE status = 'approved' ORDER BY version DESC LIMIT 1`,
        )
      ).rows[0],
  );
  const catalog = latest?.catalog ?? BUILT_IN_CATALOG;
  const label =
    latest === undefined ? 'built-in role catalog' : `role catalog v${String(latest.version)}`;
  try {
    checkRoleCatalog(catalog);
    return pass(
      `${label} keeps the separations (agents never sign, support sees no PHI, auditors read only)`,
    );
  } catch (err) {
    return fail(`${label} breaks a separation: ${err instanceof Error ? err.message : 'invalid'}`);
  }
}

async function securityOfficer(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const rows = await inTenant(
    deps,
    tenantId,
    async (tx) =>
      (
        await tx.query<{ id: string }>(
          `SELECT u.id FROM memberships m JOIN users u ON u.id = m.user_id
          WHERE u.status = 'active' AND 'security_admin' = ANY (m.roles) ORDER BY u.id`,
        )
      ).rows,
  );
  return rows.length > 0
    ? pass(`security administrators (${String(rows.length)}): ${someOf(rows.map((r) => r.id))}`)
    : fail('no active member holds the security_admin role');
}

async function termination(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const now = deps.clock.now();
  const rows = await inTenant(
    deps,
    tenantId,
    async (tx) =>
      (
        await tx.query<{ user_id: string }>(
          `SELECT DISTINCT s.user_id FROM sessions s JOIN users u ON u.id = s.user_id
          WHERE u.status = 'disabled' AND s.revoked_at IS NULL
            AND s.idle_expires_at > $1 AND s.absolute_expires_at > $1`,
          [now],
        )
      ).rows,
  );
  return rows.length === 0
    ? pass('no disabled account holds a live session')
    : fail(`disabled accounts with live sessions: ${someOf(rows.map((r) => r.user_id))}`);
}

async function loginMonitoring(deps: ControlDeps): Promise<CheckOutcome> {
  // Failed sign-ins are platform events (no tenant yet): the platform's rules decide.
  const rules = await deps.db.withoutTenant((tx) => loadRuleSet(tx));
  const a = rules.failed_login_account;
  const s = rules.failed_login_source;
  if (!a.enabled || !s.enabled) {
    return fail(
      `failed sign-in alerting is off (${[!a.enabled ? 'per account' : '', !s.enabled ? 'per source' : ''].filter((x) => x !== '').join(', ')})`,
    );
  }
  return pass(
    `alerts at ${String(a.threshold)} failures per account and ${String(s.threshold)} per source within ${String(a.windowMinutes)}/${String(s.windowMinutes)} minutes; repeated failures lock out`,
  );
}

async function passwordPolicy(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const rows = await inTenant(
    deps,
    tenantId,
    async (tx) =>
      (
        await tx.query<{ members: number; weak: number }>(
          `SELECT count(*)::int AS members,
                count(*) FILTER (WHERE u.password_hash NOT LIKE '$argon2id$%')::int AS weak
           FROM memberships m JOIN users u ON u.id = m.user_id`,
        )
      ).rows[0],
  );
  const r = rows ?? { members: 0, weak: 0 };
  return r.weak === 0
    ? pass(
        `${String(r.members)} members' passwords are Argon2id hashes; breached and common passwords are refused at set time`,
      )
    : fail(`${String(r.weak)} members have a password hash that is not Argon2id`);
}

async function activityReview(deps: ControlDeps): Promise<CheckOutcome> {
  const row = await deps.db.withoutTenant(
    async (tx) =>
      (
        await tx.query<{ last_seq: string; head: string }>(
          `SELECT c.last_seq, audit_head() AS head FROM monitoring_cursors c WHERE c.detector = 'audit-stream'`,
        )
      ).rows[0],
  );
  if (row === undefined) return fail('the audit-stream detector has never run');
  const lag = Number(row.head) - 1 - Number(row.last_seq);
  return lag <= 5000
    ? pass(`the audit-stream detector is ${String(Math.max(lag, 0))} records behind the log head`)
    : fail(`the audit-stream detector is ${String(lag)} records behind the log head`);
}

export const IDENTITY_CHECKS: Readonly<Partial<Record<ControlId, Check>>> = {
  'mfa-coverage': mfaCoverage,
  'audit-verified': auditVerified,
  'audit-immutable': auditImmutable,
  'key-age': keyAge,
  'phi-encrypted': phiEncrypted,
  'access-review': accessReview,
  'session-timeouts': sessionTimeouts,
  'unique-user-ids': uniqueUserIds,
  'break-glass-review': breakGlassReview,
  'tenant-isolation': tenantIsolation,
  'role-separation': roleSeparation,
  'security-officer': securityOfficer,
  termination,
  'login-monitoring': loginMonitoring,
  'password-policy': passwordPolicy,
  'activity-review': activityReview,
};
