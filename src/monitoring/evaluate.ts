/**
 * Pure rule evaluation over parsed audit records (45 CFR 164.308(a)(1)(ii)(D)): single-record
 * rules yield alert candidates directly; windowed rules yield observations that the detector
 * stores and then counts per subject with {@link evaluateWindow}. Candidates carry identifiers,
 * counts and codes only, never PHI.
 */
import type { AuditDetailValue, AuditRecord } from '../audit/index.js';
import {
  ACCESS_REVIEW_ESCALATED,
  AUDIT_EXPORT_FAILED,
  AUDIT_VERIFY_FAILED,
  AUDIT_WITNESS_FAILED,
  AUTH_LOGIN_FAILURE,
  AUTH_RECOVERY_CODE_USED,
  BREAKGLASS_PREFIX,
  COMPLIANCE_BREACH_DEADLINE,
  COMPLIANCE_OVERDUE,
  EPCS_PERMISSION_PREFIX,
  NETWORK_DELIVERY_FAILED,
  PATIENT_ACTION_PREFIX,
  RX_SIGN_CONTROLLED,
  RX_TRANSMIT_FAILED,
  SWITCH_ANSWER_RELAY_FAILED,
  SWITCH_MESSAGE_REJECTED,
  actionMatches,
} from './actions.js';
import { RULE_SEVERITY, type RuleId, type RuleSet, type Severity } from './rules.js';
import { withinHours } from './time-zone.js';

/** Proofing expiry events (emitted by identity's expiry check) alert like other EPCS events. */
const PROOFING_EXPIRY: ReadonlySet<string> = new Set([
  'identity.proofing.expired',
  'identity.proofing.expiring',
]);

/** A rule firing on one record, before deduplication into an alert. */
export interface AlertCandidate {
  readonly tenantId: string | null;
  readonly rule: RuleId;
  readonly severity: Severity;
  /** rule + subject + time bucket: the same condition within a bucket is one alert. */
  readonly dedupKey: string;
  readonly subject: string | null;
  readonly at: Date;
  readonly seq: number;
  readonly details: Readonly<Record<string, AuditDetailValue>>;
}

export type WindowRuleId = 'bulk_lookup' | 'failed_login_account' | 'failed_login_source';
export const WINDOW_RULES: readonly WindowRuleId[] = [
  'bulk_lookup',
  'failed_login_account',
  'failed_login_source',
];

/** One countable item for a windowed rule (a patient touched, a failed sign-in). */
export interface WindowObservation {
  readonly rule: WindowRuleId;
  readonly subject: string;
  readonly item: string;
  readonly at: Date;
  readonly seq: number;
}

function bucketOf(at: Date, minutes: number, seq: number): string {
  return minutes === 0 ? `s${seq}` : `b${Math.floor(at.getTime() / (minutes * 60_000))}`;
}

/**
 * Changes of privilege that always alert (role changes, role catalog, EPCS permission, and the
 * roles an invitation offers and an acceptance confers).
 */
const PRIVILEGE_ACTIONS: ReadonlySet<string> = new Set([
  'user.roles.change',
  'access.roles.approve',
  'epcs.permission.granted',
  'auth.invitation.create',
  'auth.invitation.accept',
]);

function candidate(
  record: AuditRecord,
  rule: RuleId,
  subject: string,
  dedupMinutes: number,
  details: Readonly<Record<string, AuditDetailValue>>,
): AlertCandidate {
  const at = new Date(record.time);
  return {
    tenantId: record.tenantId,
    rule,
    severity: RULE_SEVERITY[rule],
    dedupKey: `${rule}:${subject}:${bucketOf(at, dedupMinutes, record.seq)}`,
    subject,
    at,
    seq: record.seq,
    details,
  };
}

/**
 * The switch gave up on a message: it expired undelivered (no final answer from the recipient
 * before the deadline), or the recipient's answer could not be relayed back to the sender.
 */
function switchGaveUp(record: AuditRecord): boolean {
  return (
    (record.action === SWITCH_MESSAGE_REJECTED && record.details.answerCode === 'expired') ||
    (record.action === SWITCH_ANSWER_RELAY_FAILED && record.details.final === true)
  );
}

