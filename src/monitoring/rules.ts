/**
 * Alert rules as data (45 CFR 164.308(a)(1)(ii)(D) information system activity review): each
 * rule has defaults here and may be overridden per tenant (or for the platform, tenant NULL) in
 * `monitoring_rules`. Changing a rule is audited (45 CFR 164.312(b)).
 */
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { appendAudit } from '../audit/index.js';
import { PATIENT_READ, PATIENT_SEARCH, RULE_UPDATE } from './actions.js';
import { isTimeZone, parseHourMinute } from './time-zone.js';

export const RULE_IDS = [
  'bulk_lookup',
  'failed_login_account',
  'failed_login_source',
  'transmission_failure',
  'off_hours_access',
  'break_glass',
  'epcs_event',
  'audit_verification_failure',
  'audit_export_failure',
  'recovery_code_used',
  'access_review_overdue',
  'compliance_overdue',
  'breach_deadline',
  'baa_expiry',
  'privilege_change',
] as const;
export type RuleId = (typeof RULE_IDS)[number];
export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';

/** Parameters of every rule (all rules also have `enabled`). */
export interface RuleParams {
  /** One user touching more than `maxDistinctPatients` distinct patients in `windowMinutes`. */
  readonly bulk_lookup: {
    maxDistinctPatients: number;
    windowMinutes: number;
    actions: readonly string[];
  };
  /** At least `threshold` failed sign-ins for one account in `windowMinutes`. */
  readonly failed_login_account: { threshold: number; windowMinutes: number };
  /** At least `threshold` failed sign-ins from one source address in `windowMinutes`. */
  readonly failed_login_source: { threshold: number; windowMinutes: number };
  readonly transmission_failure: { dedupMinutes: number };
  /** PHI access outside `start`–`end` on `days` (0 = Sunday) in the IANA zone `timeZone`. */
  readonly off_hours_access: {
    timeZone: string;
    start: string;
    end: string;
    days: readonly number[];
    dedupMinutes: number;
  };
  readonly break_glass: { dedupMinutes: number };
  readonly epcs_event: { dedupMinutes: number };
  /** The audit verification or the witness check found a problem (one key per action). */
  readonly audit_verification_failure: { dedupMinutes: number };
  /** A segment export run failed or met a different object at a write-once name (per code). */
  readonly audit_export_failure: { dedupMinutes: number };
  /**
   * A recovery code was used to sign in: the user's administrators hear of every use (the
   * identity issue's recovery-code requirement); `dedupMinutes` 0 opens one alert per use.
   */
  readonly recovery_code_used: { dedupMinutes: number };
  /** An access review reached its due date with unreviewed items (escalated once per campaign). */
  readonly access_review_overdue: { dedupMinutes: number };
  /**
   * A compliance-program item is overdue (risk due date, reassessment, policy review,
   * acknowledgement, training). The checks report each condition once, so `dedupMinutes` 0 opens
   * one alert per condition.
   */
  readonly compliance_overdue: { dedupMinutes: number };
  /** A breach notification deadline is near (30/14/7/1 days) or passed (45 CFR 164.404-.410). */
  readonly breach_deadline: { dedupMinutes: number };
  /**
   * A Business Associate Agreement is about to expire or has expired (45 CFR 164.308(b)). Raised
   * by the compliance domain's daily BAA check, not by the audit-stream detector; the lead times
   * are that check's policy. Disabling the rule silences the alerts, never the suspension.
   * `dedupMinutes` 0 raises one alert per agreement and stage; above 0 the same stage alerts
   * again in each new window of that length (a reminder while a BAA stays expired).
   */
  readonly baa_expiry: { dedupMinutes: number };
  /**
   * Someone's privileges changed: roles of a membership, the tenant's role catalog, the EPCS
   * signing permission. Never silent (45 CFR 164.308(a)(4)(ii)(C)); `dedupMinutes` 0 alerts on
   * every change.
   */
  readonly privilege_change: { dedupMinutes: number };
}

export type RuleConfig<R extends RuleId = RuleId> = RuleParams[R] & { readonly enabled: boolean };
/** The effective configuration of every rule for one tenant (or the platform). */
export type RuleSet = { readonly [R in RuleId]: RuleConfig<R> };

