/**
 * May this prescriber sign a controlled-substance prescription now? The logical access control
 * of 21 CFR 1311.125 (a granted EPCS permission) over the proofed identity of 1311.105 (a valid,
 * unexpired DEA registration covering the schedule in the state, a valid state licence) and the
 * credential binding of 1311.110/1311.115. Also the expiry check that raises the alerts
 * (audit `identity.proofing.expired` / `identity.proofing.expiring`, watched by monitoring).
 */
import { asTenantId, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { auditAuth } from './auth-audit.js';
import { activeProofing, utcDate } from './proofing.service.js';
import type { DeaSchedule } from './registry-file.js';
import type { StepUpCredential } from './session.service.js';

/** Why signing is refused; every applicable reason is reported. */
export type EligibilityReason =
  | 'no_proofing'
  | 'dea_not_on_proofing'
  | 'dea_expired'
  | 'schedule_not_covered'
  | 'state_mismatch'
  | 'no_licence_in_state'
  | 'licence_expired'
  | 'no_bound_credential'
  | 'no_epcs_permission';

export type Eligibility =
  | { readonly allowed: true; readonly proofingId: string }
  | { readonly allowed: false; readonly reasons: readonly EligibilityReason[] };

export interface SigningContext {
  readonly deaNumber: string;
  readonly schedule: DeaSchedule;
  /** The state the prescription is issued in (the prescriber's practice location). */
  readonly state: string;
  readonly now: Date;
}

/**
 * Checks, in `tx` (running in `tenant`), whether `userId` may sign a prescription of `schedule`
 * with `deaNumber` in `state`. Read-only: the caller audits the attempt (rx.sign.controlled).
 * A DEA registration is valid through its expiry date (UTC).
 */
export async function epcsSigningEligibility(
  tx: Tx,
  tenant: TenantId,
  userId: string,
  ctx: SigningContext,
): Promise<Eligibility> {
  const reasons: EligibilityReason[] = [];
  const permission = await currentEpcsPermission(tx, userId);
  if (!permission.granted) reasons.push('no_epcs_permission');
  const p = await activeProofing(tx, tenant, userId);
  if (p === undefined) return { allowed: false, reasons: ['no_proofing', ...reasons] };
  const today = utcDate(ctx.now);
  const state = ctx.state.toUpperCase();
  const dea = p.dea.find((d) => d.deaNumber === ctx.deaNumber.toUpperCase());
  if (dea === undefined) {
    reasons.push('dea_not_on_proofing');
  } else {
    if (dea.expiresOn < today) reasons.push('dea_expired');
    if (!dea.schedules.includes(ctx.schedule)) reasons.push('schedule_not_covered');
    if (dea.state !== state) reasons.push('state_mismatch');
  }
  const licences = p.licences.filter((l) => l.state === state);
  if (licences.length === 0) reasons.push('no_licence_in_state');
  else if (!licences.some((l) => l.expiresOn >= today)) reasons.push('licence_expired');
  if (!(await hasCurrentBinding(tx, p.id, userId))) reasons.push('no_bound_credential');
  return reasons.length === 0 ? { allowed: true, proofingId: p.id } : { allowed: false, reasons };
}

/**
 * A binding counts while the bound credential is still live: the user's confirmed TOTP (a
 * re-enrolment replaces it, and with it the binding) or an unrevoked passkey. Without
 * `credential`, any live binding suffices (eligibility); with it, only a live binding of exactly
 * that credential counts (the signing step-up, 21 CFR 1311.140(a)(4)/(5), 1311.115/1311.116).
 */
export async function hasCurrentBinding(
  tx: Tx,
  proofingId: string,
  userId: string,
  credential?: StepUpCredential,
): Promise<boolean> {
  const { rows } = await tx.query(
    `SELECT 1 FROM proofing_credential_bindings b
      WHERE b.proofing_id = $1 AND b.user_id = $2
        AND ($3::text IS NULL OR (b.credential_type = $3 AND b.credential_id = $4))
        AND ((b.credential_type = 'totp'
              AND b.credential_id IN (SELECT t.id::text FROM scrip_user_totp($2) t))
          OR (b.credential_type = 'webauthn'
              AND b.credential_id IN (SELECT w.id::text FROM scrip_user_webauthn($2) w)))
      LIMIT 1`,
    [proofingId, userId, credential?.type ?? null, credential?.id ?? null],
  );
  return rows.length > 0;
}

export interface EpcsPermissionState {
  readonly granted: boolean;
  readonly changedAt?: Date;
  readonly requestId?: string;
}

/** The prescriber's current EPCS permission in the transaction's tenant. */
export async function currentEpcsPermission(tx: Tx, userId: string): Promise<EpcsPermissionState> {
  const { rows } = await tx.query<{ granted: boolean; changed_at: Date; request_id: string }>(
    'SELECT granted, changed_at, request_id FROM epcs_permissions WHERE user_id = $1',
    [userId],
  );
  const r = rows[0];
  return r === undefined
    ? { granted: false }
    : { granted: r.granted, changedAt: r.changed_at, requestId: r.request_id };
}

export interface ExpiryFinding {
  readonly tenantId: TenantId;
  readonly userId: string;
  readonly proofingId: string;
  readonly kind: 'dea' | 'licence';
  readonly id: string;
  readonly expiresOn: string;
  readonly state: 'expired' | 'expiring';
  /** True when this run wrote the audit record (each state is reported once per item). */
  readonly reported: boolean;
}

interface ExpiryRow {
  id: string;
  proofing_id: string;
  user_id: string;
  expires_on: string;
  expiring_notified_at: Date | null;
  expired_notified_at: Date | null;
}

/**
 * Finds DEA registrations and licences of active proofings that have expired or expire within
 * `withinDays`, in every tenant (or one), and writes `identity.proofing.expired` (or `.expiring`)
 * once per item and state, in the transaction that marks it reported.
 */
export async function findExpiringCredentials(
  db: Database,
  clock: Clock,
  options: { readonly withinDays: number; readonly tenantId?: TenantId },
): Promise<ExpiryFinding[]> {
  const tenants =
    options.tenantId !== undefined
      ? [options.tenantId]
      : await db.withoutTenant(async (tx) =>
          (await tx.query<{ t: string }>('SELECT scrip_proofing_tenants() AS t')).rows.map((r) =>
            asTenantId(r.t),
          ),
        );
  const now = clock.now();
  const today = utcDate(now);
  const horizon = utcDate(new Date(now.getTime() + options.withinDays * 86_400_000));
  const out: ExpiryFinding[] = [];
  for (const tenantId of tenants) {
    await db.withTenant(tenantId, async (tx) => {
      for (const [kind, table] of [
        ['dea', 'proofing_dea_registrations'],
        ['licence', 'proofing_licences'],
      ] as const) {
        const { rows } = await tx.query<ExpiryRow>(
          `SELECT x.id, x.proofing_id, p.user_id, x.expires_on::text AS expires_on,
                  x.expiring_notified_at, x.expired_notified_at
             FROM ${table} x JOIN identity_proofings p ON p.id = x.proofing_id
            WHERE p.status = 'active' AND x.expires_on <= $1::date
            ORDER BY x.expires_on, x.id FOR UPDATE OF x`,
          [horizon],
        );
        for (const r of rows) {
          const state = r.expires_on < today ? 'expired' : 'expiring';
          const column = state === 'expired' ? 'expired_notified_at' : 'expiring_notified_at';
          const reported =
            (state === 'expired' ? r.expired_notified_at : r.expiring_notified_at) === null;
          if (reported) {
            await tx.query(`UPDATE ${table} SET ${column} = $2 WHERE id = $1`, [r.id, now]);
            await auditAuth(tx, clock, {
              tenantId,
              action:
                state === 'expired' ? 'identity.proofing.expired' : 'identity.proofing.expiring',
              outcome: 'success',
              subjects: [
                { type: 'user', id: r.user_id },
                { type: 'proofing', id: r.proofing_id },
              ],
              details: { kind, expiresOn: r.expires_on },
            });
          }
          out.push({
            tenantId,
            userId: r.user_id,
            proofingId: r.proofing_id,
            kind,
            id: r.id,
            expiresOn: r.expires_on,
            state,
            reported,
          });
        }
      }
    });
  }
  return out;
}