/** Candidates of the single-record rules for `record` under `rules`. */
export function evaluateRecord(record: AuditRecord, rules: RuleSet): AlertCandidate[] {
  const out: AlertCandidate[] = [];
  const { action, outcome } = record;
  const user = record.actor.userId;
  const base = { action, outcome, ...(user === null ? {} : { actorUserId: user }) };
  const t = rules.transmission_failure;
  // The outbox worker raises its own (high, per prescription) alert and marks the record.
  const raised = record.details.alertRaised === true;
  if (
    t.enabled &&
    !raised &&
    (action === RX_TRANSMIT_FAILED || action === NETWORK_DELIVERY_FAILED || switchGaveUp(record))
  ) {
    out.push(candidate(record, 'transmission_failure', action, t.dedupMinutes, base));
  }
  const b = rules.break_glass;
  // The access domain raises the break-glass alert itself, in the transaction that opens the
  // session (src/access/break-glass.service.ts), and marks the record: one alert, not two.
  const alerted = record.details.alertRaised === true;
  if (b.enabled && actionMatches(action, BREAKGLASS_PREFIX) && !alerted) {
    out.push(candidate(record, 'break_glass', user ?? action, b.dedupMinutes, base));
  }
  // An expired (or expiring) DEA registration or licence blocks EPCS signing: alert (1311.105).
  const e = rules.epcs_event;
  if (
    e.enabled &&
    (action === RX_SIGN_CONTROLLED ||
      actionMatches(action, EPCS_PERMISSION_PREFIX) ||
      PROOFING_EXPIRY.has(action))
  ) {
    out.push(candidate(record, 'epcs_event', `${action}:${user ?? '-'}`, e.dedupMinutes, base));
  }
  const v = rules.audit_verification_failure;
  if (v.enabled && (action === AUDIT_VERIFY_FAILED || action === AUDIT_WITNESS_FAILED)) {
    out.push(candidate(record, 'audit_verification_failure', action, v.dedupMinutes, base));
  }
  const x = rules.audit_export_failure;
  if (x.enabled && action === AUDIT_EXPORT_FAILED) {
    const code = typeof record.details.code === 'string' ? record.details.code : 'unknown';
    out.push(candidate(record, 'audit_export_failure', `${action}:${code}`, x.dedupMinutes, base));
  }
  const rc = rules.recovery_code_used;
  if (rc.enabled && action === AUTH_RECOVERY_CODE_USED && outcome === 'success') {
    const remaining = record.details.remaining;
    out.push(
      candidate(record, 'recovery_code_used', user ?? action, rc.dedupMinutes, {
        ...base,
        ...(typeof remaining === 'number' ? { remaining } : {}),
      }),
    );
  }
  const pc = rules.privilege_change;
  if (pc.enabled && outcome === 'success' && PRIVILEGE_ACTIONS.has(action)) {
    const subject = record.subjects[0]?.id ?? action;
    out.push(candidate(record, 'privilege_change', subject, pc.dedupMinutes, base));
  }
  const ar = rules.access_review_overdue;
  if (ar.enabled && action === ACCESS_REVIEW_ESCALATED) {
    const campaign = record.subjects.find((x) => x.type === 'access_review')?.id ?? action;
    const unreviewed = record.details.unreviewed;
    out.push(
      candidate(record, 'access_review_overdue', campaign, ar.dedupMinutes, {
        ...base,
        ...(typeof unreviewed === 'number' ? { unreviewed } : {}),
      }),
    );
  }
  // Compliance checks report each overdue item or deadline step once; the subject names it.
  const co = rules.compliance_overdue;
  if (co.enabled && action === COMPLIANCE_OVERDUE) {
    const subject = complianceSubject(record);
    out.push(
      candidate(record, 'compliance_overdue', subject, co.dedupMinutes, complianceDetails(record)),
    );
  }
  const bd = rules.breach_deadline;
  if (bd.enabled && action === COMPLIANCE_BREACH_DEADLINE) {
    const subject = complianceSubject(record);
    out.push(
      candidate(record, 'breach_deadline', subject, bd.dedupMinutes, complianceDetails(record)),
    );
  }
  const o = rules.off_hours_access;
  if (
    o.enabled &&
    user !== null &&
    actionMatches(action, PATIENT_ACTION_PREFIX) &&
    !withinHours(new Date(record.time), o)
  ) {
    out.push(candidate(record, 'off_hours_access', user, o.dedupMinutes, base));
  }
  return out;
}