export const RULE_SEVERITY: Readonly<Record<RuleId, Severity>> = {
  bulk_lookup: 'high',
  failed_login_account: 'medium',
  failed_login_source: 'high',
  transmission_failure: 'medium',
  off_hours_access: 'low',
  break_glass: 'high',
  epcs_event: 'info',
  audit_verification_failure: 'critical',
  audit_export_failure: 'critical',
  recovery_code_used: 'high',
  access_review_overdue: 'medium',
  compliance_overdue: 'medium',
  breach_deadline: 'high',
  baa_expiry: 'medium',
  privilege_change: 'medium',
};

export const DEFAULT_RULES: RuleSet = {
  bulk_lookup: {
    enabled: true,
    maxDistinctPatients: 50,
    windowMinutes: 10,
    actions: [PATIENT_READ, PATIENT_SEARCH],
  },
  failed_login_account: { enabled: true, threshold: 5, windowMinutes: 15 },
  failed_login_source: { enabled: true, threshold: 20, windowMinutes: 15 },
  transmission_failure: { enabled: true, dedupMinutes: 60 },
  off_hours_access: {
    enabled: true,
    timeZone: 'UTC',
    start: '07:00',
    end: '19:00',
    days: [1, 2, 3, 4, 5],
    dedupMinutes: 60,
  },
  break_glass: { enabled: true, dedupMinutes: 0 },
  epcs_event: { enabled: true, dedupMinutes: 60 },
  audit_verification_failure: { enabled: true, dedupMinutes: 60 },
  audit_export_failure: { enabled: true, dedupMinutes: 60 },
  recovery_code_used: { enabled: true, dedupMinutes: 0 },
  access_review_overdue: { enabled: true, dedupMinutes: 0 },
  compliance_overdue: { enabled: true, dedupMinutes: 0 },
  breach_deadline: { enabled: true, dedupMinutes: 0 },
  baa_expiry: { enabled: true, dedupMinutes: 0 },
  privilege_change: { enabled: true, dedupMinutes: 0 },
};

/** Longest window any rule may use, so window state older than this can be pruned. */
export const MAX_WINDOW_MINUTES = 1440;

type Check = (value: unknown) => boolean;
const int =
  (min: number, max: number): Check =>
  (v) =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
const hhmm: Check = (v) => typeof v === 'string' && /^([01]\d|2[0-3]):[0-5]\d$/.test(v);
const ACTION_RE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\.?$/;
const CHECKS: { readonly [R in RuleId]: Readonly<Record<keyof RuleParams[R], Check>> } = {
  bulk_lookup: {
    maxDistinctPatients: int(1, 100_000),
    windowMinutes: int(1, MAX_WINDOW_MINUTES),
    actions: (v) =>
      Array.isArray(v) &&
      v.length >= 1 &&
      v.length <= 20 &&
      v.every((a) => typeof a === 'string' && a.length <= 100 && ACTION_RE.test(a)),
  },
  failed_login_account: { threshold: int(1, 100_000), windowMinutes: int(1, MAX_WINDOW_MINUTES) },
  failed_login_source: { threshold: int(1, 100_000), windowMinutes: int(1, MAX_WINDOW_MINUTES) },
  transmission_failure: { dedupMinutes: int(0, MAX_WINDOW_MINUTES) },
  off_hours_access: {
    timeZone: (v) => typeof v === 'string' && v.length <= 64 && isTimeZone(v),
    start: hhmm,
    end: hhmm,
    days: (v) =>
      Array.isArray(v) &&
      v.length <= 7 &&
      v.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0 && d <= 6),
    dedupMinutes: int(0, MAX_WINDOW_MINUTES),
  },
  break_glass: { dedupMinutes: int(0, MAX_WINDOW_MINUTES) },
  epcs_event: { dedupMinutes: int(0, MAX_WINDOW_MINUTES) },
  audit_verification_failure: { dedupMinutes: int(0, MAX_WINDOW_MINUTES) },
  audit_export_failure: { dedupMinutes: int(0, MAX_WINDOW_MINUTES) },
  recovery_code_used: { dedupMinutes: int(0, MAX_WINDOW_MINUTES) },
  access_review_overdue: { dedupMinutes: int(0, MAX_WINDOW_MINUTES) },
  compliance_overdue: { dedupMinutes: int(0, MAX_WINDOW_MINUTES) },
  breach_deadline: { dedupMinutes: int(0, MAX_WINDOW_MINUTES) },
  baa_expiry: { dedupMinutes: int(0, 525_600) },
  privilege_change: { dedupMinutes: int(0, MAX_WINDOW_MINUTES) },
};

