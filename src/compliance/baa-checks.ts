/**
 * The daily BAA check (45 CFR 164.308(b)(1), 164.314(a)): alerts ahead of each agreement's expiry
 * at the policy's lead times, alerts when it has expired, and, when the policy says so, suspends
 * every enabled integration that sends PHI to a vendor without a BAA in force. Each alert is
 * raised once per agreement, expiry date and stage (deduplicated in the alert store), with an
 * audit record; each suspension is a new integration version with its audit record.
 */
import { AppError, cryptoRandom, type Clock, type Random, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { appendAudit } from '../audit/index.js';
import { loadRuleSet, upsertAlert, type Alert } from '../monitoring/index.js';
import { baaCoverage, currentBaasTx, standingOf, today, type Baa } from './baa.service.js';
import { IntegrationGate, listIntegrationsTx, type Integration } from './integration-gate.js';
import { findVendor } from './vendor.service.js';
import {
  currentRow,
  writeVersion,
  SYSTEM_ACTOR,
  type ComplianceActor,
  type VersionRow,
  type VersionedTable,
} from './versioned-store.js';

export interface BaaPolicy {
  /** Lead times in days: one alert when fewer days than each remain (e.g. [30, 7]). */
  readonly warnDays: readonly number[];
  /** Suspend PHI integrations whose vendor has no BAA in force (an expired one, typically). */
  readonly suspendOnExpiry: boolean;
}

export const DEFAULT_BAA_POLICY: BaaPolicy = { warnDays: [30, 7], suspendOnExpiry: true };

export const BAA_POLICIES: VersionedTable = {
  table: 'compliance_baa_policies',
  columns: ['warn_days', 'suspend_on_expiry'],
  subject: 'compliance_baa_policy',
  action: 'compliance.baa_policy',
};

interface PolicyRow extends VersionRow {
  warn_days: number[];
  suspend_on_expiry: boolean;
}

function checkPolicy(policy: BaaPolicy): BaaPolicy {
  const days = [...new Set(policy.warnDays)].sort((a, b) => b - a);
  if (
    days.length < 1 ||
    days.length > 5 ||
    !days.every((d) => Number.isInteger(d) && d > 0 && d <= 365)
  ) {
    throw new AppError('validation_failed', 'warnDays: 1 to 5 whole days in 1..365', {
      detail: 'warnDays',
    });
  }
  return { warnDays: days, suspendOnExpiry: policy.suspendOnExpiry };
}

/** The tenant's BAA policy (the default until one is set). */
export async function loadBaaPolicy(tx: Tx, tenantId: TenantId): Promise<BaaPolicy> {
  const row = await currentRow<PolicyRow>(tx, BAA_POLICIES, tenantId);
  return row === undefined
    ? DEFAULT_BAA_POLICY
    : { warnDays: row.warn_days, suspendOnExpiry: row.suspend_on_expiry };
}

/** Sets the tenant's BAA policy (a new version, audited). */
export async function setBaaPolicy(
  db: Database,
  clock: Clock,
  tenantId: TenantId,
  policy: BaaPolicy,
  actor: ComplianceActor,
): Promise<BaaPolicy> {
  const p = checkPolicy(policy);
  return db.withTenant(tenantId, async (tx) => {
    const prev = await currentRow<PolicyRow>(tx, BAA_POLICIES, tenantId, true);
    await writeVersion(
      tx,
      clock,
      tenantId,
      BAA_POLICIES,
      prev,
      { warn_days: p.warnDays, suspend_on_expiry: p.suspendOnExpiry },
      {
        actor,
        verb: prev === undefined ? 'create' : 'update',
        recordId: tenantId,
        details: { warnDays: p.warnDays.join(','), suspendOnExpiry: p.suspendOnExpiry },
      },
    );
    return p;
  });
}

export interface BaaCheckResult {
  /** Alerts opened by this run (an alert already raised is not raised again). */
  readonly alerts: readonly Alert[];
  readonly suspended: readonly Integration[];
  /** Agreements looked at. */
  readonly checked: number;
}

export interface BaaCheckOptions {
  readonly random?: Random;
  /** Called for each suspension, in its transaction (e.g. to disable an SSO provider). */
  readonly onSuspend?: (tx: Tx, tenantId: TenantId, integration: Integration) => Promise<void>;
}

const DAY_MS = 86_400_000;

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

/** `expired`, `expiring_<n>` for the tightest lead time reached, or undefined. */
function stageOf(baa: Baa, day: string, policy: BaaPolicy): string | undefined {
  if (baa.expiryDate === null) return undefined;
  const left = daysBetween(day, baa.expiryDate);
  if (left < 0) return 'expired';
  const reached = policy.warnDays.filter((d) => left <= d);
  return reached.length === 0 ? undefined : `expiring_${String(Math.min(...reached))}`;
}

/**
 * Runs the BAA check for one tenant on the clock's day (UTC). Safe to run any number of times a
 * day: alerts are raised once per stage, suspensions happen once.
 */
export async function runBaaChecks(
  db: Database,
  tenantId: TenantId,
  clock: Clock,
  policy: BaaPolicy,
  options: BaaCheckOptions = {},
): Promise<BaaCheckResult> {
  const random = options.random ?? cryptoRandom;
  const gate = new IntegrationGate(clock);
  const p = checkPolicy(policy);
  return db.withTenant(tenantId, async (tx) => {
    // One run at a time per tenant (the serve job on every node, and people pressing the button).
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`scrip-baa-check:${tenantId}`]);
    const day = today(clock);
    const rules = await loadRuleSet(tx);
    const alerts: Alert[] = [];
    let checked = 0;
    for (const baa of await currentBaasTx(tx)) {
      if (baa.status !== 'active' || baa.documentSha256 === null) continue;
      const vendor = await findVendor(tx, baa.vendorId);
      if (vendor?.status !== 'active') continue;
      checked += 1;
      // A renewal recorded as a new agreement supersedes the old one's warnings.
      const cover = await baaCoverage(tx, baa.vendorId, day);
      if (cover.baa !== undefined && cover.baa.id !== baa.id && cover.standing === 'in_force') {
        const other = cover.baa;
        if (
          other.expiryDate === null ||
          (baa.expiryDate !== null && other.expiryDate > baa.expiryDate)
        ) {
          continue;
        }
      }
      const stage = stageOf(baa, day, p);
      if (stage === undefined || !rules.baa_expiry.enabled) continue;
      const every = rules.baa_expiry.dedupMinutes;
      const bucket =
        every === 0 ? '' : `:b${String(Math.floor(clock.now().getTime() / (every * 60_000)))}`;
      const dedupKey = `baa_expiry:${baa.id}:${baa.expiryDate ?? '-'}:${stage}${bucket}`;
      const seen = await tx.query('SELECT 1 FROM alerts WHERE dedup_key = $1', [dedupKey]);
      if ((seen.rowCount ?? 0) > 0) continue;
      const expired = stage === 'expired';
      const details = {
        baaId: baa.id,
        vendorId: baa.vendorId,
        vendor: vendor.name.slice(0, 200),
        expiryDate: baa.expiryDate,
        daysLeft: baa.expiryDate === null ? null : daysBetween(day, baa.expiryDate),
        stage,
      };
      const appended = await appendAudit(
        tx,
        {
          tenantId,
          actor: { kind: 'system' },
          action: expired ? 'compliance.baa.expired' : 'compliance.baa.expiring',
          outcome: 'success',
          subjects: [
            { type: 'compliance_baa', id: baa.id },
            { type: 'compliance_vendor', id: baa.vendorId },
          ],
          details,
        },
        clock,
      );
      const { alert, created } = await upsertAlert(
        tx,
        {
          tenantId,
          rule: 'baa_expiry',
          severity: expired ? 'high' : 'medium',
          dedupKey,
          subject: baa.id,
          at: clock.now(),
          seq: appended.seq,
          details,
        },
        random,
      );
      if (created) alerts.push(alert);
    }
    const suspended: Integration[] = [];
    if (p.suspendOnExpiry) {
      for (const i of await listIntegrationsTx(tx)) {
        if (i.status !== 'enabled' || !i.sendsPhi) continue;
        const cover = i.vendorId === null ? undefined : await baaCoverage(tx, i.vendorId, day);
        if (cover?.standing === 'in_force') continue;
        const reason =
          cover?.standing === 'expired'
            ? `baa_expired: the vendor's BAA expired on ${cover.baa?.expiryDate ?? '?'}`
            : `no_active_baa: no BAA in force for the vendor on ${day}`;
        const s = await gate.suspend(tx, tenantId, i.id, reason, SYSTEM_ACTOR);
        await options.onSuspend?.(tx, tenantId, s);
        suspended.push(s);
      }
    }
    return { alerts, suspended, checked };
  });
}

/** Whether a BAA is in force today (for reports). */
export function inForceToday(baa: Baa, clock: Clock): boolean {
  return standingOf(baa, today(clock)) === 'in_force';
}