/** `type:id` of the record's first subject (the overdue item), or the action. */
function complianceSubject(record: AuditRecord): string {
  const s = record.subjects[0];
  return s === undefined ? record.action : `${s.type}:${s.id}`;
}

/** The check's codes and dates (never PHI), with the action, for the alert. */
function complianceDetails(record: AuditRecord): Readonly<Record<string, AuditDetailValue>> {
  return { action: record.action, ...record.details };
}

function stringDetail(record: AuditRecord, key: string): string | null {
  const value = record.details[key];
  return typeof value === 'string' && value !== '' ? value : null;
}

/** Observations of the windowed rules for `record` under `rules`. */
export function observeRecord(record: AuditRecord, rules: RuleSet): WindowObservation[] {
  const out: WindowObservation[] = [];
  const at = new Date(record.time);
  const seq = record.seq;
  const user = record.actor.userId;
  const bulk = rules.bulk_lookup;
  if (bulk.enabled && user !== null && bulk.actions.some((a) => actionMatches(record.action, a))) {
    const patients = new Set(record.subjects.filter((s) => s.type === 'patient').map((s) => s.id));
    for (const id of patients) out.push({ rule: 'bulk_lookup', subject: user, item: id, at, seq });
  }
  if (record.action === AUTH_LOGIN_FAILURE) {
    const account = user ?? stringDetail(record, 'accountKey');
    if (rules.failed_login_account.enabled && account !== null) {
      out.push({ rule: 'failed_login_account', subject: account, item: String(seq), at, seq });
    }
    const ip = record.source.ip;
    if (rules.failed_login_source.enabled && ip !== null) {
      out.push({ rule: 'failed_login_source', subject: ip, item: String(seq), at, seq });
    }
  }
  return out;
}

/** Window length, threshold and "fires at" test of a windowed rule. */
function windowOf(
  rule: WindowRuleId,
  rules: RuleSet,
): { ms: number; fires: (n: number) => boolean } {
  switch (rule) {
    case 'bulk_lookup': {
      const r = rules.bulk_lookup;
      return { ms: r.windowMinutes * 60_000, fires: (n) => n > r.maxDistinctPatients };
    }
    case 'failed_login_account':
    case 'failed_login_source': {
      const r = rules[rule];
      return { ms: r.windowMinutes * 60_000, fires: (n) => n >= r.threshold };
    }
  }
}

/** Window length of `rule` in ms. */
export function windowMs(rule: WindowRuleId, rules: RuleSet): number {
  return windowOf(rule, rules).ms;
}

/**
 * Slides the window of `rule` over `events` (one subject's stored observations, any order) and
 * returns a candidate for each observation in `fresh` (seqs of this batch) at which the number of
 * distinct items in (at − window, at] crosses the rule's threshold.
 */
export function evaluateWindow(
  rule: WindowRuleId,
  rules: RuleSet,
  tenantId: string | null,
  subject: string,
  events: readonly { item: string; at: Date; seq: number }[],
  fresh: ReadonlySet<number>,
): AlertCandidate[] {
  const { ms, fires } = windowOf(rule, rules);
  const sorted = [...events].sort((a, b) => a.at.getTime() - b.at.getTime() || a.seq - b.seq);
  const counts = new Map<string, number>();
  const out: AlertCandidate[] = [];
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    const e = sorted[hi];
    if (e === undefined) break;
    counts.set(e.item, (counts.get(e.item) ?? 0) + 1);
    for (
      let first = sorted[lo];
      first !== undefined && first.at.getTime() <= e.at.getTime() - ms;
      first = sorted[lo]
    ) {
      const left = (counts.get(first.item) ?? 1) - 1;
      if (left === 0) counts.delete(first.item);
      else counts.set(first.item, left);
      lo++;
    }
    // Several items of one record count together: evaluate once, at the record's last item.
    const next = sorted[hi + 1];
    if (next !== undefined && next.seq === e.seq) continue;
    if (!fresh.has(e.seq) || !fires(counts.size)) continue;
    const minutes = ms / 60_000;
    out.push({
      tenantId,
      rule,
      severity: RULE_SEVERITY[rule],
      dedupKey: `${rule}:${subject}:${bucketOf(e.at, minutes, e.seq)}`,
      subject,
      at: e.at,
      seq: e.seq,
      details: {
        [rule === 'bulk_lookup' ? 'distinctPatients' : 'failures']: counts.size,
        windowMinutes: minutes,
      },
    });
  }
  return out;
}