export function isRuleId(value: string): value is RuleId {
  return (RULE_IDS as readonly string[]).includes(value);
}

/**
 * `params` merged over the defaults of `rule`; an unknown key or a bad value is
 * `AppError('validation_failed')` naming the key.
 */
export function resolveRule<R extends RuleId>(
  rule: R,
  enabled: boolean,
  params: Readonly<Record<string, unknown>>,
): RuleConfig<R> {
  const checks = CHECKS[rule] as Readonly<Record<string, Check>>;
  for (const [key, value] of Object.entries(params)) {
    const check = checks[key];
    if (check === undefined || !check(value)) {
      throw new AppError('validation_failed', `rule ${rule}: bad parameter ${key}`, {
        detail: key,
      });
    }
  }
  const merged = { ...DEFAULT_RULES[rule], ...params, enabled };
  if (
    'start' in merged &&
    'end' in merged &&
    parseHourMinute(merged.start) === parseHourMinute(merged.end)
  ) {
    throw new AppError('validation_failed', 'rule off_hours_access: start equals end', {
      detail: 'end',
    });
  }
  return merged;
}

/**
 * The effective rules of the tenant (or platform, `null`) whose context `tx` is in. A stored row
 * that no longer validates (a rule changed shape) falls back to the defaults, never to "off".
 */
export async function loadRuleSet(tx: Tx): Promise<RuleSet> {
  const { rows } = await tx.query<{ rule: string; enabled: boolean; params: unknown }>(
    'SELECT rule, enabled, params FROM monitoring_rules WHERE tenant_id IS NOT DISTINCT FROM scrip_current_tenant()',
  );
  const set: Record<string, unknown> = { ...DEFAULT_RULES };
  for (const row of rows) {
    if (!isRuleId(row.rule)) continue;
    try {
      set[row.rule] = resolveRule(
        row.rule,
        row.enabled,
        row.params as Readonly<Record<string, unknown>>,
      );
    } catch {
      set[row.rule] = DEFAULT_RULES[row.rule];
    }
  }
  return set as RuleSet;
}

export interface RuleChange {
  readonly enabled?: boolean;
  /** Replaces the stored overrides of this rule (unset keys fall back to the defaults). */
  readonly params?: Readonly<Record<string, unknown>>;
}

/**
 * Stores the configuration of `rule` for `tenantId` (`null`: the platform's own events, such as
 * failed sign-ins) and writes its audit record in the same transaction. Returns the effective rule.
 */
export async function setRuleConfig(
  db: Database,
  tenantId: TenantId | null,
  rule: RuleId,
  change: RuleChange,
  actor: { readonly userId: string },
  clock: Clock,
): Promise<RuleConfig> {
  const run = async (tx: Tx): Promise<RuleConfig> => {
    const { rows } = await tx.query<{ enabled: boolean; params: Record<string, unknown> }>(
      'SELECT enabled, params FROM monitoring_rules WHERE tenant_id IS NOT DISTINCT FROM $1 AND rule = $2',
      [tenantId, rule],
    );
    const enabled = change.enabled ?? rows[0]?.enabled ?? DEFAULT_RULES[rule].enabled;
    const params = change.params ?? rows[0]?.params ?? {};
    const effective = resolveRule(rule, enabled, params);
    await tx.query(
      `INSERT INTO monitoring_rules (tenant_id, rule, enabled, params, updated_by, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (tenant_id, rule) DO UPDATE
         SET enabled = EXCLUDED.enabled, params = EXCLUDED.params,
             updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at`,
      [tenantId, rule, enabled, JSON.stringify(params), actor.userId, clock.now()],
    );
    await appendAudit(
      tx,
      {
        tenantId,
        actor: { kind: 'user', userId: actor.userId },
        action: RULE_UPDATE,
        outcome: 'success',
        details: { rule, enabled },
      },
      clock,
    );
    return effective;
  };
  return tenantId === null ? db.withoutTenant(run) : db.withTenant(tenantId, run);
}
